"""A client for both WebSocket protocols, graphql-transport-ws and the legacy graphql-ws, for tests.

tests/ws.py's Socket speaks graphql-transport-ws only; this one speaks
either, in the same words: start an operation, receive its messages, and
see how the server closed the socket.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed


@dataclass(frozen=True)
class Protocol:
    name: str
    start: str  # the client's message that starts an operation
    stop: str  # the client's message that stops one
    result: str  # the server's message with a result
    keep_alive: str  # what the server sends on an idle socket (answered if it is a ping)
    server_types: frozenset[str]  # every type the server may send


TRANSPORT = Protocol(
    "graphql-transport-ws",
    "subscribe",
    "complete",
    "next",
    "ping",
    frozenset({"connection_ack", "ping", "pong", "next", "error", "complete"}),
)
LEGACY = Protocol(
    "graphql-ws",
    "start",
    "stop",
    "data",
    "ka",
    frozenset({"connection_ack", "connection_error", "ka", "data", "error", "complete"}),
)
PROTOCOLS = {p.name: p for p in (TRANSPORT, LEGACY)}


@dataclass(frozen=True)
class Closed:
    """How the server closed a socket: the close frame's code and reason (1006 without one)."""

    code: int
    reason: str

    @classmethod
    def of(cls, error: ConnectionClosed) -> "Closed":
        return cls(error.rcvd.code, error.rcvd.reason) if error.rcvd is not None else cls(1006, "")


class Client:
    def __init__(self, connection: websockets.ClientConnection, protocol: Protocol) -> None:
        self.connection = connection
        self.protocol = protocol
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.seen: list[dict[str, Any]] = []  # every message for an operation, in order

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, protocol: Protocol, token: str | None = None) -> AsyncIterator["Client"]:
        """A socket signed in with `token` (anonymous without), acknowledged."""
        async with websockets.connect(url, subprotocols=[protocol.name]) as connection:
            client = cls(connection, protocol)
            payload = {"authorization": f"Bearer {token}"} if token else {}
            await connection.send(json.dumps({"type": "connection_init", "payload": payload}))
            async with asyncio.timeout(5):
                while (message := json.loads(await connection.recv()))["type"] == protocol.keep_alive:
                    pass
            assert message["type"] == "connection_ack", message
            yield client

    async def start(self, op_id: str, query: str, variables: dict | None = None) -> None:
        """Start an operation; a socket the server has closed meanwhile is not an error here."""
        message = {"id": op_id, "type": self.protocol.start, "payload": {"query": query, "variables": variables or {}}}
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(json.dumps(message))

    async def _read(self) -> None:
        message = json.loads(await self.connection.recv())
        if message["type"] == "ping":
            await self.connection.send(json.dumps({"type": "pong"}))
        elif "id" in message:
            self.pending.setdefault(message["id"], []).append(message)
            self.seen.append(message)

    async def receive(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The next message for `op_id`, within `within` seconds."""
        async with asyncio.timeout(within):
            while not self.pending.get(op_id):
                await self._read()
        return self.pending[op_id].pop(0)

    async def result(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The data of the next result for `op_id`; fails on an error."""
        message = await self.receive(op_id, within)
        assert message["type"] == self.protocol.result and not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def closed(self, within: float = 10) -> Closed:
        """Read until the server closes the socket; fails if it is still open after `within` seconds."""
        try:
            async with asyncio.timeout(within):
                while True:
                    await self._read()
        except ConnectionClosed as error:
            return Closed.of(error)
        except TimeoutError:
            raise AssertionError(f"the socket was still open after {within} s") from None

    def results_for(self, op_id: str) -> list[dict[str, Any]]:
        """The results (`next`/`data`) received for `op_id` so far."""
        return [m for m in self.seen if m["id"] == op_id and m["type"] == self.protocol.result]
