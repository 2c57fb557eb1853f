"""Loans, partners and the loan filter."""

from collections.abc import Awaitable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry import relay

from graph.context import Info
from graph.loaders import existing, then
from graph.types.connections import Counted
from lending import schedule
from lending.countries import country_name
from lending.filters import LoanFilter, LoanSort
from lending.money import to_decimal
from models import Allocation, CurrencyLossLiability, Gender, Loan, LoanStatus, Partner, Sector

if TYPE_CHECKING:
    from graph.types.autolend import AllocationType
    from graph.types.lenders import LenderConnection

# strawberry.enum marks the models' enums themselves as GraphQL enums (and returns them): the
# aliases name them as the schema does, and are types to mypy.
strawberry.enum(Sector, name="Sector")
strawberry.enum(Gender, name="Gender")
strawberry.enum(LoanStatus, name="LoanStatus")
strawberry.enum(CurrencyLossLiability, name="CurrencyLossLiability")
strawberry.enum(LoanSort, name="LoanSort")
SectorEnum: TypeAlias = Sector
GenderEnum: TypeAlias = Gender
LoanStatusEnum: TypeAlias = LoanStatus
LiabilityEnum: TypeAlias = CurrencyLossLiability
LoanSortEnum: TypeAlias = LoanSort


def stars(tenths: int) -> Decimal:
    return Decimal(tenths) / 10


@strawberry.type
class Country:
    iso_code: str
    name: str

    @classmethod
    def of(cls, code: str) -> "Country":
        return cls(iso_code=code, name=country_name(code))


