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
from graph.strawberry_internals import describe_enum_values
from graph.types.loans import LoanNode, LoanStatusEnum, loan_by_id
from lending.money import to_decimal
from models import EventKind, Loan, Notification, NotificationKind
from subscriptions.hub import Delivery

# strawberry.enum marks the models' enums themselves (graph/types/loans.py says why).
strawberry.enum(EventKind, name="EventKind", description="What an event records.")
strawberry.enum(NotificationKind, name="NotificationKind", description="What a notification is about.")
_NO_STREAM = "Internal: on no subscriber's stream."
describe_enum_values(
    EventKind,
    {
        "LOAN_LISTED": "The loan was listed.",
        "SHARE_ADDED": "A lender lent to the loan, by hand or by an auto-lend rule.",
        "LOAN_FUNDED": "The loan filled and its money went to the partner.",
        "LOAN_REPAYING": "The loan's first repayment arrived.",
        "LOAN_EXPIRED": "The loan expired before it filled; its lenders were refunded.",
        "LOAN_REPAID": "The loan was repaid in full.",
        "LOAN_DEFAULTED": "The loan was declared defaulted.",
        "REPAYMENT_CREDITED": "A lender was credited their part of a repayment.",
        "NOTIFICATION": "A lender got a notification.",
        "TOKEN_REVOKED": f"A token was revoked. {_NO_STREAM}",
        "NOTIFICATIONS_READ": "A lender marked notifications read.",
        "SEARCH_SAVED": f"A saved search was saved. {_NO_STREAM}",
        "SEARCH_DELETED": f"A saved search was deleted. {_NO_STREAM}",
        "RULE_SET": f"An auto-lend rule was set. {_NO_STREAM}",
    },
)
describe_enum_values(
    NotificationKind,
    {
        "SAVED_SEARCH_MATCH": "A new listing matched one of the lender's saved searches that alert.",
        "AUTO_LOAN": "The lender's auto-lend rule lent to a loan.",
    },
)
EventKindEnum: TypeAlias = EventKind
NotificationKindEnum: TypeAlias = NotificationKind
EVENT_ID_DIGITS = 16
EVENT_ID = (
    f"The event's id: {EVENT_ID_DIGITS} digits that sort, as strings, in the order of the stream's events. "
    "Pass the last one received as `after` to resume the stream without loss or repetition."
)
OCCURRED_AT = "When the change the event records happened."
LOAN_NOW = "The loan as it is when the event is sent."


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


@strawberry.type(
    name="Notification",
    description="A message for a lender: a saved-search alert, or a loan their auto-lend rule lent to. Only that "
    "lender reads it, with the portfolio:read scope; node(id) answers null to anyone else.",
)
class NotificationNode(relay.Node):
    id: relay.NodeID[int]
    kind: NotificationKindEnum = strawberry.field(description="What the notification is about.")
    message: str = strawberry.field(description="What happened, in English, for people; its wording may change.")
    created_at: datetime = strawberry.field(description="When it was created.")
    read_at: datetime | None = strawberry.field(
        description="When it was first marked read (markNotificationsRead); null while unread."
    )
    loan_id: strawberry.Private[int | None]

    @strawberry.field(description="The loan it is about; null when it names none.")
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


@strawberry.type(
    description="One change of a loan (loanProgress): its listing, a share added, or a change of status, with "
    "the loan's figures as of that event."
)
class LoanProgressEvent:
    event_id: str = strawberry.field(description=EVENT_ID)
    occurred_at: datetime = strawberry.field(description=OCCURRED_AT)
    kind: EventKindEnum = strawberry.field(
        description="LOAN_LISTED, SHARE_ADDED, LOAN_FUNDED, LOAN_REPAYING, LOAN_EXPIRED, LOAN_REPAID or LOAN_DEFAULTED."
    )
    amount_added: Decimal = strawberry.field(
        description="The amount lent by this event, in USD; 0.00 for the other kinds."
    )
    funded_amount: Decimal = strawberry.field(description="The loan's fundedAmount as of this event, in USD.")
    remaining_amount: Decimal = strawberry.field(description="The loan's remainingAmount as of this event, in USD.")
    lender_count: int = strawberry.field(description="The loan's lenderCount as of this event.")
    status: LoanStatusEnum = strawberry.field(description="The loan's status as of this event.")
    loan: LoanNode = strawberry.field(description=f"{LOAN_NOW} Its figures may be later than the event's.")

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


@strawberry.type(description="A new listing that matched the filter of loanListed.")
class LoanListedEvent:
    event_id: str = strawberry.field(description=EVENT_ID)
    occurred_at: datetime = strawberry.field(description=OCCURRED_AT)
    loan: LoanNode = strawberry.field(description=f"{LOAN_NOW} The filter judged it as it was when listed.")

    @classmethod
    def of(cls, delivery: Delivery) -> "LoanListedEvent":
        return cls(
            event_id=event_id(delivery.id),
            occurred_at=delivery.event.created_at,
            loan=LoanNode.from_model(loan_of(delivery)),
        )


@strawberry.interface(name="LenderEvent", description="An event of the signed-in lender's own (myEvents).")
class LenderEvent:
    event_id: str = strawberry.field(description=EVENT_ID)
    occurred_at: datetime = strawberry.field(description=OCCURRED_AT)


@strawberry.type(description="You were credited your part of a repayment of a loan you lent to.")
class RepaymentCredited(LenderEvent):
    loan: LoanNode = strawberry.field(description=LOAN_NOW)
    amount: Decimal = strawberry.field(description="Credited to you, in USD: principal minus currencyLoss.")
    principal: Decimal = strawberry.field(description="Your part of the principal repaid, in USD.")
    currency_loss: Decimal = strawberry.field(description="The currency loss you bore on it, in USD.")


@strawberry.type(description="A loan you lent to filled, and its money went to the partner.")
class LoanFunded(LenderEvent):
    loan: LoanNode = strawberry.field(description=LOAN_NOW)


@strawberry.type(description="A loan you lent to expired before it filled; your share was refunded.")
class LoanExpired(LenderEvent):
    loan: LoanNode = strawberry.field(description=LOAN_NOW)
    refunded: Decimal = strawberry.field(description="Returned to your credit, in USD: your share.")


@strawberry.type(description="A loan you lent to was repaid in full.")
class LoanRepaid(LenderEvent):
    loan: LoanNode = strawberry.field(description=LOAN_NOW)


@strawberry.type(description="A loan you lent to was declared defaulted: what was outstanding is lost.")
class LoanDefaulted(LenderEvent):
    loan: LoanNode = strawberry.field(description=LOAN_NOW)


@strawberry.type(description="You got a notification.")
class NotificationCreated(LenderEvent):
    notification: NotificationNode = strawberry.field(description="The notification.")


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
