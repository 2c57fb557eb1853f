"""Subscriptions that wait without a task of their own (subscriptions/parking.py), through the API.

An idle graphql-transport-ws subscriber whose events can go straight to its
socket has no task: its inbox and express lane are all it holds. The first
event the lane declines (here: a client that stopped reading, its write buffer
full) starts a task again, which sends what waited, in order, once, and keeps
running. Stopping a parked subscription, or closing its socket, closes its
inbox.
"""

import asyncio
import gc

from graph.uvicorn_internals import SocketProtocol
from subscriptions.hub import Hub
from tests.api import Api, partner_token
from tests.polling import until
from tests.ws import Socket, socket_handlers

LISTED = "subscription { loanListed { eventId loan { name } } }"


async def test_an_idle_subscriber_has_no_task_and_still_hears_every_event(live: Api):
    partner = await partner_token()
    hub: Hub = live.app.state.graphql.hub
    shared = live.app.state.graphql.shared
    async with Socket.open(live.ws_url) as client:
        await client.subscribe("1", LISTED)
        await until(lambda: hub.subscriber_count() == 1, "the subscriber listening")
        [handler] = socket_handlers()
        await until(lambda: handler.operations["1"].task is None, "the subscriber parked")
        assert handler.parkings["1"].parked
        written = shared.written
        for name in ("Amina", "Bola", "Chidi"):
            await live.loan_id(partner, name=name)
            assert (await client.next("1"))["loanListed"]["loan"]["name"] == name
        assert shared.written == written + 3  # each written by the hub, straight to the socket
        assert handler.operations["1"].task is None and handler.parkings["1"].parked


async def test_a_parked_subscriber_that_cannot_take_an_event_gets_a_task_and_every_event_once_in_order(live: Api):
    partner = await partner_token()
    _, token = await live.register("Ada")
    hub: Hub = live.app.state.graphql.hub
    rate = live.app.state.graphql.rate
    async with Socket.open(live.ws_url, token) as client:
        await client.subscribe("1", LISTED)
        await until(lambda: hub.subscriber_count() == 1, "the subscriber listening")
        [handler] = socket_handlers()
        await until(lambda: handler.operations["1"].task is None, "the subscriber parked")
        bucket = rate.token(handler.context.viewer)  # the socket's operations count against its token
        counted = (await rate.peek(bucket)).used
        here = client.connection.local_address[:2]
        [server_side] = [p for p in gc.get_objects() if isinstance(p, SocketProtocol) and p.client == here]
        server_side.pause_writing()  # as uvicorn's transport does when the client stops reading
        names = ["Amina", "Bola", "Chidi"]
        for name in names:
            await live.loan_id(partner, name=name)
        await until(lambda: handler.operations["1"].task is not None, "the subscriber running again")
        await asyncio.sleep(0.1)
        server_side.resume_writing()
        received = [(await client.next("1"))["loanListed"] for _ in names]
        assert [event["loan"]["name"] for event in received] == names
        assert sorted(int(e["eventId"]) for e in received) == [int(e["eventId"]) for e in received]
        assert await client.nothing_for("1")  # nothing twice
        # Resumed, it keeps its task, and goes on hearing events.
        await live.loan_id(partner, name="Dayo")
        assert (await client.next("1"))["loanListed"]["loan"]["name"] == "Dayo"
        assert not handler.operations["1"].task.done() and not handler.parkings["1"].parked
        assert hub.subscriber_count() == 1
        # Resumed, it is still the one operation: counted once against the token's rate limit.
        assert (await rate.peek(bucket)).used == counted
        await client.subscribe("2", LISTED)
        await until(lambda: hub.subscriber_count() == 2, "a second subscription")
        assert (await rate.peek(bucket)).used == counted + 1


async def test_stopping_a_parked_subscription_or_closing_its_socket_closes_its_inbox(live: Api):
    partner = await partner_token()
    hub: Hub = live.app.state.graphql.hub
    async with Socket.open(live.ws_url) as first, Socket.open(live.ws_url) as second:
        await first.subscribe("1", LISTED)
        await second.subscribe("1", LISTED)
        await until(lambda: hub.subscriber_count() == 2, "both listening")
        handlers = socket_handlers()
        await until(lambda: all(h.parkings.get("1") and h.parkings["1"].parked for h in handlers), "both parked")
        await first.stop("1")
        await until(lambda: hub.subscriber_count() == 1, "the stopped one's inbox closed")
        await live.loan_id(partner, name="Amina")
        assert (await second.next("1"))["loanListed"]["loan"]["name"] == "Amina"
        assert await first.nothing_for("1")
        # The id is free again: the same id subscribes anew.
        await first.subscribe("1", LISTED)
        await until(lambda: hub.subscriber_count() == 2, "subscribed again")
        await live.loan_id(partner, name="Bola")
        assert (await first.next("1"))["loanListed"]["loan"]["name"] == "Bola"
    await until(lambda: hub.subscriber_count() == 0, "the closed sockets' inboxes closed")
