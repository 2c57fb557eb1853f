"""The Subscription root: loanProgress, loanListed and myEvents.

Each stream replays what came after `after` from the outbox, in order, then
follows live events from the hub; ids already delivered are never sent again.
"""

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, TypeVar

import strawberry
from starlette.websockets import WebSocket

from graph.context import Info
from graph.fanout import Express, express_lane, root_value
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.types.events import LenderEvent, LoanListedEvent, LoanProgressEvent, lender_event
from graph.types.loans import LoanFilterInput
from lending.errors import InvalidInput, NotFound
from lending.filters import LoanFilter
from lending.loans import loan_exists
from lending.tokens import PORTFOLIO_READ
from models import LoanStatus
from subscriptions.hub import BATCH, LISTINGS, Delivery, Hub, Topic, replay
from subscriptions.parking import PARKING

Wanted = Callable[[Delivery], bool]  # which of a topic's events a subscriber wants
E = TypeVar("E")
AFTER_EVENT = (
    "An eventId received earlier on this stream: first every later event is sent, in order, then live ones; "
    '"0" for every event. Null for live events only. Anything but up to 19 digits is an INVALID_INPUT error.'
)


def parse_after(after: str | None) -> int | None:
    if after is None:
        return None
    if not (after.isascii() and after.isdigit() and len(after) <= 19):
        raise InvalidInput("after must be an eventId received earlier.", "after")
    return int(after)


async def live(
    info: Info, topic: Topic, after: str | None, present: Callable[[Delivery], E], wanted: Wanted | None = None
) -> AsyncIterator[E]:
    """What `present` makes of each event `follow` gives, with fresh loaders for it; live events may
    instead go straight to the socket (graph/fanout.py). A socket whose token is revoked gets no further
    event: it is closed instead."""
    context = info.context
    viewer = context.viewer
    express = express_lane(context, present)
    async for delivery in follow(context.hub, topic, parse_after(after), wanted, express):
        if viewer is not None and viewer.token_id in context.hub.revoked:
            if isinstance(context.request, WebSocket):  # subscriptions run over WebSocket only
                await context.request.close(code=4403, reason="token revoked")
            return
        yield root_value(context, present, delivery)


