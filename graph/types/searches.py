"""Saved searches."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import relay

from graph.context import Info
from graph.permissions import owned_nodes
from graph.types.loans import GenderEnum, LoanStatusEnum, SectorEnum, stars
from lending.filters import LoanFilter
from models import SavedSearch


@strawberry.type(name="SavedLoanFilter", description="A stored LoanFilter, as it was saved.")
class SavedLoanFilter:
    countries: list[str]
    sectors: list[SectorEnum]
    genders: list[GenderEnum]
    risk_rating_min: Decimal | None
    risk_rating_max: Decimal | None
    keywords: list[str]
    statuses: list[LoanStatusEnum]
    max_term_months: int | None

    @classmethod
    def of(cls, f: LoanFilter) -> "SavedLoanFilter":
        return cls(
            countries=list(f.countries),
            sectors=list(f.sectors),
            genders=list(f.genders),
            risk_rating_min=stars(f.risk_min_tenths) if f.risk_min_tenths is not None else None,
            risk_rating_max=stars(f.risk_max_tenths) if f.risk_max_tenths is not None else None,
            keywords=list(f.keywords),
            statuses=list(f.statuses),
            max_term_months=f.max_term_months,
        )


@strawberry.type(name="SavedSearch")
class SavedSearchNode(relay.Node):
    id: relay.NodeID[int]
    name: str
    alert: bool = strawberry.field(description="Notify me of each new listing that matches.")
    filter: SavedLoanFilter
    created_at: datetime

    @classmethod
    def from_model(cls, search: SavedSearch) -> "SavedSearchNode":
        return cls(
            id=search.id,
            name=search.name,
            alert=search.alert,
            filter=SavedLoanFilter.of(LoanFilter.from_json(search.criteria)),
            created_at=search.created_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [cls.from_model(s) if s else None for s in await owned_nodes(SavedSearch, info, node_ids)]
