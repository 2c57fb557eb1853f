"""Live events: loan progress, new listings and a lender's own events."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias, TypedDict

import strawberry
from strawberry import relay

from graph.context import Info
from graph.ids import encode_id
from graph.permissions import owned_nodes
from graph.types.loans import LoanNode, LoanStatusEnum, loan_by_id
from lending.money import to_decimal
from models import EventKind, Loan, Notification, NotificationKind
from subscriptions.hub import Delivery

# strawberry.enum marks the models' enums themselves (graph/types/loans.py says why).
strawberry.enum(EventKind, name="EventKind")
strawberry.enum(NotificationKind, name="NotificationKind")
EventKindEnum: TypeAlias = EventKind
NotificationKindEnum: TypeAlias = NotificationKind
EVENT_ID_DIGITS = 16


def event_id(ident: int) -> str:
    """Event ids are zero-padded so that they sort as strings in event order."""
    return str(ident).zfill(EVENT_ID_DIGITS)


def loan_of(delivery: Delivery) -> Loan:
    """The loan an event of a loan carries (subscriptions.hub.load reads it with the event)."""
    if delivery.loan is None:
        raise ValueError(f"event {delivery.id} ({delivery.event.kind}) carries no loan")
    return delivery.loan


class _Common(TypedDict):
    event_id: str
    occurred_at: datetime


@strawberry.type(name="Notification")
class NotificationNode(relay.Node):
    id: relay.NodeID[int]
    kind: NotificationKindEnum
    message: str
    created_at: datetime
    read_at: datetime | None
    loan_id: strawberry.Private[int | None]

    @strawberry.field
    async def loan(self, info: Info) -> LoanNode | None:
        return await loan_by_id(info, self.loan_id)

    @classmethod
    def from_model(cls, n: Notification) -> "NotificationNode":
        return cls(
            id=n.id, kind=n.kind, message=n.message, created_at=n.created_at, read_at=n.read_at, loan_id=n.loan_id
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [cls.from_model(n) if n else None for n in await owned_nodes(Notification, info, node_ids)]


@strawberry.type
class LoanProgressEvent:
    event_id: str
    occurred_at: datetime
    kind: EventKindEnum
    amount_added: Decimal = strawberry.field(description="The share added by this event; 0.00 for status changes.")
    funded_amount: Decimal
    remaining_amount: Decimal
    lender_count: int
    status: LoanStatusEnum = strawberry.field(description="The loan's status as of this event.")
    loan: LoanNode = strawberry.field(description="The loan as it is now.")

    @classmethod
    def of(cls, delivery: Delivery) -> "LoanProgressEvent":
        state = delivery.event.payload
        return cls(
            event_id=event_id(delivery.id),
            occurred_at=delivery.event.created_at,
            kind=delivery.event.kind,
            amount_added=to_decimal(state["amount_added"]),
            funded_amount=to_decimal(state["funded"]),
            remaining_amount=to_decimal(state["amount"] - state["funded"]),
            lender_count=state["lender_count"],
            status=state["status"],
            loan=LoanNode.from_model(loan_of(delivery)),
        )


@strawberry.type
class LoanListedEvent:
    event_id: str
    occurred_at: datetime
    loan: LoanNode

    @classmethod
    def of(cls, delivery: Delivery) -> "LoanListedEvent":
        return cls(
            event_id=event_id(delivery.id),
            occurred_at=delivery.event.created_at,
            loan=LoanNode.from_model(loan_of(delivery)),
        )


@strawberry.interface(name="LenderEvent")
class LenderEvent:
    event_id: str
    occurred_at: datetime


@strawberry.type
class RepaymentCredited(LenderEvent):
    loan: LoanNode
    amount: Decimal = strawberry.field(description="Credited to you, after currency loss.")
    principal: Decimal
    currency_loss: Decimal


@strawberry.type
class LoanFunded(LenderEvent):
    loan: LoanNode


@strawberry.type
class LoanExpired(LenderEvent):
    loan: LoanNode
    refunded: Decimal = strawberry.field(description="Returned to your credit.")


@strawberry.type
class LoanRepaid(LenderEvent):
    loan: LoanNode


@strawberry.type
class LoanDefaulted(LenderEvent):
    loan: LoanNode


@strawberry.type
class NotificationCreated(LenderEvent):
    notification: NotificationNode


@strawberry.type(description="You marked notifications read (markNotificationsRead), maybe from another client.")
class NotificationsRead(LenderEvent):
    marked: int = strawberry.field(description="How many of them were unread until then.")
    unread_count: int = strawberry.field(description="How many of your notifications were still unread after.")
    notification_ids: list[strawberry.ID] | None = strawberry.field(
        description="The notifications marked read; null when all of them were."
    )


def lender_event(delivery: Delivery) -> LenderEvent:
    """The typed event for one row of a lender's stream."""
    e = delivery.event
    common = _Common(event_id=event_id(e.id), occurred_at=e.created_at)
    if e.kind is EventKind.NOTIFICATION:
        if delivery.notification is None:
            raise ValueError(f"event {e.id} ({e.kind}) carries no notification")
        return NotificationCreated(**common, notification=NotificationNode.from_model(delivery.notification))
    if e.kind is EventKind.NOTIFICATIONS_READ:
        ids = e.payload["ids"]
        return NotificationsRead(
            **common,
            marked=e.payload["marked"],
            unread_count=e.payload["unread"],
            notification_ids=None if ids is None else [strawberry.ID(encode_id("Notification", i)) for i in ids],
        )
    loan = LoanNode.from_model(loan_of(delivery))
    match e.kind:
        case EventKind.REPAYMENT_CREDITED:
            return RepaymentCredited(
                **common,
                loan=loan,
                amount=to_decimal(e.payload["amount"]),
                principal=to_decimal(e.payload["principal"]),
                currency_loss=to_decimal(e.payload["loss"]),
            )
        case EventKind.LOAN_EXPIRED:
            return LoanExpired(**common, loan=loan, refunded=to_decimal(e.payload.get("refunded", 0)))
        case EventKind.LOAN_FUNDED:
            return LoanFunded(**common, loan=loan)
        case EventKind.LOAN_REPAID:
            return LoanRepaid(**common, loan=loan)
        case EventKind.LOAN_DEFAULTED:
            return LoanDefaulted(**common, loan=loan)
    raise ValueError(f"no lender event for {e.kind}")


LENDER_EVENT_TYPES = [
    RepaymentCredited, LoanFunded, LoanExpired, LoanRepaid, LoanDefaulted, NotificationCreated, NotificationsRead
]  # fmt: skip
