"""Relay connections with totalCount, built from lending.paging pages."""

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from lending.paging import Page

C = TypeVar("C")


@strawberry.type
class Counted:
    # The count runs only when a client asks for it.
    count_query: strawberry.Private[Any]

    @strawberry.field(description="Rows matching, over all pages.")
    async def total_count(self) -> int:
        return await self.count_query.count()


def connection(cls: Callable[..., C], page: Page[Any], convert: Callable[[Any], Any], count_query: Any) -> C:
    nodes = [convert(item) for item in page.items]
    return cls(
        edges=[relay.Edge(cursor=cursor, node=node) for cursor, node in zip(page.cursors, nodes, strict=True)],
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count_query=count_query,
    )
