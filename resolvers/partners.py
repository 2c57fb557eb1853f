"""Field partners and their public track record."""

import strawberry

from graph.types.connections import connection
from graph.types.loans import PartnerConnection, PartnerNode
from lending.paging import Order, SortKey, page
from models import Partner

OLDEST_FIRST = Order("partners", (SortKey("id"),))


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="Field partners, oldest first.")
    async def partners(self, first: int | None = None, after: str | None = None) -> PartnerConnection:
        query = Partner.all()
        return connection(
            PartnerConnection, await page(query, OLDEST_FIRST, first, after), PartnerNode.from_model, query
        )
