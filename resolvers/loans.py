"""Loans: browse and filter them, list them (partners), lend to them, repay them."""

from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.response_cache import OUTBOX_COVERED
from graph.types import errors as e
from graph.types.connections import AFTER, FIRST, connection
from graph.types.errors import IDEMPOTENCY_KEY, returns_user_errors
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
from lending.browse import loan_count, loan_page
from lending.errors import NotFound
from lending.filters import LOAN_ORDERS, LoanSort
from lending.money import to_decimal
from lending.tokens import LEND
from models import CurrencyLossLiability, Lender, Loan, Repayment, Share


@strawberry.type
class LoanQuery:
    @strawberry.field(
        description="Loans matching the filter, in the order asked, a page at a time. Public: no token needed.",
        metadata=OUTBOX_COVERED,
    )
    async def loans(
        self,
        info: Info,
        filter: Annotated[
            LoanFilterInput | None, strawberry.argument(description="Which loans; null for every loan, in any status.")
        ] = None,
        sort: Annotated[LoanSortEnum | None, strawberry.argument(description="The order; null for NEWEST.")] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> LoanConnection:
        loan_filter = filter.to_domain() if filter else None
        # Each loan's partner comes in the page's own query: browsing shows it on every card.
        result, partners = await loan_page(loan_filter, LOAN_ORDERS[sort or LoanSort.NEWEST], first, after)
        info.context.loaders.partner.prime_many({partner.id: partner for partner in partners})
        return connection(LoanConnection, result, LoanNode.from_model, partial(loan_count, loan_filter))

    @strawberry.field(
        description="A loan by its id; null when the id names no loan. Public: no token needed.",
        metadata=OUTBOX_COVERED,
    )
    async def loan(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The loan's global id.")]
    ) -> LoanNode | None:
        try:
            found = await info.context.loaders.loan.load(decode_id(id, "Loan"))
        except NotFound:
            return None
        return LoanNode.from_model(found) if found else None


@strawberry.input(description="What to lend, to which loan.")
class LendInput:
    loan_id: strawberry.ID = strawberry.field(description="The global id of a FUNDRAISING loan.")
    amount: Decimal = strawberry.field(
        description="In USD: a multiple of 25.00, at most what the loan has left and at most the lender's credit."
    )
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.type(description="The credit was lent (for a repeated key and input: had been lent).")
class LendSuccess:
    # The rows as the lend left them when it answered with them (PostgreSQL); else read fresh, when asked for.
    lent: strawberry.Private[funding.Lent]
    lender_id: strawberry.Private[int]

    @strawberry.field(
        description="The loan as the lend left it (FUNDED when it filled); for a repeated key, as it is now."
    )
    async def loan(self) -> LoanNode:
        return LoanNode.from_model(self.lent.loan or await Loan.get(id=self.lent.loan_id))

    @strawberry.field(description="The lender's share of the loan, grown by the amount when they had lent before.")
    async def share(self) -> ShareNode:
        return ShareNode.from_model(self.lent.share or await Share.get(id=self.lent.share_id))

    @strawberry.field(description="The lender, with the balance after the lend.")
    async def lender(self) -> LenderNode:
        lender = self.lent.lender or await Lender.get(id=self.lender_id)
        return LenderNode.from_model(lender, balance_cents=self.lent.balance_cents)


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
    strawberry.union("LendResult", description="lend's answer; on failure no money moved."),
]


@strawberry.input(description="A loan to list.")
class ListLoanInput:
    name: str = strawberry.field(description="The borrower's (or group's) name, 1 to 200 characters.")
    use: str = strawberry.field(description="What the money is for, 1 to 500 characters.")
    country_iso_code: str = strawberry.field(
        description="An ISO 3166-1 alpha-2 code, any case: the partner's own country."
    )
    sector: SectorEnum = strawberry.field(description="What the loan is for.")
    gender: GenderEnum = strawberry.field(description="Who borrows.")
    amount: Decimal = strawberry.field(description="In USD: a multiple of 25.00, up to 50,000.00.")
    term_months: int = strawberry.field(description="Months to repay, 1 to 120.")
    description: str = strawberry.field(
        default="", description="The borrower's story, up to 10,000 characters; newlines and tabs allowed."
    )
    currency: str = strawberry.field(
        default="USD", description="The borrower's currency: an ISO 4217 code of three letters, e.g. KES."
    )
    currency_loss_liability: LiabilityEnum = strawberry.field(
        default=CurrencyLossLiability.NONE, description="Who bears currency loss on repayments."
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="The fundraising deadline, with a timezone, in the next 90 days. Default: 30 days after listing.",
    )
    partner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Admins only, and required of them: the partner's global id. A partner's token lists for its own.",
    )