def cancelled() -> bool:
    """True if this task was asked to stop, though the await that received the cancel returned normally.

    Python 3.11's asyncio.wait_for (used inside redis-py and other libraries) can swallow a cancel;
    the count Task.cancelling() keeps it. A stream must not then wait for the next event for ever:
    its client is gone, and its subscriber and task would stay (redis_backend.redis_call).
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def follow(
    hub: Hub, topic: Topic, after_id: int | None, wanted: Wanted | None = None, express: Express | None = None
) -> AsyncIterator[Delivery]:
    """Events of `topic` (those `wanted` only): first those after `after_id` from the outbox, then live
    ones, each once. While it waits with nothing queued, live ones go to `express` first (see Inbox),
    and where its runner allows, it parks instead of waiting (subscriptions/parking.py).

    The replay reads only up to the hub's horizon, read after the inbox is open: what lies beyond it
    reaches the inbox live, in order.
    """
    await hub.ready()
    parking = PARKING.get()
    adopted = parking.adopt() if parking is not None else None
    inbox = adopted if adopted is not None else hub.inbox(topic, wanted)
    parked = False
    try:
        if adopted is not None:  # a parked subscription resumed: what waits in its inbox comes next
            last, catch_up = adopted.sent_id, False
        else:
            last = inbox.start_id if after_id is None else after_id
            catch_up = after_id is not None
        while True:
            if catch_up or inbox.lagging:
                # Clear the flag first: what arrives meanwhile is queued, and duplicates are skipped below.
                inbox.lagging = catch_up = False
                while True:
                    batch = await replay(topic, last, hub.last_id)
                    for delivery in batch:
                        if wanted is None or wanted(delivery):
                            yield delivery
                        last = delivery.id
                    if len(batch) < BATCH:
                        break
                continue
            if cancelled():
                raise asyncio.CancelledError
            inbox.sent_id, inbox.express = last, express
            if express is not None and parking is not None and not parking.resumed and inbox.idle():
                parked = True
                parking.park(inbox)  # the stream ends here (Parked); the inbox stays open
            await inbox.wait()
            last, inbox.express = inbox.sent_id, None
            while not inbox.lagging and (queued := inbox.take()) is not None:
                if queued.id > last:
                    yield queued
                    last = queued.id
            if inbox.failure is not None and not inbox.pending:
                raise inbox.failure  # what `wanted` raised on a later event: this subscription ends with it
    finally:
        if not parked:
            inbox.close()


@functools.lru_cache(maxsize=4096)
def verdict_key(loan_filter: LoanFilter) -> object:
    """The key of a filter's verdicts on a delivery, one per distinct filter (while cached): thousands of
    subscribers share a few filters, each its own equal instance, and a filter as the key would be hashed
    field by field and compared with `==` at every listing, for each of them. Hashed by identity."""
    return object()


class ListedMatching:
    """The listings that pass a filter, each loan judged as it was listed (the event shows it as it is
    now). An event without its loan is let through, to fail in its subscriber's own stream.

    Subscribers of equal filters share a `group` (their verdict's key): the hub asks one of them per
    listing (subscriptions/hub.py Hub.inbox).
    """

    __slots__ = ("group", "loan_filter")

    def __init__(self, loan_filter: LoanFilter) -> None:
        self.loan_filter = loan_filter
        self.group = verdict_key(loan_filter)

    def __call__(self, delivery: Delivery) -> bool:
        loan = delivery.loan
        if loan is None:
            return True
        verdict = delivery.verdicts.get(self.group)
        if verdict is None:
            status = LoanStatus(delivery.event.payload["status"])
            verdict = self.loan_filter.matches(loan, loan.partner.risk_tenths, status)
            delivery.verdicts[self.group] = verdict
        return verdict


@strawberry.type(
    description="Live events, over WebSocket on /graphql (graphql-transport-ws, or the older graphql-ws). "
    "Each stream resumes without loss or repetition from an eventId given as `after`."
)
class Subscription:
    @strawberry.subscription(
        description="Every share added to a loan and every change of its status. Public: no token needed. An id "
        "that names no loan is a NOT_FOUND error."
    )
    async def loan_progress(
        self,
        info: Info,
        loan_id: Annotated[strawberry.ID, strawberry.argument(description="The loan's global id.")],
        after: Annotated[str | None, strawberry.argument(description=AFTER_EVENT)] = None,
    ) -> AsyncGenerator[LoanProgressEvent, None]:
        ident = decode_id(loan_id, "Loan")
        if not await loan_exists(ident):
            raise NotFound("loan", loan_id)
        async for event in live(info, Topic("loan", ident), after, LoanProgressEvent.of):
            yield event

    @strawberry.subscription(
        description="Each new listing that matches the filter, as the loans query judges it. Public: no token needed."
    )
    async def loan_listed(
        self,
        info: Info,
        filter: Annotated[
            LoanFilterInput | None, strawberry.argument(description="Which listings; null for every one.")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER_EVENT)] = None,
    ) -> AsyncGenerator[LoanListedEvent, None]:
        wanted = ListedMatching(filter.to_domain()) if filter else None
        async for event in live(info, LISTINGS, after, LoanListedEvent.of, wanted):
            yield event

    @strawberry.subscription(
        description="Your own events: repayments, your loans' fate, notifications. Needs a lender token with the "
        "portfolio:read scope (else a FORBIDDEN error ends the stream).",
        extensions=requires(IsLender(PORTFOLIO_READ)),
    )
    async def my_events(
        self, info: Info, after: Annotated[str | None, strawberry.argument(description=AFTER_EVENT)] = None
    ) -> AsyncGenerator[LenderEvent, None]:
        lender_id = info.context.require_lender()
        async for event in live(info, Topic("lender", lender_id), after, lender_event):
            yield event
