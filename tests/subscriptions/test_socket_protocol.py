"""What an idle subscriber's connection holds: most of what a serving process holds (bench/README.md, P3).

`lendgraph serve` runs uvicorn's websockets-sansio protocol with less held per
connection (graph/uvicorn_internals.py SocketProtocol): a receive queue and a
writable flag without asyncio's deques, and the handshake let go once
answered. It must still take every message in order, wake one reader per
message, survive a reader cancelled as it is woken, and hold senders while a
slow client's buffer is full. Subscribers of one document share one copy of
its text.
"""

import asyncio
import gc

import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

from graph.uvicorn_internals import SOCKET_PROTOCOL, SocketProtocol, _Received, _Writable
from tests.api import Api, partner_token
from tests.polling import until
from tests.ws import Socket, free_port, socket_handlers

LISTED = "subscription { loanListed { eventId loan { name } } }"


async def test_a_served_connection_lets_go_of_its_handshake_and_still_hears_everything(live: Api):
    partner = await partner_token()
    async with Socket.open(live.ws_url) as client:
        await client.subscribe("1", LISTED)
        await live.loan_id(partner, name="Amina")
        assert (await client.next("1"))["loanListed"]["loan"]["name"] == "Amina"
        gc.collect()
        here = client.connection.local_address[:2]
        [server_side] = [p for p in gc.get_objects() if isinstance(p, SocketProtocol) and p.client == here]
        assert server_side.request is None and server_side.response is None
        assert isinstance(server_side.queue, _Received) and isinstance(server_side.writable, _Writable)
        # The app still reads the handshake's headers, from its scope.
        assert (b"sec-websocket-protocol", b"graphql-transport-ws") in server_side.scope["headers"]
        # A message after the handshake, through the lighter queue: answered in order.
        await client.subscribe("2", LISTED)
        await live.loan_id(partner, name="Bola")
        assert (await client.next("1"))["loanListed"]["loan"]["name"] == "Bola"
        assert (await client.next("2"))["loanListed"]["loan"]["name"] == "Bola"


async def test_subscribers_of_one_document_share_one_copy_of_its_text(live: Api):
    hub = live.app.state.graphql.hub
    async with Socket.open(live.ws_url) as first, Socket.open(live.ws_url) as second:
        await first.subscribe("1", LISTED)
        await second.subscribe("7", LISTED)
        await until(lambda: hub.subscriber_count() == 2, "both subscribed")
        handlers = socket_handlers()
        texts = [operation.query for handler in handlers for operation in handler.operations.values()]
        assert texts == [LISTED, LISTED] and texts[0] is texts[1]


async def test_uvicorns_pings_come_from_one_timer_and_are_answered(live: Api):
    # uvicorn pings every ws_ping_interval and closes a socket whose pong is later than ws_ping_timeout.
    config = uvicorn.Config(
        live.app, port=free_port(), log_level="warning", lifespan="off", ws=SOCKET_PROTOCOL, ws_ping_interval=0.1
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started, "uvicorn to start")
        url = f"ws://127.0.0.1:{config.port}/graphql"
        async with Socket.open(url) as first, Socket.open(url) as second:
            here = {client.connection.local_address[:2] for client in (first, second)}
            protocols = [p for p in server.server_state.connections if p.client in here]
            assert len(protocols) == 2 and all(isinstance(p, SocketProtocol) for p in protocols)
            # Each pinged and its pong read (the client answers by itself): a round trip was timed.
            await until(lambda: all(p.last_ping_rtt > 0 for p in protocols), "both pinged", within=5)
            assert all(p.ping_timer is None for p in protocols)  # no timer of their own
            await first.subscribe("1", LISTED)
            await live.loan_id(await partner_token(), name="Amina")
            assert (await first.next("1"))["loanListed"]["loan"]["name"] == "Amina"
    finally:
        server.should_exit = True
        await serving


@given(st.lists(st.one_of(st.just("put"), st.just("get")), max_size=40))
async def test_the_receive_queue_hands_out_every_message_once_in_order(steps: list[str]):
    queue, readers, put = _Received(), [], 0
    for step in steps:
        if step == "put":
            queue.put_nowait(put)
            put += 1
        else:
            readers.append(asyncio.create_task(queue.get()))
        await asyncio.sleep(0)
    waiting = len(readers) - put
    for extra in range(max(waiting, 0)):
        queue.put_nowait(put + extra)
    got = [await reader for reader in readers]
    assert got == list(range(len(readers)))  # readers in the order they asked, messages in the order put
    assert queue.empty() == (len(readers) >= put)


async def test_a_reader_cancelled_as_it_is_woken_leaves_the_message_to_the_next():
    queue = _Received()
    first, second = asyncio.create_task(queue.get()), asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("hello")  # wakes the first reader...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == "hello"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert queue.empty()


async def test_senders_wait_while_the_buffer_is_full_and_go_on_once_it_drains():
    writable = _Writable()
    await asyncio.wait_for(writable.wait(), 1)  # set: no wait
    writable.clear()
    senders = [asyncio.create_task(writable.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(sender.done() for sender in senders) and not writable.is_set()
    senders[0].cancel()
    writable.set()
    await asyncio.gather(*senders[1:])
    assert writable.is_set() and senders[0].cancelled()
