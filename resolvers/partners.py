"""Field partners and their public track record."""

from typing import Annotated

import strawberry

from graph.types.connections import AFTER, FIRST, connection
from graph.types.loans import PartnerConnection, PartnerNode
from lending.paging import Order, SortKey, page
from models import Partner

OLDEST_FIRST = Order("partners", (SortKey("id"),))


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="Field partners, oldest first. Public: no token needed.")
    async def partners(
        self,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> PartnerConnection:
        query = Partner.all()
        return connection(
            PartnerConnection, await page(query, OLDEST_FIRST, first, after), PartnerNode.from_model, query.count
        )
