"""Each process's hub: reads the outbox in id order and fans events out to local subscribers.

One reader per process turns bus hints (or, failing those, a poll) into one
query for everything after its safe horizon `last_id` (subscriptions/horizon.py):
it delivers in id order and stops at the first missing id that may still
appear (a transaction that took it has not committed yet), so every event up
to `last_id` has been delivered or will never exist. Each event is loaded
once, with its loan and partner, and handed to the bounded inbox of every
subscriber of its topic, or, while the subscriber waits with nothing queued,
written to its socket at once by the inbox's `express` (graph/fanout.py: one
execution and one encoding per distinct selection, no task woken). A
subscriber whose inbox is full is marked lagging and reads what it missed
back from the outbox: memory stays bounded and nothing is lost. Replays
(`after`) and the start of a new subscription read only ids up to `last_id`,
so a replay filtered by topic never runs past a missing id of another topic
that may still appear.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from tortoise.expressions import Q

from models import Event, EventKind, Loan, Notification
from models.db import is_transient
from subscriptions.bus import EventBus
from subscriptions.horizon import OutboxReader
from subscriptions.revocations import RecentRevocations

log = logging.getLogger("lendgraph.hub")
BATCH = 500
GAP_RECHECK = 0.01  # seconds before looking again at a missing id, doubling up to the poll interval


@dataclass(frozen=True)
class Topic:
    kind: str  # "loan", "lender" or "listings"
    key: int | None = None

    def condition(self) -> Q:
        """The outbox rows of this topic."""
        if self.kind == "loan":
            return Q(loan_id=self.key, lender_id=None)
        if self.kind == "lender":
            return Q(lender_id=self.key)
        return Q(kind=EventKind.LOAN_LISTED)


LISTINGS = Topic("listings")


# Events for the whole process, on no subscriber's stream: a revoked token, a change to the match indexes.
UNSTREAMED = frozenset((EventKind.TOKEN_REVOKED, EventKind.SEARCH_SAVED, EventKind.SEARCH_DELETED, EventKind.RULE_SET))


def topics_of(event: Event) -> list[Topic]:
    if event.kind in UNSTREAMED:
        return []
    if event.lender_id is not None:
        return [Topic("lender", event.lender_id)]
    topics = [Topic("loan", event.loan_id)]
    if event.kind is EventKind.LOAN_LISTED:
        topics.append(LISTINGS)
    return topics


@dataclass(eq=False)
class Delivery:
    """One event with what its subscribers will read, loaded once for all of them."""

    event: Event
    loan: Loan | None = None
    notification: Notification | None = None
    # What subscribers' filters made of this event, by filter: thousands of subscribers share a few filters.
    verdicts: dict[object, bool] = field(default_factory=dict)
    # What their selections made of it, by selection (graph/fanout.py): the encoded answer, or None.
    answers: dict[object, bytes | None] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.event.id


async def load(events: list[Event]) -> list[Delivery]:
    """Attach each event's loan (with its partner) and notification, in two queries."""
    loan_ids = {e.loan_id for e in events if e.loan_id is not None}
    loans = {loan.id: loan for loan in await Loan.filter(id__in=loan_ids).select_related("partner")} if loan_ids else {}
    notification_ids = [e.payload["notification_id"] for e in events if e.kind is EventKind.NOTIFICATION]
    notifications = {n.id: n for n in await Notification.filter(id__in=notification_ids)} if notification_ids else {}
    return [
        Delivery(
            e,
            loans.get(e.loan_id) if e.loan_id is not None else None,
            notifications.get(e.payload["notification_id"]) if e.kind is EventKind.NOTIFICATION else None,
        )
        for e in events
    ]


async def replay(topic: Topic, after_id: int, through: int, limit: int = BATCH) -> list[Delivery]:
    """Up to `limit` events of `topic` after `after_id` and up to `through` (a hub's `last_id`), oldest first."""
    events = await Event.filter(topic.condition(), id__gt=after_id, id__lte=through).order_by("id").limit(limit)
    return await load(events)


# An inbox with nothing queued holds this, not a deque of its own (a deque takes some 600 bytes at once,
# on every waiting subscriber); the deque is made when an event first waits in it.
_NOTHING_PENDING: tuple[()] = ()


