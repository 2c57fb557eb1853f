"""Slow consumers, keep-alive and the connection_init timeout, on a real socket.

A subscriber that stops reading must cost the server bounded memory (its
inbox never grows past SUBSCRIBER_QUEUE_SIZE, the socket's write buffer stays
near uvicorn's high-water mark) and must not slow anyone else down; once it
reads again it gets every event once, in order, resynced from the outbox.

These tests run uvicorn themselves (`serve_live`) to look at its sockets' write
buffers. uvicorn's own WebSocket pings (every 20 s, 20 s to answer) would drop a
client stalled for 40 s: the stalled test takes about 10 s.
"""

import asyncio
import contextlib
import gc
import json
import socket
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette

from graph.app import LendGraphQL
from graph.uvicorn_internals import SOCKET_PROTOCOL
from subscriptions.hub import LISTINGS, Hub, Inbox
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.conftest import serve
from tests.polling import until
from tests.ws import Socket, free_port

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

LISTED_NAMES = "subscription { loanListed { eventId loan { name } } }"
# The stalled subscriber asks for each loan's description (up to 10,000 characters) a dozen times over
# (MAX_ALIASES allows 15), so that a few dozen events fill the TCP buffers (on loopback the server's
# send buffer autotunes to ~4 MB).
COPIES = 12
LISTED_HEAVY = (
    "subscription { loanListed { eventId loan { name "
    + " ".join(f"d{i}: description" for i in range(COPIES))
    + " } } }"
)


