"""Redis as the bus: delivery on redis-py 8, a Redis restart under live subscribers, `after` replay.

Every test runs its own `redis-server` (tests/redis_server.py) so that it can
stop and start it; the shared Redis is never touched. The app tests run on
PostgreSQL with an outbox poll far longer than the tests: a subscriber can
only hear of an event promptly through the bus (a hint, or the reconnect
that follows a Redis restart), never through the poll.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette

from graph.ids import decode_id
from graph.types.events import event_id
from models import Event
from subscriptions import resolvers
from subscriptions.bus import EventBus
from subscriptions.hub import Hub
from subscriptions.redis_backend import RECONNECTED, ResilientRedisBackend
from tests import conftest
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.polling import until
from tests.redis_server import RedisServer, private_redis
from tests.ws import Socket

NO_POLL = 3600.0  # seconds: no outbox poll happens during a test
PROMPTLY = 10.0  # seconds: generous, and still far below NO_POLL

PROGRESS = """subscription($loanId: ID!, $after: String) { loanProgress(loanId: $loanId, after: $after) {
  eventId kind amountAdded fundedAmount lenderCount status } }"""
MINE = """subscription($after: String) { myEvents(after: $after) {
  __typename eventId
  ... on LoanFunded { loan { name } }
  ... on RepaymentCredited { amount loan { name } }
  ... on LoanRepaid { loan { name } } } }"""


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


def backend_of(bus: EventBus) -> ResilientRedisBackend:
    backend = bus.broadcast._backend
    assert isinstance(backend, ResilientRedisBackend), backend
    return backend


def hub_of(app: Starlette) -> Hub:
    """The app's hub (the app keeps its GraphQL view, which holds it)."""
    state = app.state
    return state.hub if hasattr(state, "hub") else state.graphql.hub


def hub_bus(app: Starlette) -> EventBus:
    return hub_of(app).bus


# -- the bus alone ---------------------------------------------------------------------------------


async def subscribed(bus: EventBus, hints) -> None:
    """Wait until the bus listens; its first connection announces itself (a catch-up for any hub)."""
    await asyncio.wait_for(backend_of(bus).connected.wait(), PROMPTLY)
    assert (await asyncio.wait_for(hints.get(), PROMPTLY)).message == RECONNECTED


async def test_the_bus_delivers_hints_over_redis_py_8(redis_server):
    """broadcaster 0.3.1's own Redis backend delivers nothing on redis-py 8; ours delivers each hint once."""
    listening, other_process = EventBus(redis_server.url), EventBus(redis_server.url)
    await listening.connect()
    await other_process.connect()
    try:
        async with listening.hints() as hints:
            await subscribed(listening, hints)
            await other_process.announce()
            await listening.announce()
            await other_process.broadcast.publish(other_process.channel, "third")
            received = [(await asyncio.wait_for(hints.get(), PROMPTLY)).message for _ in range(3)]
            assert received == ["new", "new", "third"]
            with pytest.raises(TimeoutError):  # nothing more: each hint arrives once
                await asyncio.wait_for(hints.get(), 0.3)
    finally:
        await other_process.disconnect()
        await listening.disconnect()


async def test_buses_on_different_redis_dbs_do_not_wake_each_other(redis_server):
    """Redis pub/sub ignores the db number: two deployments sharing a Redis on dbs 1 and 2 stay apart."""
    base = f"redis://127.0.0.1:{redis_server.port}"
    one, two, one_again = EventBus(f"{base}/1"), EventBus(f"{base}/2"), EventBus(f"{base}/1")
    assert one.channel != two.channel and one.channel == one_again.channel
    for bus in (one, two, one_again):
        await bus.connect()
    try:
        async with one.hints() as hints_one, two.hints() as hints_two:
            await subscribed(one, hints_one)
            await subscribed(two, hints_two)
            await one_again.announce()
            assert (await asyncio.wait_for(hints_one.get(), PROMPTLY)).message == "new"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(hints_two.get(), 0.3)
    finally:
        for bus in (one, two, one_again):
            await bus.disconnect()