@strawberry.type(description="The loan was listed.")
class ListLoanSuccess:
    loan: LoanNode = strawberry.field(
        description="The new loan, FUNDRAISING, after auto-lend rules had their turn at it."
    )


ListLoanResult = Annotated[
    ListLoanSuccess | e.InvalidAmount | e.InvalidInput | e.Forbidden | e.NotFound,
    strawberry.union("ListLoanResult", description="listLoan's answer; on failure nothing is listed."),
]


@strawberry.input(description="A repayment of a loan's principal.")
class PostRepaymentInput:
    loan_id: strawberry.ID = strawberry.field(description="The global id of the partner's FUNDED or REPAYING loan.")
    amount: Decimal = strawberry.field(
        description="Principal repaid, in USD: more than 0.00, at most what is left to repay."
    )
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    currency_loss: Decimal | None = strawberry.field(
        default=None,
        description="USD lost to exchange rates on this repayment, borne as the loan's liability says: at most "
        "amount; null or 0.00 for none.",
    )


@strawberry.type(description="The repayment was credited to the loan's lenders.")
class PostRepaymentSuccess:
    loan: LoanNode = strawberry.field(
        description="The loan after the repayment: REPAYING, or REPAID once all its principal is back."
    )
    amount: Decimal = strawberry.field(description="The principal repaid, in USD.")
    lenders_credited: Decimal = strawberry.field(
        description="What lenders received, after their currency loss, in USD."
    )


PostRepaymentResult = Annotated[
    PostRepaymentSuccess
    | e.InvalidAmount
    | e.ExceedsRemaining
    | e.LoanNotRepaying
    | e.NotFound
    | e.Forbidden
    | e.IdempotencyConflict
    | e.InvalidInput,
    strawberry.union("PostRepaymentResult", description="postRepayment's answer; on failure no money moved."),
]


@strawberry.input(description="The loan to declare defaulted.")
class MarkDefaultInput:
    loan_id: strawberry.ID = strawberry.field(description="The global id of a FUNDED or REPAYING loan.")


@strawberry.type(description="The loan was declared defaulted.")
class MarkDefaultSuccess:
    loan: LoanNode = strawberry.field(description="The loan, now DEFAULTED.")


MarkDefaultResult = Annotated[
    MarkDefaultSuccess | e.LoanNotRepaying | e.NotFound | e.Forbidden | e.InvalidInput,
    strawberry.union("MarkDefaultResult", description="markDefault's answer; on failure nothing changed."),
]


@strawberry.type
class LoanMutation:
    @strawberry.mutation(
        description="Lend credit to a fundraising loan; lending again to it grows the share. Needs a lender token "
        "with the lend scope; counts against the LENDER_MONEY rate limit.",
        extensions=requires(IsLender(LEND)),
    )
    @returns_user_errors
    async def lend(
        self, info: Info, input: Annotated[LendInput, strawberry.argument(description="What to lend.")]
    ) -> LendResult:
        lender_id = info.context.require_lender()
        lent = await funding.lend(
            lender_id, decode_id(input.loan_id, "Loan"), input.amount, input.idempotency_key, info.context.now()
        )
        if lent.loan is not None:  # share { loan } then reads nothing either
            info.context.loaders.loan.prime(lent.loan_id, lent.loan, force=True)
        return LendSuccess(lent=lent, lender_id=lender_id)

    @strawberry.mutation(
        description="Partners (and admins, naming the partner): list a loan for fundraising. Saved searches alert "
        "on it and auto-lend rules may lend to it at once."
    )
    @returns_user_errors
    async def list_loan(
        self, info: Info, input: Annotated[ListLoanInput, strawberry.argument(description="The loan to list.")]
    ) -> ListLoanResult:
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

    @strawberry.mutation(
        description="Partners (and admins): pay back principal of the partner's loan; it is split among the "
        "lenders pro rata to their shares, exact to the cent."
    )
    @returns_user_errors
    async def post_repayment(
        self, info: Info, input: Annotated[PostRepaymentInput, strawberry.argument(description="The repayment.")]
    ) -> PostRepaymentResult:
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

    @strawberry.mutation(
        description="Partners (and admins): declare one of the partner's FUNDED or REPAYING loans defaulted; what "
        "is outstanding is written off."
    )
    @returns_user_errors
    async def mark_default(
        self, info: Info, input: Annotated[MarkDefaultInput, strawberry.argument(description="The loan.")]
    ) -> MarkDefaultResult:
        loan = await loans.mark_default(info.context.viewer, decode_id(input.loan_id, "Loan"), info.context.now())
        return MarkDefaultSuccess(loan=LoanNode.from_model(loan))
