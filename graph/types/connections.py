"""Relay connections with totalCount, built from lending.paging pages.

The connection and edge types are relay's (the same names, fields and descriptions in the schema), but
an edge's cursor is made when a client asks for it: a page of 100 rows made 100 cursors that most
reads (a portfolio, a loan list) never show.
"""

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import relay

from lending.paging import DEFAULT_PAGE, MAX_PAGE, Page

C = TypeVar("C")
NodeType = TypeVar("NodeType")

# The paging arguments of every list (lending.paging), described once.
FIRST = (
    f"How many items to return: 0 to {MAX_PAGE}, {DEFAULT_PAGE} when not given. "
    "Out of range is an error with extensions.code INVALID_INPUT."
)
AFTER = (
    "Return the items after this cursor: an edge's cursor (pageInfo.endCursor) from the same list in the same "
    "order. Null for the first page. A malformed cursor, or one of another list, is an INVALID_INPUT error."
)


@strawberry.type(description="An edge in a connection.")
class Edge(Generic[NodeType]):
    def _cursor(self) -> str:
        return self.page.cursor(self.index)

    cursor: str = strawberry.field(resolver=_cursor, description="A cursor for use in pagination")
    node: NodeType = strawberry.field(description="The item at the end of the edge")
    page: strawberry.Private[Page[Any]]
    index: strawberry.Private[int]


@strawberry.type(description="A connection to a list of items.")
class Connection(Generic[NodeType]):
    page_info: relay.PageInfo = strawberry.field(description="Pagination data for this connection")
    edges: list[Edge[NodeType]] = strawberry.field(description="Contains the nodes in this connection")


@strawberry.type
class Counted:
    # The count runs only when a client asks for it.
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Items matching, over all pages: one COUNT query, run only when asked for.")
    async def total_count(self) -> int:
        return await self.count()


def connection(
    cls: Callable[..., C], page: Page[Any], convert: Callable[[Any], Any], count: Callable[[], Awaitable[int]]
) -> C:
    """The connection type `cls` of a page, its nodes converted, `count()` its items over all pages."""
    items = page.items
    return cls(
        edges=[Edge(page=page, index=index, node=convert(item)) for index, item in enumerate(items)],
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursor(0) if items else None,
            end_cursor=page.cursor(-1) if items else None,
        ),
        count=count,
    )
