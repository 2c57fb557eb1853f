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
    countries: list[str] = strawberry.field(
        description="ISO 3166-1 alpha-2 codes, upper case and sorted; empty for any country."
    )
    sectors: list[SectorEnum] = strawberry.field(description="Sorted; empty for any sector.")
    genders: list[GenderEnum] = strawberry.field(description="Sorted; empty for any gender.")
    risk_rating_min: Decimal | None = strawberry.field(description="The fewest stars, 0.5 to 5.0; null for none.")
    risk_rating_max: Decimal | None = strawberry.field(description="The most stars, 0.5 to 5.0; null for none.")
    keywords: list[str] = strawberry.field(
        description="Trimmed, the letters A-Z in lower case, empty ones dropped; empty for none."
    )
    statuses: list[LoanStatusEnum] = strawberry.field(description="Sorted; empty for any status.")
    max_term_months: int | None = strawberry.field(description="The longest term in months, 1 to 120; null for none.")

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


@strawberry.type(
    name="SavedSearch",
    description="A lender's named loan search. Only that lender reads it, with the portfolio:read scope; "
    "node(id) answers null to anyone else.",
)
class SavedSearchNode(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Unique among the lender's searches, 1 to 100 characters.")
    alert: bool = strawberry.field(
        description="Notify me of each new listing that matches (one notification per listing, however many "
        "of my searches match)."
    )
    filter: SavedLoanFilter = strawberry.field(description="Which loans the search selects.")
    created_at: datetime = strawberry.field(description="When the search was first saved under this name.")

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
