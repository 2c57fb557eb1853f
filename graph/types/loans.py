"""Loans, partners and the loan filter."""

from collections.abc import Awaitable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry import relay

from graph.context import Info
from graph.loaders import existing, related
from graph.response_cache import CLOCK_DEPENDENT
from graph.strawberry_internals import describe_enum_values
from graph.types.connections import AFTER, FIRST, Connection, Counted
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
strawberry.enum(Sector, name="Sector", description="What a loan is for: Kiva's fifteen sectors.")
strawberry.enum(Gender, name="Gender", description="Who borrows: one borrower's gender, or a group of several.")
strawberry.enum(LoanStatus, name="LoanStatus", description="Where a loan is in its lifecycle.")
strawberry.enum(
    CurrencyLossLiability,
    name="CurrencyLossLiability",
    description="Who bears currency loss: what a repayment loses to exchange rates (PostRepaymentInput.currencyLoss).",
)
strawberry.enum(
    LoanSort, name="LoanSort", description="The order of the loans query; ties go by id, in the same direction."
)
describe_enum_values(
    Sector,
    {
        "AGRICULTURE": "Farming, livestock and fishing.",
        "ARTS": "Crafts, music and other arts.",
        "CLOTHING": "Making or selling clothes and shoes.",
        "CONSTRUCTION": "Building and building materials.",
        "EDUCATION": "School fees, training and supplies.",
        "ENTERTAINMENT": "Events, games and entertainment businesses.",
        "FOOD": "Producing, cooking or selling food.",
        "HEALTH": "Medical care and health businesses.",
        "HOUSING": "Building, repairing or improving a home.",
        "MANUFACTURING": "Making goods.",
        "PERSONAL_USE": "A household's own needs, not a business.",
        "RETAIL": "Running a shop.",
        "SERVICES": "Selling a service.",
        "TRANSPORTATION": "Moving people or goods.",
        "WHOLESALE": "Selling in bulk to other businesses.",
    },
)
describe_enum_values(
    Gender,
    {
        "FEMALE": "One borrower, a woman.",
        "MALE": "One borrower, a man.",
        "NONBINARY": "One borrower, nonbinary.",
        "MIXED_GROUP": "A group of borrowers of more than one gender.",
    },
)
describe_enum_values(
    LoanStatus,
    {
        "FUNDRAISING": "Listed: lenders may lend until it is fully funded or its expiresAt passes.",
        "FUNDED": "Fully funded and disbursed to the partner; nothing repaid yet.",
        "REPAYING": "Part of its principal repaid.",
        "REPAID": "All of its principal repaid. Final.",
        "DEFAULTED": "Declared defaulted after funding; what was outstanding is written off. Final.",
        "EXPIRED": "Not fully funded by expiresAt; every share was refunded to its lender's credit. Final.",
    },
)
describe_enum_values(
    CurrencyLossLiability,
    {
        "NONE": "The partner bears all currency loss; lenders get the whole repayment.",
        "SHARED": "The partner bears currency loss up to 10% of each repayment; lenders bear the rest.",
        "LENDER": "Lenders bear all currency loss, each pro rata to their share.",
    },
)
describe_enum_values(
    LoanSort,
    {
        "NEWEST": "The most recently listed first (listedAt). The default.",
        "EXPIRING_SOON": "The earliest expiresAt first.",
        "AMOUNT_LEFT": "The least left to raise (remainingAmount) first.",
        "LOAN_AMOUNT": "The smallest amount first.",
        "LOAN_AMOUNT_DESC": "The largest amount first.",
    },
)
SectorEnum: TypeAlias = Sector
GenderEnum: TypeAlias = Gender
LoanStatusEnum: TypeAlias = LoanStatus
LiabilityEnum: TypeAlias = CurrencyLossLiability
LoanSortEnum: TypeAlias = LoanSort


def stars(tenths: int) -> Decimal:
    return Decimal(tenths) / 10


@strawberry.type(description="A country where loans are listed.")
class Country:
    iso_code: str = strawberry.field(description="Its ISO 3166-1 alpha-2 code, in upper case, e.g. KE.")
    name: str = strawberry.field(description="Its English name, e.g. Kenya.")

    @classmethod
    def of(cls, code: str) -> "Country":
        return cls(iso_code=code, name=country_name(code))