@dataclass(eq=False, slots=True)
class Inbox:
    """A subscriber's bounded queue of live events: the events, and a future while its subscriber waits.

    Every event is offered to every subscriber of its topic, so this is on the hot path of fan-out:
    asyncio.Queue did the same at several times the cost per event (a deque of waiting getters, the
    loop looked up for each wake-up), and a subscriber has one reader only. Opened by Hub.inbox, as a
    context manager: leaving it stops the hub's deliveries to it.
    """

    topic: Topic
    size: int
    start_id: int = 0
    # Which of the topic's events the subscriber wants (None: all); judged here, so that an event it would
    # drop (a listing its filter rejects) neither wakes it nor takes room.
    wanted: "Callable[[Delivery], bool] | None" = None
    lagging: bool = False
    # Sends a delivery straight to the subscriber, or answers False (nothing sent): set by the subscriber
    # only while it waits with nothing queued, so what it sends itself and what this sends stay in order.
    express: "Callable[[Delivery], bool] | None" = None
    sent_id: int = 0  # the last id sent to the subscriber, by itself or by `express`; express sends only later ones
    # What `wanted` raised: the subscription ends with it, not the hub's delivery to every subscriber.
    failure: Exception | None = None
    pending: "deque[Delivery] | tuple[()]" = field(init=False, default=_NOTHING_PENDING)
    # Called (once) in place of waking a waiting reader when there is none: a parked subscription's resume
    # (subscriptions/parking.py). Must not raise.
    wakeup: "Callable[[], None] | None" = None
    _waiter: "asyncio.Future[None] | None" = field(init=False, default=None)
    _close: "Callable[[Inbox], None] | None" = field(init=False, default=None)  # set by the hub that opened it

    def __enter__(self) -> "Inbox":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the hub's deliveries to this inbox (again: nothing)."""
        if self._close is not None:
            self._close(self)
            self._close = None

    def offer(self, delivery: Delivery) -> None:
        if self.lagging or self.failure is not None:
            return
        if self.wanted is not None:
            try:
                if not self.wanted(delivery):
                    return
            except Exception as error:
                self.failure = error
                self._wake()
                return
        if self.express is not None and not self.pending and delivery.id > self.sent_id and self.express(delivery):
            self.sent_id = delivery.id
            return
        if len(self.pending) >= self.size:
            # Too slow to keep up: stop queueing; the subscriber catches up from the outbox.
            self.lagging = True
            log.info("subscriber of %s fell behind; it will resync from the outbox", self.topic)
        else:
            if not self.pending:
                self.pending = deque()
            self.pending.append(delivery)
        self._wake()

    def take(self) -> Delivery | None:
        """The oldest queued event (None if none), taken out of the queue."""
        pending = self.pending
        if not pending:
            return None
        delivery = pending.popleft()
        if not pending:
            self.pending = _NOTHING_PENDING
        return delivery

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        elif self.wakeup is not None:
            wakeup, self.wakeup = self.wakeup, None
            wakeup()

    def idle(self) -> bool:
        """Nothing for the subscriber's own stream to do: no event pending, not lagging, no failure."""
        return not self.pending and not self.lagging and self.failure is None

    async def wait(self) -> None:
        """Return once an event is pending, the subscriber lags or `wanted` failed (at once if so already)."""
        if not self.idle():
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


def _admitted(members: set[Inbox], delivery: Delivery) -> bool:
    """Whether a group's filter passes `delivery`, asked of one of its members (a group is never empty);
    True if it raises (each member then meets the error itself, and its subscription ends with it)."""
    judge = next(iter(members)).wanted
    try:
        return bool(judge(delivery))  # type: ignore[misc]  # a group's members have a `wanted`
    except Exception:
        return True