async def test_the_bus_reports_a_redis_restart_as_a_reconnected_message(redis_server):
    bus = EventBus(redis_server.url)
    await bus.connect()
    backend = backend_of(bus)
    try:
        async with bus.hints() as hints:
            await subscribed(bus, hints)
            await bus.announce()
            assert (await asyncio.wait_for(hints.get(), PROMPTLY)).message == "new"

            await asyncio.to_thread(redis_server.stop)
            await until(lambda: not backend.connected.is_set(), "the backend to notice the outage", within=PROMPTLY)
            await bus.announce()  # Redis is down: logged, not raised
            await asyncio.to_thread(redis_server.start)

            await asyncio.wait_for(backend.connected.wait(), PROMPTLY)
            assert (await asyncio.wait_for(hints.get(), PROMPTLY)).message == RECONNECTED
            await bus.announce()
            assert (await asyncio.wait_for(hints.get(), PROMPTLY)).message == "new"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(hints.get(), 0.3)
    finally:
        await bus.disconnect()


async def test_a_stray_message_on_the_channel_does_not_end_the_bus(redis_server):
    """Anyone with access to the Redis may publish on the channel; hints must keep flowing after junk."""
    import redis

    bus = EventBus(redis_server.url)
    await bus.connect()
    try:
        async with bus.hints() as hints:
            await subscribed(bus, hints)

            def publish_junk() -> None:
                with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
                    client.publish(bus.channel, b"\xff\xfe")

            await asyncio.to_thread(publish_junk)
            await bus.announce()
            # Woken by the hint, or by the reconnection that follows a dropped listener (the hub drains either
            # way); the junk itself may come first as a useless hint.
            wakes: list[str] = []
            while not {"new", RECONNECTED} & set(wakes):
                assert len(wakes) < 2, wakes
                wakes.append((await asyncio.wait_for(hints.get(), 2)).message)
            # And the bus still works afterwards.
            await asyncio.wait_for(backend_of(bus).connected.wait(), 2)
            await bus.announce()
            later: list[str] = []
            while "new" not in later:
                later.append((await asyncio.wait_for(hints.get(), 2)).message)
            assert set(later) <= {"new", RECONNECTED, "\ufffd\ufffd"}, later  # the junk, harmlessly decoded
    finally:
        await bus.disconnect()


# -- the app on PostgreSQL and a private Redis --------------------------------------------------------


@pytest.fixture
async def redis_live(pg_url: str, clock: FakeClock, redis_server: RedisServer) -> AsyncIterator[tuple[Api, Starlette]]:
    """The app in-process (WebSockets on a real port) with a private Redis as its bus; no outbox poll."""
    async with conftest.serve(
        pg_url, clock, websockets=True, broadcast_url=redis_server.url, outbox_poll_interval=NO_POLL
    ) as api:
        # The hub's bus subscription is live: from here on every committed event is hinted.
        await asyncio.wait_for(backend_of(hub_bus(api.app)).connected.wait(), PROMPTLY)
        yield api, api.app


async def last_event_id() -> str:
    newest = await Event.all().order_by("-id").first()
    return event_id(newest.id if newest else 0)


async def outbox(after: str, **condition: object) -> list[str]:
    """The ids of the outbox rows matching `condition` after `after`, in order."""
    rows = await Event.filter(id__gt=int(after), **condition).order_by("id").values_list("id", flat=True)
    return [event_id(i) for i in rows]


async def take(ws: Socket, op: str, field: str, count: int) -> list[dict]:
    return [(await ws.next(op, PROMPTLY))[field] for _ in range(count)]


def progress(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["kind"], e["fundedAmount"]) for e in events]


def mine(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["__typename"], e.get("amount") or e["loan"]["name"]) for e in events]


