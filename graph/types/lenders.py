"""Lenders: a public profile, and for the lender alone their money."""

from collections.abc import Awaitable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, TypeAlias

import strawberry
from strawberry import relay
from tortoise.expressions import Q

from graph.context import Info
from graph.loaders import existing_many, prime_loans, then
from graph.permissions import CanManageTokens, CanReadPortfolio, owned_nodes, private
from graph.types.autolend import AutoLendRuleType
from graph.types.connections import Counted, connection
from graph.types.events import NotificationNode
from graph.types.loans import LoanNode, loan_by_id
from graph.types.searches import SavedSearchNode
from graph.types.tokens import ApiTokenNode
from lending import portfolio as portfolios
from lending.filters import LOAN_LENDERS
from lending.money import to_decimal
from lending.paging import Order, SortKey, check_first, page
from lending.tokens import PORTFOLIO_READ
from models import (
    Account,
    ApiToken,
    AutoLendRule,
    Lender,
    LoanStatus,
    Notification,
    SavedSearch,
    Share,
    Transfer,
    TransferKind,
)

strawberry.enum(TransferKind, name="TransactionKind")  # marks the model's enum (graph/types/loans.py says why)
TransferKindEnum: TypeAlias = TransferKind
# Each list names its own order, so a cursor of one list is refused by another.
SHARES_NEWEST = Order("shares", (SortKey("id", descending=True),))
TRANSACTIONS_NEWEST = Order("transactions", (SortKey("id", descending=True),))
NOTIFICATIONS_NEWEST = Order("notifications", (SortKey("id", descending=True),))