@strawberry.type(
    name="Partner",
    description="A field partner: lists loans in its country, disburses them and collects their repayments. "
    "Public: anyone may read it.",
)
class PartnerNode(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The partner's name, 1 to 200 characters.")
    risk_rating: Decimal = strawberry.field(
        description='0.5 to 5.0 stars in half stars, e.g. "4.5" or "5"; more stars, less risk.'
    )
    country_code: strawberry.Private[str]

    @strawberry.field(description="The country the partner lists all of its loans in.")
    def country(self) -> Country:
        return Country.of(self.country_code)

    @strawberry.field(
        description="Principal lost to default over principal disbursed, over all its loans: a fraction from "
        '0 to 1 with four places, e.g. "0.0125"; "0.0000" before any loan is disbursed. The track record '
        "fields of every partner an operation shows are read in one query."
    )
    async def default_rate(self, info: Info) -> Decimal:
        return (await info.context.loaders.partner_record.load(self.id)).default_rate

    @strawberry.field(
        description="Principal past due (instalments after their due date) over principal outstanding, in its "
        'FUNDED and REPAYING loans: a fraction from 0 to 1 with four places; "0.0000" when nothing is outstanding.',
        metadata=CLOCK_DEPENDENT,
    )
    async def arrears_rate(self, info: Info) -> Decimal:
        return (await info.context.loaders.partner_record.load(self.id)).arrears_rate

    @strawberry.field(description="Loans the partner has listed, in any status.")
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


@strawberry.type(description="One monthly instalment of a loan's repayment schedule.")
class Instalment:
    number: int = strawberry.field(description="1 to the loan's termMonths, in due order.")
    due_date: date = strawberry.field(
        description="Due on this day: the day of the month of fundedAt (UTC), or the month's last day if shorter. "
        "Late from the day after."
    )
    amount: Decimal = strawberry.field(
        description="Principal due, in USD: the amount split equally, the last instalment taking the odd cents."
    )
    paid_amount: Decimal = strawberry.field(
        description="Paid of it so far, in USD, from 0.00 to amount: repayments pay instalments in order."
    )


@strawberry.type(
    name="Loan",
    description="A loan to a borrower, listed by a field partner and funded by lenders in shares, multiples of "
    "25.00. Public: anyone may read it, without a token.",
)
class LoanNode(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The borrower's (or group's) name, 1 to 200 characters.")
    use: str = strawberry.field(description="What the money is for, 1 to 500 characters.")
    description: str = strawberry.field(
        description="The borrower's story, up to 10,000 characters, newlines and tabs kept; empty when none."
    )
    sector: SectorEnum = strawberry.field(description="What the loan is for.")
    gender: GenderEnum = strawberry.field(description="Who borrows.")
    status: LoanStatusEnum = strawberry.field(description="Where the loan is in its lifecycle, as of this read.")

    # The amounts are made when asked for: a page shows one or two of them.
    @strawberry.field(
        description="What the loan raises and the borrower repays, in USD: a multiple of 25.00, at most 50,000.00."
    )
    def amount(self) -> Decimal:
        return to_decimal(self.model.amount_cents)

    @strawberry.field(
        description="Lent so far, in USD; equals amount from FUNDED on. An EXPIRED loan keeps what it had raised, "
        "though that was refunded."
    )
    def funded_amount(self) -> Decimal:
        return to_decimal(self.model.funded_cents)

    @strawberry.field(description="amount minus fundedAmount, in USD: what may still be lent while FUNDRAISING.")
    def remaining_amount(self) -> Decimal:
        return to_decimal(self.model.amount_cents - self.model.funded_cents)

    @strawberry.field(description="Principal the partner has repaid so far, in USD, before any currency loss.")
    def repaid_amount(self) -> Decimal:
        return to_decimal(self.model.repaid_cents)

    lender_count: int = strawberry.field(
        description="Lenders with a share, each counted once however often they lent (refunded shares included)."
    )
    term_months: int = strawberry.field(description="Months to repay, 1 to 120: the number of monthly instalments.")
    currency: str = strawberry.field(
        description="The ISO 4217 code of the borrower's currency, e.g. KES. Amounts are still in USD: "
        "what exchange rates take from a repayment is currency loss."
    )
    currency_loss_liability: LiabilityEnum = strawberry.field(
        description="Who bears currency loss on the loan's repayments."
    )
    listed_at: datetime = strawberry.field(description="When the partner listed the loan.")
    expires_at: datetime = strawberry.field(
        description="The fundraising deadline: a loan not fully funded by then turns EXPIRED and its lenders are "
        "refunded. In the 90 days after listing; 30 days after it unless the partner chose."
    )
    funded_at: datetime | None = strawberry.field(
        description="When the last share filled the loan; null until then, and for a loan that expired."
    )
    model: strawberry.Private[Loan]

    @strawberry.field(description="Where the borrower lives: the partner's country.")
    def country(self) -> Country:
        return Country.of(self.model.country_code)

    @strawberry.field(graphql_type=PartnerNode, description="The field partner that listed the loan.")
    def partner(self, info: Info) -> PartnerNode | Awaitable[PartnerNode]:
        return related(self.model, "partner", info.context.loaders.partner, PartnerNode.from_model)

    @strawberry.field(graphql_type=Decimal, description="The partner's risk rating: 0.5 to 5.0 stars in half stars.")
    def risk_rating(self, info: Info) -> Decimal | Awaitable[Decimal]:
        return related(self.model, "partner", info.context.loaders.partner, lambda partner: stars(partner.risk_tenths))

    @strawberry.field(
        description="Monthly instalments, the first a month after fundedAt, termMonths of them; empty until funded."
    )
    def schedule(self) -> list[Instalment]:
        m = self.model
        return [
            Instalment(
                number=i.number, due_date=i.due, amount=to_decimal(i.amount_cents), paid_amount=to_decimal(i.paid_cents)
            )
            for i in schedule.instalments(m.amount_cents, m.term_months, m.funded_at, m.repaid_cents)
        ]

    @strawberry.field(
        description="Days the oldest unpaid instalment is overdue; 0 when up to date, and for a loan not FUNDED "
        "or REPAYING.",
        metadata=CLOCK_DEPENDENT,
    )
    def days_past_due(self, info: Info) -> int:
        m = self.model
        if m.status not in (LoanStatus.FUNDED, LoanStatus.REPAYING):
            return 0
        return schedule.days_past_due(m.amount_cents, m.term_months, m.funded_at, m.repaid_cents, info.context.now())

    @strawberry.field(
        description="The public profiles of the loan's lenders, in the order they first lent. The first pages of "
        "every loan an operation shows are read in one query."
    )
    async def lenders(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Annotated["LenderConnection", strawberry.lazy("graph.types.lenders")]:
        from graph.types.lenders import lenders_of_loan

        return await lenders_of_loan(info, self.model.id, first, after)

    @strawberry.field(
        description="What auto-lend rules lent to this loan and why, oldest first; one query per loan shown."
    )
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


@strawberry.type(name="LoanConnection", description="A page of loans.")
class LoanConnection(Connection[LoanNode], Counted):
    pass


@strawberry.type(name="PartnerConnection", description="A page of field partners.")
class PartnerConnection(Connection[PartnerNode], Counted):
    pass


@strawberry.input(
    name="LoanFilter",
    description="Which loans: every field given narrows the selection; list fields match any of their values; "
    "a field null or empty sets no condition. It means the same in loans, loanListed, saved searches and "
    "auto-lend rules. A value out of range is refused (INVALID_INPUT).",
)
class LoanFilterInput:
    countries: list[str] | None = strawberry.field(
        default=None, description="The loan's country is one of these ISO 3166-1 alpha-2 codes (any case)."
    )
    sectors: list[SectorEnum] | None = strawberry.field(default=None, description="The loan's sector is one of these.")
    genders: list[GenderEnum] | None = strawberry.field(default=None, description="Who borrows is one of these.")
    risk_rating_min: Decimal | None = strawberry.field(
        default=None, description="The partner has at least this many stars: 0.5 to 5.0 in half stars."
    )
    risk_rating_max: Decimal | None = strawberry.field(
        default=None,
        description="The partner has at most this many stars: 0.5 to 5.0 in half stars, not below the min.",
    )
    keywords: list[str] | None = strawberry.field(
        default=None,
        description="Up to 10 of up to 50 characters. Every keyword must appear inside the loan's name, use or "
        "description; the letters A-Z match either case, every other character only as written.",
    )
    statuses: list[LoanStatusEnum] | None = strawberry.field(
        default=None, description="The loan's status is one of these (for loanListed: its status when listed)."
    )
    max_term_months: int | None = strawberry.field(default=None, description="termMonths is at most this: 1 to 120.")

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
