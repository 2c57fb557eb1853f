"""Loans: browse and filter them, list them (partners), lend to them, repay them."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.loaders import prime_partners
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.connections import connection
from graph.types.errors import returns_user_errors
from graph.types.lenders import LenderNode, ShareNode
from graph.types.loans import (
    GenderEnum,
    LiabilityEnum,
    LoanConnection,
    LoanFilterInput,
    LoanNode,
    LoanSortEnum,
    SectorEnum,
)
from lending import funding, loans, repayments
from lending.errors import NotFound
from lending.filters import LOAN_ORDERS, LoanSort, loan_query
from lending.money import to_decimal
from lending.paging import page
from lending.tokens import LEND
from models import CurrencyLossLiability, Lender, Loan, Repayment, Share


@strawberry.type
class LoanQuery:
    @strawberry.field(description="Loans matching a filter, in pages of up to 100.")
    async def loans(
        self,
        info: Info,
        filter: LoanFilterInput | None = None,
        sort: LoanSortEnum | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> LoanConnection:
        query = loan_query(filter.to_domain() if filter else None)
        # Each loan's partner comes in the page's own query: browsing shows it on every card.
        result = await page(query.select_related("partner"), LOAN_ORDERS[sort or LoanSort.NEWEST], first, after)
        prime_partners(info.context.loaders, result.items)
        return connection(LoanConnection, result, LoanNode.from_model, query)

    @strawberry.field
    async def loan(self, info: Info, id: strawberry.ID) -> LoanNode | None:
        try:
            found = await info.context.loaders.loan.load(decode_id(id, "Loan"))
        except NotFound:
            return None
        return LoanNode.from_model(found) if found else None


@strawberry.input
class LendInput:
    loan_id: strawberry.ID
    amount: Decimal = strawberry.field(description="A multiple of 25.00.")
    idempotency_key: str


@strawberry.type
class LendSuccess:
    # The rows as the lend left them when it answered with them (PostgreSQL); else read fresh, when asked for.
    lent: strawberry.Private[funding.Lent]
    lender_id: strawberry.Private[int]

    @strawberry.field
    async def loan(self) -> LoanNode:
        return LoanNode.from_model(self.lent.loan or await Loan.get(id=self.lent.loan_id))

    @strawberry.field
    async def share(self) -> ShareNode:
        return ShareNode.from_model(self.lent.share or await Share.get(id=self.lent.share_id))

    @strawberry.field
    async def lender(self) -> LenderNode:
        return LenderNode.from_model(self.lent.lender or await Lender.get(id=self.lender_id))


LendResult = Annotated[
    LendSuccess
    | e.InsufficientCredit
    | e.LoanNotFundraising
    | e.InvalidAmount
    | e.ExceedsRemaining
    | e.NotFound
    | e.Forbidden
    | e.IdempotencyConflict
    | e.InvalidInput,
    strawberry.union("LendResult"),
]


@strawberry.input
class ListLoanInput:
    name: str
    use: str
    country_iso_code: str
    sector: SectorEnum
    gender: GenderEnum
    amount: Decimal = strawberry.field(description="A multiple of 25.00, up to 50,000.00.")
    term_months: int
    description: str = ""
    currency: str = "USD"
    currency_loss_liability: LiabilityEnum = CurrencyLossLiability.NONE
    expires_at: datetime | None = strawberry.field(default=None, description="Default: 30 days after listing.")
    partner_id: strawberry.ID | None = strawberry.field(default=None, description="Admins only: the partner.")


@strawberry.type
class ListLoanSuccess:
    loan: LoanNode


ListLoanResult = Annotated[
    ListLoanSuccess | e.InvalidAmount | e.InvalidInput | e.Forbidden | e.NotFound,
    strawberry.union("ListLoanResult"),
]


@strawberry.input
class PostRepaymentInput:
    loan_id: strawberry.ID
    amount: Decimal
    idempotency_key: str
    currency_loss: Decimal | None = strawberry.field(
        default=None, description="USD lost to exchange rates on this repayment, borne as the loan's liability says."
    )


@strawberry.type
class PostRepaymentSuccess:
    loan: LoanNode
    amount: Decimal
    lenders_credited: Decimal = strawberry.field(description="What lenders received, after their currency loss.")


PostRepaymentResult = Annotated[
    PostRepaymentSuccess
    | e.InvalidAmount
    | e.ExceedsRemaining
    | e.LoanNotRepaying
    | e.NotFound
    | e.Forbidden
    | e.IdempotencyConflict
    | e.InvalidInput,
    strawberry.union("PostRepaymentResult"),
]


@strawberry.input
class MarkDefaultInput:
    loan_id: strawberry.ID


@strawberry.type
class MarkDefaultSuccess:
    loan: LoanNode


MarkDefaultResult = Annotated[
    MarkDefaultSuccess | e.LoanNotRepaying | e.NotFound | e.Forbidden | e.InvalidInput,
    strawberry.union("MarkDefaultResult"),
]


@strawberry.type
class LoanMutation:
    @strawberry.mutation(description="Lend credit to a fundraising loan.", extensions=requires(IsLender(LEND)))
    @returns_user_errors
    async def lend(self, info: Info, input: LendInput) -> LendResult:
        lender_id = info.context.require_lender()
        lent = await funding.lend(
            lender_id, decode_id(input.loan_id, "Loan"), input.amount, input.idempotency_key, info.context.now()
        )
        if lent.loan is not None:  # share { loan } then reads nothing either
            info.context.loaders.loan.prime(lent.loan_id, lent.loan, force=True)
        return LendSuccess(lent=lent, lender_id=lender_id)

    @strawberry.mutation(description="Partners: list a loan for fundraising.")
    @returns_user_errors
    async def list_loan(self, info: Info, input: ListLoanInput) -> ListLoanResult:
        partner_id = decode_id(input.partner_id, "Partner") if input.partner_id else None
        partner = await loans.acting_partner(info.context.viewer, partner_id)
        listing = loans.Listing(
            name=input.name,
            use=input.use,
            description=input.description,
            country=input.country_iso_code,
            sector=input.sector,
            gender=input.gender,
            amount=input.amount,
            term_months=input.term_months,
            currency=input.currency,
            currency_loss_liability=input.currency_loss_liability,
            expires_at=input.expires_at,
        )
        return ListLoanSuccess(loan=LoanNode.from_model(await loans.list_loan(partner, listing, info.context.now())))

    @strawberry.mutation(description="Partners: pay back principal; it is split among the lenders.")
    @returns_user_errors
    async def post_repayment(self, info: Info, input: PostRepaymentInput) -> PostRepaymentResult:
        repayment_id = await repayments.post_repayment(
            info.context.viewer,
            decode_id(input.loan_id, "Loan"),
            input.amount,
            input.currency_loss,
            input.idempotency_key,
            info.context.now(),
        )
        repayment = await Repayment.get(id=repayment_id).prefetch_related("loan")
        return PostRepaymentSuccess(
            loan=LoanNode.from_model(repayment.loan),
            amount=to_decimal(repayment.amount_cents),
            lenders_credited=to_decimal(repayment.amount_cents - repayment.lender_loss_cents),
        )

    @strawberry.mutation(description="Partners and admins: declare a loan defaulted.")
    @returns_user_errors
    async def mark_default(self, info: Info, input: MarkDefaultInput) -> MarkDefaultResult:
        loan = await loans.mark_default(info.context.viewer, decode_id(input.loan_id, "Loan"), info.context.now())
        return MarkDefaultSuccess(loan=LoanNode.from_model(loan))