@strawberry.type(name="Partner", description="A field partner: lists loans and collects repayments.")
class PartnerNode(relay.Node):
    id: relay.NodeID[int]
    name: str
    risk_rating: Decimal = strawberry.field(description="0.5 to 5.0 stars; more stars, less risk.")
    country_code: strawberry.Private[str]

    @strawberry.field
    def country(self) -> Country:
        return Country.of(self.country_code)

    @strawberry.field(description="Principal lost to default over principal disbursed.")
    async def default_rate(self, info: Info) -> Decimal:
        return (await info.context.loaders.partner_record.load(self.id)).default_rate

    @strawberry.field(description="Principal past due over principal outstanding.")
    async def arrears_rate(self, info: Info) -> Decimal:
        return (await info.context.loaders.partner_record.load(self.id)).arrears_rate

    @strawberry.field
    async def loan_count(self, info: Info) -> int:
        return (await info.context.loaders.partner_record.load(self.id)).loan_count

    @classmethod
    def from_model(cls, partner: Partner) -> "PartnerNode":
        return cls(
            id=partner.id, name=partner.name, risk_rating=stars(partner.risk_tenths), country_code=partner.country_code
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        found = await info.context.loaders.partner.load_many([int(i) for i in node_ids])
        return [cls.from_model(p) if p else None for p in found]


@strawberry.type
class Instalment:
    number: int
    due_date: date
    amount: Decimal
    paid_amount: Decimal


@strawberry.type(name="Loan")
class LoanNode(relay.Node):
    id: relay.NodeID[int]
    name: str
    use: str
    description: str
    sector: SectorEnum
    gender: GenderEnum
    status: LoanStatusEnum
    amount: Decimal
    funded_amount: Decimal
    remaining_amount: Decimal
    repaid_amount: Decimal
    lender_count: int
    term_months: int
    currency: str
    currency_loss_liability: LiabilityEnum
    listed_at: datetime
    expires_at: datetime
    funded_at: datetime | None
    model: strawberry.Private[Loan]

    @strawberry.field
    def country(self) -> Country:
        return Country.of(self.model.country_code)

    @strawberry.field(graphql_type=PartnerNode)
    def partner(self, info: Info) -> PartnerNode | Awaitable[PartnerNode]:
        return then(info.context.loaders.partner, self.model.partner_id, PartnerNode.from_model)

    @strawberry.field(graphql_type=Decimal, description="The partner's risk rating, in stars.")
    def risk_rating(self, info: Info) -> Decimal | Awaitable[Decimal]:
        return then(info.context.loaders.partner, self.model.partner_id, lambda partner: stars(partner.risk_tenths))

    @strawberry.field(description="Monthly instalments from the month after funding.")
    def schedule(self) -> list[Instalment]:
        m = self.model
        return [
            Instalment(
                number=i.number, due_date=i.due, amount=to_decimal(i.amount_cents), paid_amount=to_decimal(i.paid_cents)
            )
            for i in schedule.instalments(m.amount_cents, m.term_months, m.funded_at, m.repaid_cents)
        ]

    @strawberry.field(description="Days the oldest unpaid instalment is overdue; 0 when up to date.")
    def days_past_due(self, info: Info) -> int:
        m = self.model
        if m.status not in (LoanStatus.FUNDED, LoanStatus.REPAYING):
            return 0
        return schedule.days_past_due(m.amount_cents, m.term_months, m.funded_at, m.repaid_cents, info.context.now())

    @strawberry.field(description="The public profiles of the loan's lenders, earliest first.")
    async def lenders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Annotated["LenderConnection", strawberry.lazy("graph.types.lenders")]:
        from graph.types.lenders import lenders_of_loan

        return await lenders_of_loan(info, self.model.id, first, after)

    @strawberry.field(description="What auto-lend rules lent to this loan and why, oldest first.")
    async def allocations(self) -> list[Annotated["AllocationType", strawberry.lazy("graph.types.autolend")]]:
        from graph.types.autolend import AllocationType

        return [AllocationType.from_model(a) for a in await Allocation.filter(loan_id=self.model.id).order_by("id")]

    @classmethod
    def from_model(cls, loan: Loan) -> "LoanNode":
        return cls(
            id=loan.id,
            name=loan.name,
            use=loan.use,
            description=loan.description,
            sector=loan.sector,
            gender=loan.gender,
            status=loan.status,
            amount=to_decimal(loan.amount_cents),
            funded_amount=to_decimal(loan.funded_cents),
            remaining_amount=to_decimal(loan.amount_cents - loan.funded_cents),
            repaid_amount=to_decimal(loan.repaid_cents),
            lender_count=loan.lender_count,
            term_months=loan.term_months,
            currency=loan.currency,
            currency_loss_liability=loan.currency_loss_liability,
            listed_at=loan.listed_at,
            expires_at=loan.expires_at,
            funded_at=loan.funded_at,
            model=loan,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        found = await info.context.loaders.loan.load_many([int(i) for i in node_ids])
        return [cls.from_model(loan) if loan else None for loan in found]


async def loan_by_id(info: Info, loan_id: int | None) -> LoanNode | None:
    """The loan an object refers to, if any, through the operation's loader."""
    if loan_id is None:
        return None
    return LoanNode.from_model(await existing(info.context.loaders.loan, loan_id))


@strawberry.type(name="LoanConnection")
class LoanConnection(relay.Connection[LoanNode], Counted):
    pass


@strawberry.type(name="PartnerConnection")
class PartnerConnection(relay.Connection[PartnerNode], Counted):
    pass


@strawberry.input(
    name="LoanFilter", description="Every field narrows the selection; list fields match any of their values."
)
class LoanFilterInput:
    countries: list[str] | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 codes.")
    sectors: list[SectorEnum] | None = None
    genders: list[GenderEnum] | None = None
    risk_rating_min: Decimal | None = None
    risk_rating_max: Decimal | None = None
    keywords: list[str] | None = strawberry.field(
        default=None, description="Every keyword must appear in the loan's name, use or description."
    )
    statuses: list[LoanStatusEnum] | None = None
    max_term_months: int | None = None

    def to_domain(self) -> LoanFilter:
        return LoanFilter.build(
            countries=self.countries,
            sectors=self.sectors,
            genders=self.genders,
            risk_rating_min=self.risk_rating_min,
            risk_rating_max=self.risk_rating_max,
            keywords=self.keywords,
            statuses=self.statuses,
            max_term_months=self.max_term_months,
        )