async def test_a_redis_restart_under_live_subscribers_loses_nothing(redis_live, redis_server):
    """Events before, during and after a Redis outage all arrive, in order, once; the API works throughout.

    Events made during the outage cannot be hinted (Redis is down) and the
    poll is an hour away: they arrive promptly only if the reconnection to
    Redis makes the hub read the outbox.
    """
    live, app = redis_live
    backend = backend_of(hub_bus(app))
    partner = await partner_token()
    loan = await live.loan_id(partner, amount="100.00", name="Amina")
    small = await live.loan_id(partner, amount="25.00", name="Baraka")
    ada_id, ada = await live.funded_lender("75.00", "Ada")
    _, bob = await live.funded_lender("25.00", "Bob")
    _, cy = await live.funded_lender("25.00", "Cy")
    start = await last_event_id()  # subscribing `after` it leaves no gap between subscribing and lending

    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan, "after": start})
        await ws.subscribe("me", MINE, {"after": start})

        # Before the outage.
        assert (await live.lend(bob, loan, "25.00"))["__typename"] == "LendSuccess"
        assert (await live.lend(ada, small, "25.00"))["__typename"] == "LendSuccess"
        seen_p = await take(ws, "p", "loanProgress", 1)
        seen_me = await take(ws, "me", "myEvents", 1)
        assert progress(seen_p) == [("SHARE_ADDED", "25.00")]
        assert mine(seen_me) == [("LoanFunded", "Baraka")]

        # Redis goes away: the API keeps working, the events are committed.
        await asyncio.to_thread(redis_server.stop)
        await until(lambda: not backend.connected.is_set(), "the backend to notice the outage", within=PROMPTLY)
        assert (await live.lend(cy, loan, "25.00"))["__typename"] == "LendSuccess"
        assert (await live.lend(ada, loan, "50.00"))["loan"]["status"] == "FUNDED"
        assert (await live.repay(partner, loan, "20.00"))["__typename"] == "PostRepaymentSuccess"
        assert await live.balance(ada) == "10.00"
        assert not backend.connected.is_set()  # all of it happened while Redis was down

        # Redis is back; nothing new happens, yet the outage's events arrive (the poll is an hour away).
        await asyncio.to_thread(redis_server.start)
        await asyncio.wait_for(backend.connected.wait(), PROMPTLY)
        seen_p += await take(ws, "p", "loanProgress", 3)
        seen_me += await take(ws, "me", "myEvents", 2)
        assert progress(seen_p[1:]) == [("SHARE_ADDED", "50.00"), ("SHARE_ADDED", "100.00"), ("LOAN_FUNDED", "100.00")]
        assert mine(seen_me[1:]) == [("LoanFunded", "Amina"), ("RepaymentCredited", "10.00")]
        assert backend.connected.is_set()

        # After the outage: live again, through the bus.
        assert (await live.repay(partner, loan, "80.00"))["loan"]["status"] == "REPAID"
        seen_p += await take(ws, "p", "loanProgress", 2)
        seen_me += await take(ws, "me", "myEvents", 2)
        assert await ws.nothing_for("p", 0.5) and await ws.nothing_for("me", 0.3)

    assert progress(seen_p) == [
        ("SHARE_ADDED", "25.00"),
        ("SHARE_ADDED", "50.00"),
        ("SHARE_ADDED", "100.00"),
        ("LOAN_FUNDED", "100.00"),
        ("LOAN_REPAYING", "100.00"),
        ("LOAN_REPAID", "100.00"),
    ]
    assert mine(seen_me) == [
        ("LoanFunded", "Baraka"),
        ("LoanFunded", "Amina"),
        ("RepaymentCredited", "10.00"),
        ("RepaymentCredited", "40.00"),
        ("LoanRepaid", "Amina"),
    ]
    # Exactly the outbox's rows of each stream, in its order, each once.
    loan_pk, ada_pk = decode_id(loan, "Loan"), decode_id(ada_id, "Lender")
    assert [e["eventId"] for e in seen_p] == await outbox(start, loan_id=loan_pk, lender_id=None)
    assert [e["eventId"] for e in seen_me] == await outbox(start, lender_id=ada_pk)


