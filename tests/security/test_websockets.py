"""OWASP GraphQL cheat sheet, "DoS Prevention", for WebSockets: what one socket or one address may hold.

A socket must say connection_init in time (4408 otherwise, on both
protocols), may not send a message over the size limit (1009), may hold only
so many subscriptions, and one IP may open only so many sockets. Operations
over a socket are rate limited one by one (test_rate_limits.py); a revoked
token's sockets run nothing more and are closed with 4403 (test_revocation.py);
malformed messages close a socket with 4400 (test_ws_fuzz.py).
"""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from graph.settings import Settings
from tests.conftest import serve
from tests.subscriptions.documents import LISTED
from tests.ws import Socket


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_socket_that_never_sends_connection_init_is_closed(database_url, clock, protocol):
    async with (
        serve(database_url, clock, websockets=True, ws_connection_init_timeout=0.3) as api,
        websockets.connect(api.ws_url, subprotocols=[protocol]) as connection,
    ):
        assert connection.subprotocol == protocol
        try:
            async with asyncio.timeout(3):
                while True:  # nothing but keep-alives may come before the close
                    message = json.loads(await connection.recv())
                    assert message["type"] in ("ping", "ka"), message
        except ConnectionClosed as error:
            closed = error
        except TimeoutError:
            pytest.fail(f"a {protocol} socket without connection_init was still open after 3 s (timeout 0.3 s)")
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (4408, "Connection initialisation timeout")


async def test_connection_init_in_time_keeps_the_socket(database_url, clock):
    async with (
        serve(database_url, clock, websockets=True, ws_connection_init_timeout=0.3) as api,
        Socket.open(api.ws_url) as ws,
    ):
        await asyncio.sleep(0.6)  # well past the timeout: an initialised socket stays open
        await ws.subscribe("q", "{ __typename }")
        assert (await ws.next("q")) == {"__typename": "Query"}


def test_the_default_init_timeout_is_ten_seconds():
    assert Settings().ws_connection_init_timeout == 10.0
    assert Settings.from_env({"WS_CONNECTION_INIT_TIMEOUT": "3"}).ws_connection_init_timeout == 3.0


async def test_oversized_websocket_messages_close_the_socket(database_url, clock):
    async with (
        serve(database_url, clock, websockets=True, max_ws_message_bytes=2000) as api,
        Socket.open(api.ws_url) as ws,
    ):
        padded = "{ __typename }" + " " * 1900  # under the limit: served
        await ws.subscribe("small", padded)
        assert (await ws.next("small")) == {"__typename": "Query"}
        await ws.subscribe("big", "{ __typename }" + " " * 2100)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive("big")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_oversized_websocket_messages_are_refused_at_the_default_limit(live):
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("big", "{ __typename }" + " " * (64 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive("big")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@contextlib.asynccontextmanager
async def connect_from(source_ip: str, url: str) -> AsyncIterator[websockets.ClientConnection]:
    """A graphql-transport-ws connection from a given loopback address (127.0.0.x are all this machine's)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.bind((source_ip, 0))
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    async with websockets.connect(url, sock=raw, subprotocols=["graphql-transport-ws"]) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
        yield connection


async def test_open_websockets_per_ip_are_capped(database_url, clock):
    async with (
        serve(database_url, clock, websockets=True, max_ws_connections_per_ip=2) as api,
        contextlib.AsyncExitStack() as stack,
    ):
        first = await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
        await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
        with pytest.raises(InvalidStatus) as refused:
            await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
        assert refused.value.response.status_code == 403
        # Another address has its own count.
        await stack.enter_async_context(connect_from("127.0.0.2", api.ws_url))
        # A closed socket frees its place (once the server has seen it close).
        await first.close()
        for _ in range(200):
            try:
                async with connect_from("127.0.0.1", api.ws_url):
                    break
            except InvalidStatus:
                await asyncio.sleep(0.02)
        else:
            pytest.fail("a closed socket never freed its place")


async def test_subscriptions_per_connection_are_limited(database_url, clock):
    async with (
        serve(database_url, clock, websockets=True, max_subscriptions_per_connection=2) as api,
        Socket.open(api.ws_url) as ws,
    ):
        await ws.subscribe("a", LISTED)
        await ws.subscribe("b", LISTED)
        await ws.subscribe("c", LISTED)
        refused = await ws.receive("c")
        assert refused["type"] == "error" and refused["payload"][0]["message"] == "Subscription limit reached"
        await ws.stop("a")  # a freed place can be used again
        await ws.subscribe("d", LISTED)
        assert await ws.nothing_for("d", 0.2)


@pytest.mark.parametrize(
    ("method", "accept"),
    [
        ("POST", "application/json"),
        ("POST", 'multipart/mixed;subscriptionSpec="1.0", application/json'),
        ("POST", "text/event-stream"),
        ("GET", "text/event-stream"),
    ],
)
async def test_subscriptions_over_http_are_refused_with_a_pointer_to_the_socket(api, method, accept):
    request = {"query": LISTED}
    headers = {"Accept": accept}
    if method == "GET":
        response = await api.http.get("/graphql", params=request, headers=headers)
    else:
        response = await api.http.post("/graphql", json=request, headers=headers)
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"] == {"code": "WEBSOCKET_REQUIRED"}, body
    assert "WebSocket" in body["errors"][0]["message"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_token_that_cannot_be_read_at_connection_init_closes_the_socket_for_a_retry(
    live, monkeypatch, protocol
):
    """The database gone as a socket signs in: 1013 (try again later), not a server error (1011)."""
    _, token = await live.register()

    async def database_gone(token: str) -> None:
        raise ConnectionRefusedError("the database is restarting")

    monkeypatch.setattr("graph.auth.sign_in", database_gone)
    async with websockets.connect(live.ws_url, subprotocols=[protocol]) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "Try again later")
