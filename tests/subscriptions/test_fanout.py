"""Live events written straight to waiting subscribers' sockets (graph/fanout.py).

A subscriber waiting with nothing queued gets each live event as a frame the
hub writes for it: one execution per distinct selection, the same bytes the
subscriber's own stream would have sent. Whatever goes which way, each
subscriber gets every event once and in order.
"""

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator
from typing import cast

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from graph.uvicorn_internals import WebSocketsSansIOProtocol
from models import Event, EventKind
from subscriptions.hub import Delivery, Hub, Inbox, Topic, load
from subscriptions.parking import PARKING, Parked, Parking
from subscriptions.resolvers import follow
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.conftest import serve
from tests.graph.test_webapp import DOCUMENTS as WEB_APP_DOCUMENTS
from tests.polling import until
from tests.ws_protocols import PROTOCOLS, TRANSPORT, Protocol

LISTED = "subscription { loanListed { eventId occurredAt loan { name amount status partner { name } } } }"


@contextlib.asynccontextmanager
async def raw_subscriber(
    url: str, protocol: Protocol, query: str = LISTED, variables: dict | None = None
) -> AsyncIterator[websockets.ClientConnection]:
    """A socket subscribed to `query` as operation "1", its messages read as the server wrote them."""
    async with websockets.connect(url, subprotocols=[protocol.name]) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await next_message(connection, protocol))["type"] == "connection_ack"
        payload = {"query": query, "variables": variables or {}}
        await connection.send(json.dumps({"id": "1", "type": protocol.start, "payload": payload}))
        yield connection


async def next_message(connection: websockets.ClientConnection, protocol: Protocol) -> str:
    """The next message's text, keep-alives skipped."""
    async with asyncio.timeout(10):
        while True:
            text = await connection.recv()
            assert isinstance(text, str)
            if json.loads(text)["type"] != protocol.keep_alive:
                return text


async def listing_counts(live: Api) -> tuple[int, int]:
    """(events executed, messages written straight to sockets) so far, in this app."""
    shared = live.app.state.graphql.shared
    return shared.executions, shared.written


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=PROTOCOLS.keys())
async def test_waiting_subscribers_get_one_execution_written_to_each_socket(live: Api, protocol: Protocol):
    partner = await partner_token()
    hub = live.app.state.graphql.hub
    async with contextlib.AsyncExitStack() as sockets:
        waiting = [await sockets.enter_async_context(raw_subscriber(live.ws_url, protocol)) for _ in range(3)]
        await until(lambda: hub.subscriber_count() == 3, "three subscribers waiting")
        executed, written = await listing_counts(live)
        await live.loan_id(partner, name="Amina", amount="500.00")

        texts = [await next_message(connection, protocol) for connection in waiting]
        message = json.loads(texts[0])
        assert texts == [texts[0]] * 3
        assert message["type"] == protocol.result and message["id"] == "1"
        loan = message["payload"]["data"]["loanListed"]["loan"]
        assert loan == {
            "name": "Amina",
            "amount": "500.00",
            "status": "FUNDRAISING",
            "partner": {"name": "Juhudi Kilimo"},
        }
        assert await listing_counts(live) == (executed + 1, written + 3)
    event_id = message["payload"]["data"]["loanListed"]["eventId"]
    assert await Event.filter(kind=EventKind.LOAN_LISTED).values_list("id", flat=True) == [int(event_id)]


async def test_a_replayed_event_is_the_same_bytes_as_the_live_frame(live: Api):
    partner = await partner_token()
    hub = live.app.state.graphql.hub
    async with raw_subscriber(live.ws_url, TRANSPORT) as waiting:
        await until(lambda: hub.subscriber_count() == 1, "a subscriber waiting")
        await live.loan_id(partner, name="Amina")
        written = await next_message(waiting, TRANSPORT)
        event_id = json.loads(written)["payload"]["data"]["loanListed"]["eventId"]
        before = await listing_counts(live)
        # `after` the event before it: the listing comes from the outbox, through the subscriber's stream.
        replay = LISTED.replace("loanListed", f'loanListed(after: "{int(event_id) - 1}")')
        async with raw_subscriber(live.ws_url, TRANSPORT, replay) as replaying:
            assert await next_message(replaying, TRANSPORT) == written
        assert (await listing_counts(live))[1] == before[1]  # not written straight: the stream sent it