async def test_reconnecting_with_after_gets_exactly_the_missed_events_then_live_ones(redis_live):
    live, _ = redis_live
    partner = await partner_token()
    loan = await live.loan_id(partner, amount="100.00", name="Amina")
    small = await live.loan_id(partner, amount="25.00", name="Baraka")
    ada_id, ada = await live.funded_lender("50.00", "Ada")
    lenders = [(await live.funded_lender("25.00", name))[1] for name in ("Bob", "Cy", "Dee")]
    start = await last_event_id()

    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan, "after": start})
        await ws.subscribe("me", MINE, {"after": start})
        await live.lend(ada, small, "25.00")
        await live.lend(ada, loan, "25.00")
        await live.lend(lenders[0], loan, "25.00")
        first_p = await take(ws, "p", "loanProgress", 2)
        first_me = await take(ws, "me", "myEvents", 1)
        assert progress(first_p) == [("SHARE_ADDED", "25.00"), ("SHARE_ADDED", "50.00")]
        assert mine(first_me) == [("LoanFunded", "Baraka")]

    # Disconnected: the loan fills and a repayment comes in.
    await live.lend(lenders[1], loan, "25.00")
    await live.lend(lenders[2], loan, "25.00")
    await live.repay(partner, loan, "40.00")

    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan, "after": first_p[-1]["eventId"]})
        await ws.subscribe("me", MINE, {"after": first_me[-1]["eventId"]})
        missed_p = await take(ws, "p", "loanProgress", 4)
        missed_me = await take(ws, "me", "myEvents", 2)
        assert progress(missed_p) == [
            ("SHARE_ADDED", "75.00"),
            ("SHARE_ADDED", "100.00"),
            ("LOAN_FUNDED", "100.00"),
            ("LOAN_REPAYING", "100.00"),
        ]
        assert mine(missed_me) == [("LoanFunded", "Amina"), ("RepaymentCredited", "10.00")]
        assert await ws.nothing_for("p", 0.3) and await ws.nothing_for("me", 0.3)

        # Then live ones, through the bus (the poll is an hour away), each once.
        await live.repay(partner, loan, "60.00")
        live_p = await take(ws, "p", "loanProgress", 1)
        live_me = await take(ws, "me", "myEvents", 2)
        assert progress(live_p) == [("LOAN_REPAID", "100.00")]
        assert mine(live_me) == [("RepaymentCredited", "15.00"), ("LoanRepaid", "Amina")]
        assert await ws.nothing_for("p", 0.5) and await ws.nothing_for("me", 0.3)

    seen_p, seen_me = first_p + missed_p + live_p, first_me + missed_me + live_me
    loan_pk, ada_pk = decode_id(loan, "Loan"), decode_id(ada_id, "Lender")
    assert [e["eventId"] for e in seen_p] == await outbox(start, loan_id=loan_pk, lender_id=None)
    assert [e["eventId"] for e in seen_me] == await outbox(start, lender_id=ada_pk)


async def test_an_event_committed_while_the_replay_runs_is_sent_once(redis_live, monkeypatch):
    """The race `after` must survive: an event both in the replay and in the live inbox goes out once.

    The replay is held open (deterministically, no sleeping) until a new
    event has been committed and queued in the subscriber's live inbox.
    """
    live, app = redis_live
    hub = hub_of(app)
    partner = await partner_token()
    loan = await live.loan_id(partner, amount="100.00", name="Amina")
    tokens = [(await live.funded_lender("25.00", name))[1] for name in ("Ada", "Bob", "Cy")]
    start = await last_event_id()
    await live.lend(tokens[0], loan, "25.00")
    await live.lend(tokens[1], loan, "25.00")

    replaying, release = asyncio.Event(), asyncio.Event()
    real_replay = resolvers.replay

    async def held_replay(*args, **kwargs):
        if not replaying.is_set():
            replaying.set()
            await release.wait()
        return await real_replay(*args, **kwargs)

    monkeypatch.setattr(resolvers, "replay", held_replay)
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan, "after": start})
        await asyncio.wait_for(replaying.wait(), PROMPTLY)  # its live inbox exists; the replay has not read yet
        await live.lend(tokens[2], loan, "25.00")
        newest = int(await last_event_id())
        await until(lambda: hub.last_id >= newest, "the hub to queue the new event live", within=PROMPTLY)
        release.set()  # the replay now finds it too
        seen = await take(ws, "p", "loanProgress", 3)
        assert progress(seen) == [("SHARE_ADDED", "25.00"), ("SHARE_ADDED", "50.00"), ("SHARE_ADDED", "75.00")]
        assert await ws.nothing_for("p", 0.5)
    assert [e["eventId"] for e in seen] == await outbox(start, loan_id=decode_id(loan, "Loan"), lender_id=None)