@dataclass
class Live:
    """The app served like `tests.conftest.serve` does, with the app and the uvicorn server at hand."""

    api: Api
    app: Starlette
    server: uvicorn.Server
    ws_url: str

    @property
    def hub(self) -> Hub:
        return self.app.state.graphql.hub

    @property
    def port(self) -> int:
        return int(self.ws_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def view(self) -> LendGraphQL:
        """The GraphQL view that serves /graphql, WebSockets included."""
        return self.app.state.graphql

    def inboxes(self, topic=LISTINGS) -> set[Inbox]:
        return self.hub.inboxes(topic)

    async def subscribers(self, count: int) -> None:
        """Wait until the hub has `count` subscribers: a subscription sent is then really listening."""
        await until(lambda: self.hub.subscriber_count() == count, f"{count} subscribers", within=5)

    def write_buffers(self) -> list[int]:
        """Bytes waiting in the server's socket write buffers, one entry per open connection."""
        return [c.transport.get_write_buffer_size() for c in self.server.server_state.connections if c.transport]


@contextlib.asynccontextmanager
async def serve_live(url: str, clock: FakeClock, **settings: Any) -> AsyncIterator[Live]:
    """`tests.conftest.serve` (its database reset and books check included), its app served by uvicorn too.

    Like `serve(..., websockets=True)`, but the uvicorn server is at hand, to look at its sockets. A
    context manager, so that a failing test still shuts the app down (its database connections
    included) before the next test starts.
    """
    async with serve(url, clock, **{"outbox_poll_interval": 0.2, **settings}) as api:
        port = free_port()
        config = uvicorn.Config(
            api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws=SOCKET_PROTOCOL
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await until(lambda: server.started, "uvicorn to start")
        ws_url = f"ws://127.0.0.1:{port}/graphql"
        try:
            yield Live(Api(api.http, ws_url, api.app), api.app, server, ws_url)
        finally:
            server.should_exit = True
            await task


@contextlib.asynccontextmanager
async def stalled_socket(live: Live, receive_buffer: int = 8192) -> AsyncIterator[Socket]:
    """A graphql-transport-ws client that reads nothing unless asked.

    Its kernel receive buffer is small (this also turns off autotuning, which on
    loopback grows it to megabytes), websockets stops reading the socket once a
    frame waits unread, and compression is off (repetitive text would shrink to
    nothing), so the server soon finds the socket unwritable.
    """
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect: the window scale is set then
    raw.connect(("127.0.0.1", live.port))
    raw.setblocking(False)
    async with websockets.connect(
        live.ws_url,
        sock=raw,
        subprotocols=[TRANSPORT_WS],
        max_queue=1,
        ping_interval=None,
        max_size=None,
        compression=None,
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(connection.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        yield Socket(connection)


async def test_a_stalled_subscriber_costs_bounded_memory_and_resyncs_without_gaps(database_url, clock):
    queue_size, count = 5, 240
    description = ("Amina has run her tailoring shop in Kisumu for eleven years. " * 170)[:10_000]
    async with serve_live(database_url, clock, subscriber_queue_size=queue_size) as live:
        partner = await partner_token()
        async with stalled_socket(live) as slow, Socket.open(live.ws_url) as fast:
            await slow.subscribe("slow", LISTED_HEAVY)
            await live.subscribers(1)
            (slow_inbox,) = live.inboxes()
            await fast.subscribe("fast", LISTED_NAMES)
            await live.subscribers(2)
            (fast_inbox,) = live.inboxes() - {slow_inbox}
            assert slow_inbox.size == fast_inbox.size == queue_size

            names = [f"L{i:03}" for i in range(count)]
            fast_ids: list[str] = []
            slow_lagged = fast_lagged = False
            largest_write_buffer = 0
            for name in names:
                await live.api.loan_id(partner, name=name, description=description)
                # The fast client gets each listing at once, whatever the stalled one does.
                event = (await fast.next("fast", within=5))["loanListed"]
                assert event["loan"]["name"] == name
                fast_ids.append(event["eventId"])
                # Memory stays bounded: the inboxes never hold more than their size ...
                assert len(slow_inbox.pending) <= queue_size and len(fast_inbox.pending) <= queue_size
                slow_lagged |= slow_inbox.lagging
                fast_lagged |= fast_inbox.lagging
                # ... nor does the stalled socket's write buffer grow with the events it cannot take.
                largest_write_buffer = max([largest_write_buffer, *live.write_buffers()])
            assert fast_ids == sorted(fast_ids) and len(set(fast_ids)) == count
            sent = count * COPIES * len(description)
            print(f"largest server write buffer {largest_write_buffer} bytes; {sent} bytes of descriptions sent")
            assert slow_lagged, "the stalled subscriber was never marked lagging: the server kept writing to it"
            assert not fast_lagged, "the fast subscriber was made to resync"
            assert largest_write_buffer < 1024 * 1024 < sent

            # The stalled client reads again: every listing, once, in order, then nothing more.
            for name, event_id in zip(names, fast_ids, strict=True):
                event = (await slow.next("slow", within=20))["loanListed"]
                assert (event["loan"]["name"], event["eventId"]) == (name, event_id)
                assert all(event["loan"][f"d{i}"] == description for i in range(COPIES))
            assert await slow.nothing_for("slow", 0.5)
            # And live delivery to it goes on, straight from its inbox again.
            await live.api.loan_id(partner, name="After")
            assert (await slow.next("slow"))["loanListed"]["loan"]["name"] == "After"
            assert (await fast.next("fast"))["loanListed"]["loan"]["name"] == "After"
            assert not slow_inbox.lagging


async def test_delivered_events_do_not_stay_in_memory(database_url, clock):
    """What the server keeps once every subscriber has its events must not grow with their size and number.

    Five subscribers with five different heavy selections get 40 listings: 5 x 40 x 150 kB = 30 MB of
    results. Once all is delivered, the process may keep a few MB (a cache of recent results bounded
    in bytes: 5.3 MB measured with a 4 MB one, 2.4 MB with one of 8 entries), not all of it.
    tracemalloc counts every Python allocation, client side included: the test keeps nothing it receives.
    """
    count, copies = 40, 15
    description = "".join(f"{i:05d} " for i in range(1700))[:10_000]  # not repetitive: no compression games
    selections = [
        "subscription { loanListed { eventId loan { name "
        + " ".join(f"{prefix}{i}: description" for i in range(copies))
        + " } } }"
        for prefix in "abcde"
    ]
    async with serve_live(database_url, clock) as live:
        partner = await partner_token()
        async with Socket.open(live.ws_url) as ws:
            for index, query in enumerate(selections):
                await ws.subscribe(f"s{index}", query)
            await live.subscribers(len(selections))
            await live.api.loan_id(partner, name="warm-up", description=description)  # caches, pools, imports
            for index in range(len(selections)):
                assert (await ws.next(f"s{index}"))["loanListed"]["loan"]["name"] == "warm-up"
            gc.collect()
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                for n in range(count):
                    await live.api.loan_id(partner, name=f"L{n:03}", description=description)
                    for index in range(len(selections)):
                        event = (await ws.next(f"s{index}"))["loanListed"]
                        loan = event["loan"]
                        assert loan["name"] == f"L{n:03}" and loan[f"{'abcde'[index]}0"] == description
                del event, loan
                gc.collect()
                retained = tracemalloc.get_traced_memory()[0] - baseline
            finally:
                tracemalloc.stop()
            delivered = count * len(selections) * copies * len(description)
            print(f"retained {retained / 1e6:.1f} MB after delivering {delivered / 1e6:.1f} MB")
            assert retained < 8 * 1024 * 1024, f"{retained / 1e6:.1f} MB kept after {delivered / 1e6:.1f} MB delivered"


async def test_an_idle_graphql_transport_ws_socket_gets_server_pings(database_url, clock):
    async with serve_live(database_url, clock, keep_alive_interval=0.1) as live:
        partner = await partner_token()
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT_WS]) as connection:
            await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
            pings = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    while True:
                        message = json.loads(await connection.recv())
                        assert message["type"] == "ping", message
                        pings += 1
                        await connection.send(json.dumps({"type": "pong"}))
            assert pings >= 3, f"{pings} graphql-transport-ws pings in 1 s with keep_alive_interval=0.1"
            # Pings go on beside a subscription, which still works.
            ws = Socket(connection)
            await ws.subscribe("l", LISTED_NAMES)
            await live.subscribers(1)
            await live.api.loan_id(partner, name="Amina")
            assert (await ws.next("l"))["loanListed"]["loan"]["name"] == "Amina"


@pytest.mark.parametrize("ws", [SOCKET_PROTOCOL, "websockets"], ids=["wire", "no wire"])
async def test_every_socket_gets_its_pings_from_the_one_timer_with_or_without_a_wire(database_url, clock, ws):
    # uvicorn's older `websockets` implementation gives no Wire: the pings are sent as any message is.
    async def pings_within(connection: websockets.ClientConnection, seconds: float) -> int:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
        count = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    assert json.loads(await connection.recv()) == {"type": "ping"}
                    count += 1
        return count

    async with (
        serve(database_url, clock, websockets=True, ws=ws, keep_alive_interval=0.1) as api,
        websockets.connect(api.ws_url, subprotocols=[TRANSPORT_WS]) as first,
        websockets.connect(api.ws_url, subprotocols=[TRANSPORT_WS]) as second,
    ):
        counts = await asyncio.gather(pings_within(first, 1.0), pings_within(second, 1.0))
        assert min(counts) >= 3, counts


async def test_an_idle_legacy_graphql_ws_socket_gets_keep_alives(database_url, clock):
    async with (
        serve_live(database_url, clock, keep_alive_interval=0.1) as live,
        websockets.connect(live.ws_url, subprotocols=[LEGACY_WS]) as connection,
    ):
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
        kinds = [json.loads(await asyncio.wait_for(connection.recv(), 2))["type"] for _ in range(3)]
        assert kinds == ["ka"] * 3


async def test_no_keep_alive_when_turned_off(database_url, clock):
    async with serve_live(database_url, clock, keep_alive_interval=0) as live:
        for protocol in (TRANSPORT_WS, LEGACY_WS):
            async with websockets.connect(live.ws_url, subprotocols=[protocol]) as connection:
                await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
                assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(connection.recv(), 0.5)