class Hub:
    def __init__(
        self,
        bus: EventBus,
        *,
        poll_interval: float = 1.0,
        inbox_size: int = 1000,
        observers: Sequence[Callable[[Event], None]] = (),
    ) -> None:
        self.bus = bus
        # Called with every event in id order, before its subscribers get it (the match indexes); must not raise.
        self.observers = tuple(observers)
        self.poll_interval = poll_interval
        self.inbox_size = inbox_size
        self.reader = OutboxReader()
        self.revoked = RecentRevocations()  # tokens read revoked lately (subscriptions/revocations.py)
        self._revocation_watchers: dict[int, set[Callable[[], None]]] = {}
        # Each topic's inboxes, by their filter's group (None: each judges for itself; see Hub.inbox).
        self._inboxes: dict[Topic, dict[object, set[Inbox]]] = {}
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def last_id(self) -> int:
        """The safe horizon: every event up to this id has been handed out, or will never exist."""
        return self.reader.through

    @property
    def settled_through(self) -> int | None:
        """`last_id` once the hub is ready (before, ids below it may still be in flight); None until then."""
        return self.reader.through if self._ready.is_set() else None

    async def start(self) -> None:
        await self.reader.start()
        self._tasks = [
            asyncio.create_task(self._read(), name="hub-reader"),
            asyncio.create_task(self._listen(), name="hub-listener"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def ready(self) -> None:
        """Return once the hub knows where to start: subscriptions open their inbox after this."""
        await self._ready.wait()

    def inbox(self, topic: Topic, wanted: Callable[[Delivery], bool] | None = None) -> Inbox:
        """Receive the live events of `topic` from now on (those after `inbox.start_id`), those `wanted` only,
        until the inbox is left (`with hub.inbox(...) as inbox:`).

        A `wanted` with a `group` attribute judges every event as every other of its group does (the same
        filter): the hub asks one of them per event, and offers the event to none of the group's inboxes
        when it refuses, rather than to each of thousands of listing subscribers to refuse in turn.
        """
        inbox = Inbox(topic, self.inbox_size, start_id=self.last_id, wanted=wanted)
        groups = self._inboxes.setdefault(topic, {})
        groups.setdefault(getattr(wanted, "group", None), set()).add(inbox)
        inbox._close = self._closed
        return inbox

    def _closed(self, inbox: Inbox) -> None:
        groups = self._inboxes[inbox.topic]
        group = getattr(inbox.wanted, "group", None)
        members = groups[group]
        members.discard(inbox)
        if not members:
            del groups[group]
            if not groups:
                del self._inboxes[inbox.topic]

    def inboxes(self, topic: Topic) -> set[Inbox]:
        """The open inboxes of `topic`."""
        return {inbox for members in self._inboxes.get(topic, {}).values() for inbox in members}

    @contextlib.contextmanager
    def watch_revocation(self, token_id: int, revoked: Callable[[], None]) -> Iterator[None]:
        """Call `revoked` (once; it must not raise) when this process reads the token's revocation.

        A revocation read before the watch began is in `self.revoked` instead: check it once watching.
        """
        watchers = self._revocation_watchers.setdefault(token_id, set())
        watchers.add(revoked)
        try:
            yield
        finally:
            watchers.discard(revoked)
            if not watchers and self._revocation_watchers.get(token_id) is watchers:
                del self._revocation_watchers[token_id]

    def subscriber_count(self) -> int:
        return sum(len(members) for groups in self._inboxes.values() for members in groups.values())

    def topic_count(self) -> int:
        """Topics with a subscriber in this process."""
        return len(self._inboxes)

    def watcher_count(self) -> int:
        """Sockets watching for their token's revocation."""
        return sum(len(w) for w in self._revocation_watchers.values())

    async def drain(self) -> None:
        """Deliver every committed event after the horizon, in order, up to the first id that may still appear."""
        while True:
            events = await self.reader.read(BATCH)
            if events:
                await self._deliver(events)
            if len(events) < BATCH or self.reader.blocked:
                return

    def _followed(self, event: Event) -> bool:
        return any(topic in self._inboxes for topic in topics_of(event))

    async def _loaded(self, events: list[Event]) -> list[Delivery]:
        """Deliveries of `events`, their loans and notifications loaded only where a subscriber follows them.

        Most events have no subscriber in this process (a lend with nobody watching its loan): loading
        their rows would only cost CPU. A subscriber that opens its inbox while rows load still gets
        every event, loaded: the followed ones are looked at again after each load, before handing out.
        """
        deliveries = {e.id: Delivery(e) for e in events}
        done: set[int] = set()
        while wanted := [e for e in events if e.id not in done and self._followed(e)]:
            for delivery in await load(wanted):
                deliveries[delivery.id] = delivery
            done |= {e.id for e in wanted}
        return list(deliveries.values())

    async def _deliver(self, events: list[Event]) -> None:
        for delivery in await self._loaded(events):
            self.hand_out(delivery)

    def hand_out(self, delivery: Delivery) -> None:
        """Hand one loaded event, the next in id order, to the observers and its topics' subscribers."""
        for observe in self.observers:
            observe(delivery.event)
        if delivery.event.kind is EventKind.TOKEN_REVOKED:
            token_id = delivery.event.payload["token_id"]
            self.revoked.add(token_id)
            for revoked in list(self._revocation_watchers.pop(token_id, ())):
                revoked()
        for topic in topics_of(delivery.event):
            for group, members in self._inboxes.get(topic, {}).items():
                if group is not None and not _admitted(members, delivery):
                    continue
                for inbox in members:
                    inbox.offer(delivery)
        # Encoded for this hand-out only: a slow subscriber's queue holds the delivery, not its answers.
        delivery.answers.clear()
        self.reader.delivered(delivery.event)

    async def _read(self) -> None:
        await self._begin()
        recheck = GAP_RECHECK
        while True:
            # Stopped at a missing id: look again soon (no hint comes when its writer rolls back).
            wait = min(recheck, self.poll_interval) if self.reader.blocked else self.poll_interval
            recheck = min(recheck * 2, self.poll_interval) if self.reader.blocked else GAP_RECHECK
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the
            # wake-up does, and the reader would then outlive stop() by a whole poll interval.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except Exception as error:  # a dropped database connection must not end live delivery
                _log_failure("reading the outbox", error)

    async def _begin(self) -> None:
        while True:
            try:
                await self.reader.settle()
                break
            except Exception as error:  # as in _read: a dropped connection must not end live delivery
                _log_failure("waiting for the transactions open at start", error)
                await asyncio.sleep(self.poll_interval)
        self._ready.set()

    async def _listen(self) -> None:
        async with self.bus.hints() as hints:
            async for _ in hints:
                self._wake.set()


def _log_failure(doing: str, error: Exception) -> None:
    """One line for a database that is briefly away (every read fails while it restarts); else the traceback."""
    if is_transient(error):
        log.warning("%s failed (%r); retrying", doing, error)
    else:
        log.error("%s failed; retrying", doing, exc_info=error)
