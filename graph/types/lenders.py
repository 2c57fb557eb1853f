"""Lenders: a public profile, and for the lender alone their money."""

import functools
from collections.abc import Awaitable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, TypeAlias

import strawberry
from strawberry import relay
from tortoise.expressions import Q

from graph.context import Info
from graph.loaders import existing_many, prime_loans, related
from graph.permissions import CanManageTokens, CanReadPortfolio, owned_nodes, private
from graph.strawberry_internals import describe_enum_values
from graph.types.autolend import AutoLendRuleType
from graph.types.connections import AFTER, FIRST, Connection, Counted, connection
from graph.types.events import NotificationNode
from graph.types.loans import LoanNode, loan_by_id
from graph.types.searches import SavedSearchNode
from graph.types.tokens import ApiTokenNode
from lending import portfolio as portfolios
from lending.accounts import balance_cents
from lending.filters import LOAN_LENDERS
from lending.money import to_decimal
from lending.paging import Order, SortKey, check_first, page
from lending.tokens import PORTFOLIO_READ
from models import (
    Account,
    ApiToken,
    AutoLendRule,
    Lender,
    Notification,
    SavedSearch,
    Share,
    Transfer,
    TransferKind,
)

strawberry.enum(  # marks the model's enum (graph/types/loans.py says why)
    TransferKind,
    name="TransactionKind",
    description="What moved money. A lender's transactions are DEPOSIT, WITHDRAWAL, LOAN_SHARE, REFUND and "
    "REPAYMENT; the other kinds move money between a loan, its partner and the world.",
)
describe_enum_values(
    TransferKind,
    {
        "DEPOSIT": "Credit added from outside (deposit).",
        "WITHDRAWAL": "Credit paid out to the lender's bank (withdraw).",
        "LOAN_SHARE": "Credit lent to a loan, by hand (lend) or by the auto-lend rule.",
        "REFUND": "A share given back to credit because its loan expired.",
        "REPAYMENT": "The lender's part of a repayment, after the currency loss they bear.",
        "DISBURSEMENT": "A loan's money paid to its partner when the loan filled.",
        "CURRENCY_LOSS": "The currency loss lenders bear on a repayment, from the partner to the world.",
        "WRITE_OFF": "What was outstanding of a defaulted loan, written off.",
    },
)
TransferKindEnum: TypeAlias = TransferKind
# Each list names its own order, so a cursor of one list is refused by another.
TRANSACTIONS_NEWEST = Order("transactions", (SortKey("id", descending=True),))
NOTIFICATIONS_NEWEST = Order("notifications", (SortKey("id", descending=True),))


