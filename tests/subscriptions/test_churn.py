"""Sockets that come and go leave nothing behind: the fast variant of the churn soak (bench/churn).

Clients connect, sign in (or not), subscribe, query (a partner lists a loan every
tenth cycle, so events flow), and leave in every way a
client leaves: `complete` then a clean close, a clean close with subscriptions
running, the TCP connection dropped, or dropped right after the subscribe
messages were written. Afterwards the hub holds no subscriber and no
revocation watcher, no task of theirs is left, and what Python allocated
stays within a bound however many more cycles run.

The app serves on a real port (WebSockets need one) and counts rate limits in
a private Redis, as a production server does: redis-py's commands once ate
the cancel of an operation whose client had gone (Python 3.11's wait_for),
and the operation then waited for events for ever. The leak check runs on
PostgreSQL, the memory check on SQLite (see `served_sqlite`).
"""

import asyncio
import contextlib
import gc
import json
import random
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import websockets

from graph.context import Context
from graph.execution import SharingExecutor
from graph.limits.rate import RedisCounters
from graph.loaders import Loaders
from graph.uvicorn_internals import WebSocketsSansIOProtocol, Wire
from graph.websocket import Session, TransportWSHandler
from subscriptions.hub import Hub
from tests import conftest, services
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.polling import until
from tests.redis_server import RedisServer, private_redis
from tests.subscriptions.documents import LISTED, MINE, PROGRESS
from tests.ws import Socket

QUERY = "{ loans(first: 3) { edges { node { id name remainingAmount } } } }"
ENDINGS = ("complete", "close", "drop", "drop-mid-subscribe")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@contextlib.asynccontextmanager
async def serving(url: str, clock: FakeClock, redis_server: RedisServer) -> AsyncIterator[Api]:
    """The app on a real port, its rate limits counted in Redis (high enough for one IP)."""
    async with conftest.serve(
        url,
        clock,
        websockets=True,
        rate_limit_url=redis_server.url,
        rate_limit_per_ip=10**9,
        rate_limit_per_token=10**9,
        max_ws_connections_per_ip=0,
    ) as api:
        yield api


@pytest.fixture
async def served(pg_url: str, clock: FakeClock, redis_server: RedisServer) -> AsyncIterator[Api]:
    """On PostgreSQL, as in production."""
    async with serving(pg_url, clock, redis_server) as api:
        yield api


@pytest.fixture
async def served_sqlite(
    sqlite_template: Path, tmp_path: Path, clock: FakeClock, redis_server: RedisServer
) -> AsyncIterator[Api]:
    """On SQLite: asyncpg's statement caches (one per pooled connection, each up to 100 statements)
    fill slowly over thousands of cycles and would hide a leak from the memory check."""
    async with serving(services.sqlite_copy(sqlite_template, tmp_path), clock, redis_server) as api:
        yield api


class Churn:
    """Cycles against the served app; cycle i's sign-in, subscriptions and ending drawn from i."""

    def __init__(self, api: Api, partner: str, tokens: list[str], loan_id: str) -> None:
        self.api, self.partner, self.tokens, self.loan_id = api, partner, tokens, loan_id

    async def cycle(self, i: int, ending: str) -> None:
        signed_in = i % 2 == 0
        if i % 10 == 9:  # live events for the subscribers
            await self.api.loan_id(self.partner, name=f"Churn {i}", countryIsoCode="UG")
        async with websockets.connect(self.api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            payload = {"authorization": f"Bearer {self.tokens[i % len(self.tokens)]}"} if signed_in else {}
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            countries = ["KE", "PE"][: 1 + i % 2]
            streams = [(LISTED, {"filter": {"countries": countries}}), (PROGRESS, {"loanId": self.loan_id})]
            if signed_in:
                streams.append((MINE, {}))
            for n, (query, variables) in enumerate(streams):
                payload = {"query": query, "variables": variables}
                await ws.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": payload}))
            if ending == "drop-mid-subscribe":
                ws.transport.abort()
                return
            await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": QUERY}}))
            while (message := json.loads(await ws.recv())).get("id") != "q" or message["type"] == "next":
                pass
            assert message["type"] == "complete", message
            if ending == "complete":
                for n in range(len(streams)):
                    await ws.send(json.dumps({"id": f"s{n}", "type": "complete"}))
            elif ending == "drop":
                ws.transport.abort()

    async def run(self, cycles: range, concurrency: int, endings: tuple[str, ...] = ENDINGS) -> None:
        pending = iter(cycles)

        async def worker() -> None:
            for i in pending:
                with contextlib.suppress(websockets.ConnectionClosed):  # a dropped socket's own close
                    await self.cycle(i, endings[i % len(endings)])

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def arranged(api: Api) -> Churn:
    loan_id = await api.loan_id(await partner_token())
    # Its listings reach every loanListed stream, whose filters (Kenya, Peru) turn them down: events
    # flow through the hub and the streams, and the bounded cache of shared results stays as it is.
    partner = await partner_token("Uganda Partner", "UG", "3.0")
    tokens = [(await api.register(f"Churner {n}", f"churner{n}@example.org"))[1] for n in range(4)]
    return Churn(api, partner, tokens, loan_id)


async def settled(hub: Hub, tasks: int) -> None:
    """Until the hub holds no subscriber and no watcher, and only `tasks` tasks run (those before)."""
    await until(
        lambda: hub.subscriber_count() == 0 and hub.watcher_count() == 0 and len(asyncio.all_tasks()) <= tasks,
        "every subscriber, watcher and task of the closed sockets gone",
    )


async def test_sockets_dropped_while_subscribing_leave_no_subscriber_and_no_task(served: Api) -> None:
    churn = await arranged(served)
    hub: Hub = served.app.state.graphql.hub
    tasks = len(asyncio.all_tasks())
    await churn.run(range(150), concurrency=20, endings=("drop-mid-subscribe",))
    await settled(hub, tasks)


async def test_churn_leaves_the_hub_empty_and_memory_bounded(served_sqlite: Api) -> None:
    churn = await arranged(served_sqlite)
    hub: Hub = served_sqlite.app.state.graphql.hub
    tasks = len(asyncio.all_tasks())
    await churn.run(range(200), concurrency=20)  # warm-up: pools, caches and lazily built state fill
    tracemalloc.start(5)
    try:
        await churn.run(range(200, 300), concurrency=20)
        before = await quiet_snapshot(hub, tasks)
        await churn.run(range(300, 1100), concurrency=20)
        after = await quiet_snapshot(hub, tasks)
    finally:
        tracemalloc.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    top = "\n".join(str(stat) for stat in after.compare_to(before, "traceback")[:5])
    # 800 cycles opened 2,000 subscriptions: a leak of one small object per cycle would show.
    assert growth < 256 * 1024, f"{growth} bytes more after 800 cycles; grew most:\n{top}"


async def quiet_snapshot(hub: Hub, tasks: int) -> tracemalloc.Snapshot:
    """Once the sockets' traces are gone and garbage collected: what is allocated."""
    await settled(hub, tasks)
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])