# A WebSocket frame gives its length in 7 bits, in 16 or in 64 (RFC 6455, 5.2): one message of each size.
TINY = "subscription { loanListed { eventId } }"
LARGE = "subscription { loanListed { eventId loan { " + " ".join(f"d{i}: description" for i in range(8)) + " } } }"
DESCRIPTION = ("Amina has run her tailoring shop in Kisumu for eleven years. " * 170)[:10_000]


@pytest.mark.parametrize(
    ("query", "size"),
    [(TINY, range(0, 126)), (LISTED, range(126, 65536)), (LARGE, range(65536, 2**20))],
    ids=["7-bit", "16-bit", "64-bit"],
)
async def test_frames_of_every_length_encoding_arrive_whole(live: Api, query: str, size: range):
    partner = await partner_token()
    hub = live.app.state.graphql.hub
    async with raw_subscriber(live.ws_url, TRANSPORT, query) as waiting:
        await until(lambda: hub.subscriber_count() == 1, "a subscriber waiting")
        written = (await listing_counts(live))[1]
        await live.loan_id(partner, name="Amina", description=DESCRIPTION)
        text = await next_message(waiting, TRANSPORT)  # the client checks the frame as RFC 6455 says
        assert len(text.encode()) in size
        listed = json.loads(text)["payload"]["data"]["loanListed"]
        assert listed["eventId"].isdigit()
        if query is LARGE:
            assert list(listed["loan"].values()) == [DESCRIPTION] * 8
        assert (await listing_counts(live))[1] == written + 1


def web_app_document(name: str) -> str:
    """The subscription the lender web app sends (graph/webapp/static), as tests/graph/test_webapp.py reads it."""
    [document] = [text for _, constant, text in WEB_APP_DOCUMENTS if constant == name]
    return document


async def test_the_web_apps_own_subscriptions_go_straight_to_the_socket(live: Api):
    """What most subscribers are: browsers showing the loan list, each loan's progress live."""
    partner = await partner_token()
    _, lender = await live.funded_lender("25.00")
    loan_id = await live.loan_id(partner, name="Amina")
    await live.caught_up()  # Amina's listing read: the live listing stream below starts after it
    hub = live.app.state.graphql.hub
    progress = web_app_document("PROGRESS")
    async with (
        raw_subscriber(live.ws_url, TRANSPORT, web_app_document("LISTED")) as listing,
        raw_subscriber(live.ws_url, TRANSPORT, progress, {"loanId": loan_id}) as following,
    ):
        await until(lambda: hub.subscriber_count() == 2, "two subscribers waiting")
        written = (await listing_counts(live))[1]
        await live.loan_id(partner, name="Wanjiru")
        assert (await live.lend(lender, loan_id))["__typename"] == "LendSuccess"
        listed = json.loads(await next_message(listing, TRANSPORT))["payload"]["data"]["loanListed"]["loan"]
        lent = json.loads(await next_message(following, TRANSPORT))["payload"]["data"]["loanProgress"]
        assert (listed["name"], listed["partner"], listed["lenderCount"]) == (
            "Wanjiru",
            {"name": "Juhudi Kilimo", "riskRating": "3.5"},
            0,
        )
        assert (lent["fundedAmount"], lent["remainingAmount"], lent["lenderCount"]) == ("25.00", "475.00", 1)
        assert (await listing_counts(live))[1] == written + 2


async def test_without_a_wire_each_subscriber_sends_its_own(database_url: str, clock: FakeClock):
    # uvicorn's older `websockets` implementation gives the app no Wire (graph/uvicorn_internals.py).
    async with serve(database_url, clock, websockets=True, ws="websockets", outbox_poll_interval=0.2) as live:
        partner = await partner_token()
        hub = live.app.state.graphql.hub
        async with raw_subscriber(live.ws_url, TRANSPORT) as a, raw_subscriber(live.ws_url, TRANSPORT) as b:
            await until(lambda: hub.subscriber_count() == 2, "two subscribers waiting")
            executed, written = await listing_counts(live)
            await live.loan_id(partner, name="Amina")
            texts = [await next_message(connection, TRANSPORT) for connection in (a, b)]
            assert texts[0] == texts[1]
            assert json.loads(texts[0])["payload"]["data"]["loanListed"]["loan"]["name"] == "Amina"
            assert await listing_counts(live) == (executed + 1, written)


# What makes the app close a socket: a malformed message (graph/websocket.py), or one over
# MAX_WS_MESSAGE_BYTES (graph/limits/transport.py).
CLOSING = {
    "malformed": (json.dumps({"id": 5, "type": "subscribe"}), 4400),
    "too big": (json.dumps({"type": "ping", "payload": {"pad": "x" * 70_000}}), 1009),
}


