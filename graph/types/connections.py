"""Relay connections with totalCount, built from lending.paging pages."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from lending.paging import DEFAULT_PAGE, MAX_PAGE, Page

C = TypeVar("C")

# The paging arguments of every list (lending.paging), described once.
FIRST = (
    f"How many items to return: 0 to {MAX_PAGE}, {DEFAULT_PAGE} when not given. "
    "Out of range is an error with extensions.code INVALID_INPUT."
)
AFTER = (
    "Return the items after this cursor: an edge's cursor (pageInfo.endCursor) from the same list in the same "
    "order. Null for the first page. A malformed cursor, or one of another list, is an INVALID_INPUT error."
)


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
    nodes = [convert(item) for item in page.items]
    return cls(
        edges=[relay.Edge(cursor=cursor, node=node) for cursor, node in zip(page.cursors, nodes, strict=True)],
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=count,
    )