async def test_a_cancelled_rate_count_in_redis_is_never_swallowed(redis_server: RedisServer) -> None:
    """Each cancel of a count in progress ends the caller with CancelledError, wherever it lands."""
    counters = RedisCounters(redis_server.url, "test:", ttl=60)
    rng = random.Random(12)
    try:
        for _ in range(300):
            task = asyncio.create_task(counters.add(["ip:a", "token:b"], window=1, amount=1))
            await asyncio.sleep(rng.random() * 0.002)
            if task.done():
                continue
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await counters.close()


async def test_finished_operations_and_closed_sockets_are_freed_without_the_collector(served_sqlite: Api) -> None:
    """Nothing of an operation or a socket waits for a full collection: no reference cycles.

    graphql-core's executor held its own bound methods, a request's loaders held a method of theirs,
    and a socket's session held its handler's: each finished query, subscription and socket stayed,
    with its context, until the collector ran (about 390 objects a cycle), which RSS showed.
    """
    churn = await arranged(served_sqlite)
    hub: Hub = served_sqlite.app.state.graphql.hub
    tasks = len(asyncio.all_tasks())
    await churn.run(range(40), concurrency=10)  # warm-up
    await settled(hub, tasks)
    gc.collect()
    # Held, so that no new object takes the id of one that was there before (other tests' included).
    before = [o for o in gc.get_objects() if type(o) in KEPT_BY_CYCLES]
    known = {id(o) for o in before}
    gc.disable()
    try:
        await churn.run(range(40, 140), concurrency=10)
        assert (await served_sqlite.data(QUERY))["loans"]["edges"]  # and over HTTP
        await settled(hub, tasks)
        left = Counter(
            type(o).__qualname__ for o in gc.get_objects() if type(o) in KEPT_BY_CYCLES and id(o) not in known
        )
    finally:
        gc.enable()
    assert not left, f"left for the collector: {dict(left)}"


async def test_an_idle_subscribed_socket_keeps_no_finished_task_or_exception(served_sqlite: Api) -> None:
    """A socket that waits for events holds only what it needs: no task that ended (the connection_init
    timer strawberry cancels), and so no exception, traceback or frame of one, on each of thousands."""
    api = served_sqlite
    gc.collect()
    known = {id(o) for o in gc.get_objects() if isinstance(o, BaseException)}
    async with contextlib.AsyncExitStack() as sockets:
        for _ in range(10):
            socket = await sockets.enter_async_context(Socket.open(api.ws_url))
            await socket.subscribe("1", LISTED)
        await api.listening(10)
        gc.collect()
        kept = [type(o).__name__ for o in gc.get_objects() if isinstance(o, BaseException) and id(o) not in known]
    assert not kept, kept


async def test_a_long_subscription_keeps_nothing_of_the_events_it_was_sent(served_sqlite: Api) -> None:
    """What a subscription holds does not grow with the events it delivers.

    Each event runs on a copy of the subscription's executor, and graphql-core's copy shared the
    original's memo of collected subfields, keyed by field lists every execution builds anew: each
    event left its entries there until the subscription ended.
    """
    api = served_sqlite
    partner = await partner_token()
    async with Socket.open(api.ws_url) as socket:
        await socket.subscribe("1", LISTED)
        await api.listening(1)

        async def list_and_hear(count: int) -> None:
            for i in range(count):
                await api.loan_id(partner, name=f"Water filter {i}")
                assert (await socket.next("1"))["loanListed"]["loan"]["name"] == f"Water filter {i}"

        await list_and_hear(3)
        gc.collect()
        before = collected_fields()
        await list_and_hear(30)
        gc.collect()
        assert collected_fields() - before < 5, f"{collected_fields() - before} more after 30 events"


def collected_fields() -> int:
    """graphql-core's records of the subfields it collected, alive now."""
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "CollectedFields")


KEPT_BY_CYCLES = (SharingExecutor, Loaders, Context, TransportWSHandler, Session, WebSocketsSansIOProtocol, Wire)