@pytest.mark.parametrize(("message", "code"), CLOSING.values(), ids=CLOSING.keys())
async def test_nothing_is_written_once_the_app_has_decided_to_close_the_socket(live: Api, message: str, code: int):
    """A slow client sends what makes the app close the socket, but the close frame waits for the
    client's buffer to drain. An event handed out as it drains is not written first."""
    partner = await partner_token()
    hub = live.app.state.graphql.hub
    async with raw_subscriber(live.ws_url, TRANSPORT) as client:
        await until(lambda: hub.subscriber_count() == 1, "a subscriber waiting")
        await live.loan_id(partner, name="Amina")
        await next_message(client, TRANSPORT)
        gc.collect()  # what earlier tests left
        here = client.local_address[:2]
        [server_side] = [p for p in gc.get_objects() if isinstance(p, WebSocketsSansIOProtocol) and p.client == here]
        server_side.pause_writing()  # as uvicorn's transport does when the client stops reading
        await client.send(message)
        await asyncio.sleep(0.2)  # the app has closed its side; the close frame waits for `writable`
        [inbox] = [i for i in gc.get_objects() if isinstance(i, Inbox) and i.express is not None]
        last = (await Event.all().order_by("-id").first()).id  # type: ignore[union-attr]
        [delivery] = await load(await Event.filter(id=last))
        delivery.event.id = last + 1  # the next listing, handed out as the buffer drains
        written = (await listing_counts(live))[1]
        server_side.resume_writing()
        inbox.offer(delivery)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_message(client, TRANSPORT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
        assert (await listing_counts(live))[1] == written


# ---------------------------------------------------------------- in order, once, whichever way


class OneInboxHub:
    """What `follow` asks of a hub, with the one inbox it opens at hand."""

    last_id = 0

    def __init__(self) -> None:
        self.opened: Inbox | None = None

    async def ready(self) -> None:
        return None

    def inbox(self, topic: Topic, wanted: object = None) -> Inbox:
        self.opened = Inbox(topic, size=1000)
        return self.opened


def delivery(event_id: int) -> Delivery:
    return Delivery(Event(id=event_id, kind=EventKind.SHARE_ADDED, loan_id=1, payload={}))


@given(
    taken=st.lists(st.booleans(), min_size=1, max_size=30),
    pauses=st.lists(st.booleans(), max_size=30),
    sends_await=st.lists(st.booleans(), max_size=30),
    parks=st.booleans(),
)
async def test_each_event_reaches_its_subscriber_once_and_in_order_whichever_way_it_goes(
    taken: list[bool], pauses: list[bool], sends_await: list[bool], parks: bool
):
    """`express` takes some events and declines others (a full buffer, an answer with errors); the
    subscriber sends the rest itself, sometimes awaiting its socket, while the hub goes on offering.
    A subscriber that parks (subscriptions/parking.py) has no task until the first event declined,
    then a new one that continues with its inbox."""
    hub = OneInboxHub()
    sent: list[int] = []
    runs: list[asyncio.Task[None]] = []

    def express(delivery: Delivery) -> bool:
        if taken[delivery.id - 1]:
            sent.append(delivery.id)
        return taken[delivery.id - 1]

    async def subscriber(parking: Parking | None) -> None:
        PARKING.set(parking)
        with contextlib.suppress(Parked):
            async for delivery in follow(cast(Hub, hub), Topic("loan", 1), None, express=express):
                if delivery.id <= len(sends_await) and sends_await[delivery.id - 1]:
                    await asyncio.sleep(0)  # executing it, or the socket's send, awaits: the hub goes on meanwhile
                sent.append(delivery.id)

    def resume(parked: Parking, inbox: Inbox) -> None:
        runs.append(asyncio.create_task(subscriber(Parking(resume, inbox))))

    runs.append(asyncio.create_task(subscriber(Parking(resume) if parks else None)))
    try:
        await until(lambda: hub.opened is not None, "the subscriber's inbox")
        inbox = cast(Inbox, hub.opened)
        if parks:
            await until(lambda: runs[0].done(), "the subscriber parked")
        for event_id in range(1, len(taken) + 1):
            inbox.offer(delivery(event_id))
            if event_id <= len(pauses) and pauses[event_id - 1]:
                await asyncio.sleep(0)
        await until(lambda: len(sent) >= len(taken), "every event sent", within=5, every=0)
        await asyncio.sleep(0)
        assert sent == list(range(1, len(taken) + 1))
        # Parked, it runs again once, at the first event express declined, and never parks again.
        assert len(runs) == (1 + (False in taken) if parks else 1)
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