@strawberry.type(
    name="Share",
    description="A lender's part of one loan. Only that lender reads it, with the portfolio:read scope; "
    "node(id) answers null to anyone else.",
)
class ShareNode(relay.Node):
    id: relay.NodeID[int]
    created_at: datetime = strawberry.field(description="When the lender first lent to the loan.")
    model: strawberry.Private[Share]

    # The amounts are made when asked for: a page shows one or two of them.
    @strawberry.field(description="Principal lent, in USD: a multiple of 25.00; lending again to the loan grows it.")
    def amount(self) -> Decimal:
        return to_decimal(self.model.amount_cents)

    @strawberry.field(
        description="Principal repaid on this share so far, in USD, currency loss included: the lender was "
        "credited repaidAmount minus currencyLoss."
    )
    def repaid_amount(self) -> Decimal:
        return to_decimal(self.model.repaid_cents)

    @strawberry.field(description="What the lender bore of currency loss on this share's repayments, in USD.")
    def currency_loss(self) -> Decimal:
        return to_decimal(self.model.loss_cents)

    @strawberry.field(graphql_type=LoanNode, description="The loan this share is part of.")
    def loan(self, info: Info) -> LoanNode | Awaitable[LoanNode]:
        return related(self.model, "loan", info.context.loaders.loan, LoanNode.from_model)

    @classmethod
    def from_model(cls, share: Share) -> "ShareNode":
        return cls(
            id=share.id,
            created_at=share.created_at,
            model=share,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [cls.from_model(share) if share else None for share in await owned_nodes(Share, info, node_ids)]


@strawberry.type(
    name="Transaction",
    description="A movement of a lender's credit. Only that lender reads it, with the portfolio:read scope; "
    "node(id) answers null to anyone else.",
)
class TransactionNode(relay.Node):
    id: relay.NodeID[int]
    kind: TransferKindEnum = strawberry.field(description="What moved the credit.")
    amount: Decimal = strawberry.field(
        description='In USD: positive when credit came in, negative ("-25.00") when it went out.'
    )
    created_at: datetime = strawberry.field(description="When the credit moved.")
    loan_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The loan it concerns (LOAN_SHARE, REFUND, REPAYMENT); null for a deposit or withdrawal."
    )
    async def loan(self, info: Info) -> LoanNode | None:
        return await loan_by_id(info, self.loan_id)

    @classmethod
    def from_model(cls, transfer: Transfer, account_id: int) -> "TransactionNode":
        sign = 1 if transfer.destination_id == account_id else -1
        return cls(
            id=transfer.id,
            kind=transfer.kind,
            amount=to_decimal(sign * transfer.amount_cents),
            created_at=transfer.created_at,
            loan_id=transfer.loan_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        ids = [int(i) for i in node_ids]
        reader = info.context.reader(PORTFOLIO_READ)
        if reader is None:
            return [None for _ in ids]
        account = await Account.get(lender_id=reader)
        found = {t.id: t for t in await _transfers_of(account.id).filter(id__in=ids)}
        return [cls.from_model(found[i], account.id) if i in found else None for i in ids]


def _transfers_of(account_id: int):
    return Transfer.filter(Q(source_id=account_id) | Q(destination_id=account_id))


@strawberry.type(name="ShareConnection", description="A page of a lender's shares.")
class ShareConnection(Connection[ShareNode], Counted):
    pass


@strawberry.type(name="TransactionConnection", description="A page of a lender's transactions.")
class TransactionConnection(Connection[TransactionNode], Counted):
    pass


@strawberry.type(name="PortfolioSlice", description="The part of a portfolio in one country, sector or gender.")
class PortfolioSlice:
    key: str = strawberry.field(
        description="The country's ISO 3166-1 alpha-2 code, the Sector name or the Gender name, as the list says."
    )
    loan_count: int = strawberry.field(description="Loans of this slice lent to.")
    lent: Decimal = strawberry.field(description="Principal lent to them, in USD.")
    outstanding: Decimal = strawberry.field(
        description="Principal not yet repaid in those still FUNDRAISING, FUNDED or REPAYING, in USD."
    )

    @classmethod
    def all_of(cls, slices: dict[str, portfolios.Slice]) -> list["PortfolioSlice"]:
        return [
            cls(
                key=s.key,
                loan_count=s.loan_count,
                lent=to_decimal(s.lent_cents),
                outstanding=to_decimal(s.outstanding_cents),
            )
            for s in sorted(slices.values(), key=lambda s: (-s.lent_cents, s.key))
        ]


@strawberry.type(
    name="PortfolioStats",
    description="Totals over a lender's shares as of now, refunded shares of expired loans left out.",
)
class PortfolioStats:
    loan_count: int = strawberry.field(description="Loans lent to.")
    lent: Decimal = strawberry.field(description="Principal lent, in USD.")
    outstanding: Decimal = strawberry.field(
        description="Principal not yet repaid in loans still FUNDRAISING, FUNDED or REPAYING, in USD."
    )
    repaid: Decimal = strawberry.field(description="Credited back to the lender, after currency loss, in USD.")
    currency_loss: Decimal = strawberry.field(description="Currency loss the lender bore on repayments, in USD.")
    defaulted: Decimal = strawberry.field(description="Principal lost in DEFAULTED loans, in USD.")
    default_rate: Decimal = strawberry.field(
        description="Principal lost to default over principal disbursed: a fraction from 0 to 1 with four places."
    )
    arrears_rate: Decimal = strawberry.field(
        description="Principal past due over principal outstanding in FUNDED and REPAYING loans: a fraction from "
        "0 to 1 with four places."
    )
    by_country: list[PortfolioSlice] = strawberry.field(description="Per country, the most lent first (ties by key).")
    by_sector: list[PortfolioSlice] = strawberry.field(description="Per sector, the most lent first (ties by key).")
    by_gender: list[PortfolioSlice] = strawberry.field(description="Per gender, the most lent first (ties by key).")

    @classmethod
    def of(cls, stats: portfolios.PortfolioStats) -> "PortfolioStats":
        return cls(
            loan_count=stats.loan_count,
            lent=to_decimal(stats.lent_cents),
            outstanding=to_decimal(stats.outstanding_cents),
            repaid=to_decimal(stats.repaid_cents),
            currency_loss=to_decimal(stats.currency_loss_cents),
            defaulted=to_decimal(stats.defaulted_cents),
            default_rate=stats.default_rate,
            arrears_rate=stats.arrears_rate,
            by_country=PortfolioSlice.all_of(stats.by_country),
            by_sector=PortfolioSlice.all_of(stats.by_sector),
            by_gender=PortfolioSlice.all_of(stats.by_gender),
        )


@strawberry.type(description="What a lender lent and got back.")
class Portfolio:
    lender_id: strawberry.Private[int]

    @strawberry.field(description="Totals and breakdowns, computed when asked, in one query.")
    async def stats(self, info: Info) -> PortfolioStats:
        return PortfolioStats.of(await portfolios.portfolio_stats(self.lender_id, info.context.now()))

    @strawberry.field(
        description="Shares, newest first, refunded shares of expired loans left out; each share's loan and "
        "partner come with the page, in its one query."
    )
    async def shares(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> ShareConnection:
        found = await portfolios.share_page(self.lender_id, first, after)
        prime_loans(info.context.loaders, lambda: [share.loan for share in found.items])
        return connection(
            ShareConnection, found, ShareNode.from_model, functools.partial(portfolios.share_count, self.lender_id)
        )


@strawberry.type(name="NotificationConnection", description="A page of a lender's notifications.")
class NotificationConnection(Connection[NotificationNode], Counted):
    pass


@strawberry.type(
    name="Lender",
    description="A lender. Anyone may read the public profile (id, displayName, memberSince, loanCount). The "
    "other fields are the lender's own: they answer only the lender, with a token that has the scope named, "
    "and are null (a list field, empty) to anyone else.",
)
class LenderNode(relay.Node):
    id: relay.NodeID[int]
    display_name: str = strawberry.field(description="The name the lender shows, 1 to 100 characters.")
    member_since: datetime = strawberry.field(description="When the lender registered.")
    model: strawberry.Private[Lender]
    # The credit as the mutation answering with this node left it, when the mutation knows it.
    balance_cents: strawberry.Private[int | None] = None

    @strawberry.field(
        description="Loans lent to, refunded ones excluded; counted for every lender of an operation in one query."
    )
    async def loan_count(self, info: Info) -> int:
        return await info.context.loaders.loan_count.load(self.id)

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="The lender's email address, in lower case. The lender's own (portfolio:read).",
    )
    def email(self) -> str | None:
        return self.model.email

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="Credit available to lend or withdraw, in USD. The lender's own (portfolio:read); one query.",
    )
    async def balance(self, info: Info) -> Decimal | None:
        known = self.balance_cents if self.balance_cents is not None else info.context.known_balance(self.id)
        return to_decimal(known if known is not None else await balance_cents(self.id))

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="What the lender lent and got back. The lender's own (portfolio:read).",
    )
    def portfolio(self) -> Portfolio | None:
        return Portfolio(lender_id=self.id)

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="Movements of the lender's credit, newest first. The lender's own (portfolio:read).",
    )
    async def transactions(
        self,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> TransactionConnection | None:
        account = await Account.get(lender_id=self.id)
        query = _transfers_of(account.id)
        result = await page(query, TRANSACTIONS_NEWEST, first, after)
        return connection(
            TransactionConnection, result, lambda t: TransactionNode.from_model(t, account.id), query.count
        )

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="The lender's notifications, newest first. The lender's own (portfolio:read).",
    )
    async def notifications(
        self,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        unread_only: Annotated[bool, strawberry.argument(description="Only those not yet marked read.")] = False,
    ) -> NotificationConnection | None:
        query = Notification.filter(lender_id=self.id)
        if unread_only:
            query = query.filter(read_at=None)
        result = await page(query, NOTIFICATIONS_NEWEST, first, after)
        return connection(NotificationConnection, result, NotificationNode.from_model, query.count)

    @strawberry.field(
        extensions=private(CanManageTokens()),
        description="The lender's API tokens (never their secrets), revoked ones too, newest first. The lender's "
        "own, with a token that has tokens:manage.",
    )
    async def api_tokens(self) -> list[ApiTokenNode] | None:
        return [ApiTokenNode.from_model(t) for t in await ApiToken.filter(lender_id=self.id).order_by("-id")]

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="The lender's auto-lend rule; null when none was set. The lender's own (portfolio:read).",
    )
    async def auto_lend_rule(self) -> AutoLendRuleType | None:
        rule = await AutoLendRule.get_or_none(lender_id=self.id)
        return AutoLendRuleType.from_model(rule) if rule else None

    @strawberry.field(
        extensions=private(CanReadPortfolio()),
        description="The lender's saved searches, by name. The lender's own (portfolio:read).",
    )
    async def saved_searches(self) -> list[SavedSearchNode] | None:
        return [SavedSearchNode.from_model(s) for s in await SavedSearch.filter(lender_id=self.id).order_by("name")]

    @classmethod
    def from_model(cls, lender: Lender, balance_cents: int | None = None) -> "LenderNode":
        return cls(
            id=lender.id,
            display_name=lender.display_name,
            member_since=lender.created_at,
            model=lender,
            balance_cents=balance_cents,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        found = await info.context.loaders.lender.load_many([int(i) for i in node_ids])
        return [cls.from_model(lender) if lender else None for lender in found]


@strawberry.type(name="LenderConnection", description="A page of lenders' public profiles.")
class LenderConnection(Connection[LenderNode], Counted):
    pass


async def lenders_of_loan(info: Info, loan_id: int, first: int | None, after: str | None) -> LenderConnection:
    """The lenders of a loan (public profiles only), in the order they joined it."""
    shares = Share.filter(loan_id=loan_id)
    if after is None:  # the first page: batched with every other loan's in this operation
        result = await info.context.loaders.first_lenders.load((loan_id, check_first(first)))
    else:
        result = await page(shares, LOAN_LENDERS, first, after)
    lenders = await existing_many(info.context.loaders.lender, [share.lender_id for share in result.items])
    nodes = {share.id: LenderNode.from_model(lender) for share, lender in zip(result.items, lenders, strict=True)}
    return connection(LenderConnection, result, lambda share: nodes[share.id], shares.count)
