"""A graphql-transport-ws client for tests, and the app served by uvicorn on the test's own loop."""

import asyncio
import contextlib
import gc
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
import websockets

from graph.settings import Settings
from graph.uvicorn_internals import SOCKET_PROTOCOL
from graph.websocket import TransportWSHandler
from tests.clock import FakeClock
from tests.polling import until


class Socket:
    """One graphql-transport-ws connection; messages are sorted by operation id as they arrive."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.pending: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, token: str | None = None, payload: dict | None = None) -> AsyncIterator["Socket"]:
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as connection:
            sock = cls(connection)
            init = payload if payload is not None else ({"authorization": f"Bearer {token}"} if token else {})
            await connection.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await asyncio.wait_for(connection.recv(), 5))
            assert ack["type"] == "connection_ack", ack
            yield sock

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        message = {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        await self.connection.send(json.dumps(message))

    async def stop(self, op_id: str) -> None:
        await self.connection.send(json.dumps({"id": op_id, "type": "complete"}))

    async def receive(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The next message for `op_id` (a `next`, `error` or `complete`) within `within` seconds; pings answered."""
        async with asyncio.timeout(within):
            while not self.pending.get(op_id):
                message = json.loads(await self.connection.recv())
                if message["type"] == "ping":
                    await self.connection.send(json.dumps({"type": "pong"}))
                elif "id" in message:
                    self.pending.setdefault(message["id"], []).append(message)
        return self.pending[op_id].pop(0)

    async def next(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The data of the next result for `op_id`; fails on an error."""
        message = await self.receive(op_id, within)
        assert message["type"] == "next" and not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def nothing_for(self, op_id: str, seconds: float = 0.3) -> bool:
        """True if no message for `op_id` arrives within `seconds`."""
        try:
            await self.receive(op_id, seconds)
        except TimeoutError:
            return True
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def uvicorn_on_this_loop(app: Any, ws: str = SOCKET_PROTOCOL) -> AsyncIterator[str]:
    """Serve `app` on a free port from the current event loop, with uvicorn's WebSocket implementation `ws`;
    yield its ws:// URL."""
    port = free_port()
    # As `lendgraph serve` runs it: WebSocket compression only if WS_PER_MESSAGE_DEFLATE says so (uvicorn's
    # own default accepts it from every client that offers it, as the websockets client does).
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws=ws,
        ws_per_message_deflate=Settings.ws_per_message_deflate,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, "uvicorn to start")
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


def socket_handlers() -> list[TransportWSHandler]:
    """The server's graphql-transport-ws handlers of the sockets with an operation, this process's."""
    gc.collect()  # what earlier tests left
    return [h for h in gc.get_objects() if isinstance(h, TransportWSHandler) and h.operations]


__all__ = ["FakeClock", "Socket", "socket_handlers", "uvicorn_on_this_loop"]