@strawberry.type(name="Share", description="A lender's part of one loan.")
class ShareNode(relay.Node):
    id: relay.NodeID[int]
    amount: Decimal
    repaid_amount: Decimal = strawberry.field(description="Principal repaid on this share, currency loss included.")
    currency_loss: Decimal
    created_at: datetime
    loan_id: strawberry.Private[int]

    @strawberry.field(graphql_type=LoanNode)
    def loan(self, info: Info) -> LoanNode | Awaitable[LoanNode]:
        return then(info.context.loaders.loan, self.loan_id, LoanNode.from_model)

    @classmethod
    def from_model(cls, share: Share) -> "ShareNode":
        return cls(
            id=share.id,
            amount=to_decimal(share.amount_cents),
            repaid_amount=to_decimal(share.repaid_cents),
            currency_loss=to_decimal(share.loss_cents),
            created_at=share.created_at,
            loan_id=share.loan_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [cls.from_model(share) if share else None for share in await owned_nodes(Share, info, node_ids)]


@strawberry.type(name="Transaction", description="A movement of the lender's credit.")
class TransactionNode(relay.Node):
    id: relay.NodeID[int]
    kind: TransferKindEnum
    amount: Decimal = strawberry.field(description="Positive when credit came in, negative when it went out.")
    created_at: datetime
    loan_id: strawberry.Private[int | None]

    @strawberry.field
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


@strawberry.type(name="ShareConnection")
class ShareConnection(relay.Connection[ShareNode], Counted):
    pass


@strawberry.type(name="TransactionConnection")
class TransactionConnection(relay.Connection[TransactionNode], Counted):
    pass


@strawberry.type(name="PortfolioSlice", description="The part of a portfolio in one country, sector or gender.")
class PortfolioSlice:
    key: str
    loan_count: int
    lent: Decimal
    outstanding: Decimal

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


@strawberry.type(name="PortfolioStats")
class PortfolioStats:
    loan_count: int
    lent: Decimal
    outstanding: Decimal
    repaid: Decimal = strawberry.field(description="Credited back to the lender, after currency loss.")
    currency_loss: Decimal
    defaulted: Decimal
    default_rate: Decimal = strawberry.field(description="Principal lost to default over principal disbursed.")
    arrears_rate: Decimal = strawberry.field(description="Principal past due over principal outstanding.")
    by_country: list[PortfolioSlice]
    by_sector: list[PortfolioSlice]
    by_gender: list[PortfolioSlice]

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


@strawberry.type
class Portfolio:
    lender_id: strawberry.Private[int]

    @strawberry.field
    async def stats(self, info: Info) -> PortfolioStats:
        return PortfolioStats.of(await portfolios.portfolio_stats(self.lender_id, info.context.now()))

    @strawberry.field(description="Shares, newest first.")
    async def shares(self, info: Info, first: int | None = None, after: str | None = None) -> ShareConnection:
        # Refunded shares of expired loans are not part of the portfolio, as in its stats.
        query = Share.filter(lender_id=self.lender_id).exclude(loan__status=LoanStatus.EXPIRED)
        # A portfolio page shows each share's loan and partner: they come in the page's own query.
        found = await page(query.select_related("loan__partner"), SHARES_NEWEST, first, after)
        prime_loans(info.context.loaders, [share.loan for share in found.items])
        return connection(ShareConnection, found, ShareNode.from_model, query)


@strawberry.type(name="NotificationConnection")
class NotificationConnection(relay.Connection[NotificationNode], Counted):
    pass


@strawberry.type(name="Lender")
class LenderNode(relay.Node):
    id: relay.NodeID[int]
    display_name: str
    member_since: datetime
    model: strawberry.Private[Lender]

    @strawberry.field(description="Loans lent to, refunded ones excluded.")
    async def loan_count(self, info: Info) -> int:
        return await info.context.loaders.loan_count.load(self.id)

    @strawberry.field(extensions=private(CanReadPortfolio()))
    def email(self) -> str | None:
        return self.model.email

    @strawberry.field(extensions=private(CanReadPortfolio()), description="Credit available to lend or withdraw.")
    async def balance(self) -> Decimal | None:
        return to_decimal((await Account.get(lender_id=self.id)).balance_cents)

    @strawberry.field(extensions=private(CanReadPortfolio()))
    def portfolio(self) -> Portfolio | None:
        return Portfolio(lender_id=self.id)

    @strawberry.field(extensions=private(CanReadPortfolio()), description="Movements of credit, newest first.")
    async def transactions(self, first: int | None = None, after: str | None = None) -> TransactionConnection | None:
        account = await Account.get(lender_id=self.id)
        query = _transfers_of(account.id)
        result = await page(query, TRANSACTIONS_NEWEST, first, after)
        return connection(TransactionConnection, result, lambda t: TransactionNode.from_model(t, account.id), query)

    @strawberry.field(extensions=private(CanReadPortfolio()), description="Notifications, newest first.")
    async def notifications(
        self,
        first: int | None = None,
        after: str | None = None,
        unread_only: Annotated[bool, strawberry.argument(description="Only those not yet marked read.")] = False,
    ) -> NotificationConnection | None:
        query = Notification.filter(lender_id=self.id)
        if unread_only:
            query = query.filter(read_at=None)
        result = await page(query, NOTIFICATIONS_NEWEST, first, after)
        return connection(NotificationConnection, result, NotificationNode.from_model, query)

    @strawberry.field(
        extensions=private(CanManageTokens()),
        description="Your API tokens (never their secrets), newest first.",
    )
    async def api_tokens(self) -> list[ApiTokenNode] | None:
        return [ApiTokenNode.from_model(t) for t in await ApiToken.filter(lender_id=self.id).order_by("-id")]

    @strawberry.field(extensions=private(CanReadPortfolio()))
    async def auto_lend_rule(self) -> AutoLendRuleType | None:
        rule = await AutoLendRule.get_or_none(lender_id=self.id)
        return AutoLendRuleType.from_model(rule) if rule else None

    @strawberry.field(extensions=private(CanReadPortfolio()))
    async def saved_searches(self) -> list[SavedSearchNode] | None:
        return [SavedSearchNode.from_model(s) for s in await SavedSearch.filter(lender_id=self.id).order_by("name")]

    @classmethod
    def from_model(cls, lender: Lender) -> "LenderNode":
        return cls(id=lender.id, display_name=lender.display_name, member_since=lender.created_at, model=lender)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        found = await info.context.loaders.lender.load_many([int(i) for i in node_ids])
        return [cls.from_model(lender) if lender else None for lender in found]


@strawberry.type(name="LenderConnection")
class LenderConnection(relay.Connection[LenderNode], Counted):
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
    return connection(LenderConnection, result, lambda share: nodes[share.id], shares)
