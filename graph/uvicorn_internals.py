"""The part of uvicorn that graph/ needs and uvicorn does not publish: a socket's connection, for writing
ready-made frames (graph/fanout.py).

uvicorn's public API is the `uvicorn` package (run, Config, Server); an ASGI app reaches a socket
through `send` only, a coroutine per message that frames the text anew. Thousands of subscribers
of one event get the same text but for the operation id, and awaiting each socket's `send` was most
of the cost of fanning an event out (bench/README.md, P3). With uvicorn's `websockets-sansio`
protocol, which `--ws auto` chooses when websockets is installed, the ASGI `send` is a bound method
of the connection's protocol object: its transport takes a whole frame at once, as
`websockets.broadcast` writes them. Any other server or protocol gives no `Wire`, and the app sends
through `send` as before.

`lendgraph serve` runs that protocol lighter (SocketProtocol): an idle subscriber's connection is most
of what a serving process holds (bench/README.md, P3). tests/test_dependency_internals.py checks the
names below.
"""

import asyncio
import weakref
from typing import Any

from starlette.types import Send

# The connection's protocol: its transport, its websockets connection state (`conn`), whether it
# sent or received a close, and `writable`, cleared while the transport's buffer is over its limit.
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

# uvicorn's `ws` setting for SocketProtocol (a class path, so that `--workers` processes import it too).
SOCKET_PROTOCOL = "graph.uvicorn_internals:SocketProtocol"
SCOPE_KEY = "lendgraph.wire"  # where WireCapture leaves a socket's Wire in its ASGI scope
TEXT_FRAME = 0x81  # FIN and the text opcode: a whole message in one frame (RFC 6455, 5.2)


class Wire:
    """A WebSocket's connection: writes an unmasked text frame to its transport, or says it cannot."""

    __slots__ = ("__weakref__", "_protocol", "stopped")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self.stopped = False

    def stop(self) -> None:
        """No more frames: the app is closing the socket (its close frame may wait for a full buffer to drain)."""
        self.stopped = True

    def write(self, head: bytes, tail: bytes) -> bool:
        """Write one text message, `head + tail`, as a frame; False (nothing written) if the socket is
        closing or closed (on either side, or stopped by the app), was negotiated compression (the text
        would have to be compressed per socket), or has a full write buffer (the caller queues the
        message, and the subscriber catches up from the outbox if it stays slow)."""
        protocol = self._protocol
        if (
            self.stopped
            or protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or protocol.conn.state is not State.OPEN
            or protocol.conn.extensions
        ):
            return False
        size = len(head) + len(tail)
        if size < 126:
            header = bytes((TEXT_FRAME, size))
        elif size < 65536:
            header = bytes((TEXT_FRAME, 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((TEXT_FRAME, 127)) + size.to_bytes(8, "big")
        protocol.transport.write(b"".join((header, head, tail)))
        return True


def _stopping(wire: Wire, send: Send) -> Send:
    """`send`, stopping the Wire when the app closes the socket, whichever part of it does (the protocol
    handler, the transport limits, a revoked token): uvicorn sends the close frame only once the client's
    write buffer has drained, and no live event may be written to the socket meanwhile."""

    async def send_stopping(message: Any) -> None:
        if message["type"] == "websocket.close":
            wire.stop()
        await send(message)

    return send_stopping


def wire_of(send: Send) -> Wire | None:
    """The Wire behind an ASGI `send` as uvicorn's websockets-sansio protocol gives it; None otherwise."""
    protocol = getattr(send, "__self__", None)
    return Wire(protocol) if isinstance(protocol, WebSocketsSansIOProtocol) else None


class WireCapture:
    """ASGI middleware: leaves each WebSocket's Wire (or None) in its scope, under SCOPE_KEY.

    Outermost of the app's own middleware: inside it, `send` is wrapped and no longer the server's.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        wire = scope[SCOPE_KEY] = wire_of(send)
        if wire is not None:
            send = _stopping(wire, send)
        try:
            await self.app(scope, receive, send)
        finally:
            # The protocol holds the scope: left there, the Wire would make the closed connection's
            # whole state a reference cycle, freed only by a full collection (bench/churn grew by it).
            del scope[SCOPE_KEY]


async def _woken(waiters: list["asyncio.Future[None]"]) -> None:
    """Wait, in `waiters`, until a future of ours there is given a result; out of the list again after."""
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    finally:
        if waiter in waiters:
            waiters.remove(waiter)


class _Received:
    """What a connection queues for the app's `receive`, in place of uvicorn's `asyncio.Queue`.

    The same methods uvicorn calls (put_nowait, get, empty), in a list and at most a few waiting
    futures: the queue's three deques and its event take about 3 KB on every connection, and uvicorn
    stops reading a socket as soon as one message waits, so there is seldom more than one.
    """

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] = []

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return

    async def get(self) -> Any:
        while not self._items:
            try:
                await _woken(self._getters)
            except BaseException:
                if self._items:
                    self._wake_one()  # perhaps woken, then cancelled: the next reader takes the message
                raise
        return self._items.pop(0)


class _Writable:
    """uvicorn's `writable` flag (an asyncio.Event: set while the transport's buffer has room), without
    the event's deque on every connection; waiters only while a slow client's buffer is full."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            await _woken(self._waiters)


class _PingSchedule:
    """uvicorn's keep-alive pings (every `ws_ping_interval`, a socket that does not answer within
    `ws_ping_timeout` closed) of every SocketProtocol of one event loop, from one timer that ticks each
    second: a timer per connection takes most of a kilobyte under uvloop, on every idle socket."""

    TICK = 1.0  # seconds: how late a ping may be

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[SocketProtocol, float] = {}  # loop time of each one's next ping
        self.timer: asyncio.TimerHandle | None = None

    def add(self, protocol: "SocketProtocol", delay: float) -> None:
        self.due[protocol] = self.loop.time() + delay
        if self.timer is None:
            self.timer = self.loop.call_later(self.TICK, self._tick)

    def discard(self, protocol: "SocketProtocol") -> None:
        self.due.pop(protocol, None)

    def _tick(self) -> None:
        now = self.loop.time()
        for protocol, at in list(self.due.items()):
            if at <= now:
                del self.due[protocol]
                protocol.send_keepalive_ping()
        self.timer = self.loop.call_later(self.TICK, self._tick) if self.due else None


_PINGS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _PingSchedule]" = weakref.WeakKeyDictionary()


def _pings(loop: asyncio.AbstractEventLoop) -> _PingSchedule:
    schedule = _PINGS.get(loop)
    if schedule is None:
        schedule = _PINGS[loop] = _PingSchedule(loop)
    return schedule


class SocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol holding less per connection: its receive queue and writable
    flag without asyncio's deques (_Received, _Writable), the handshake's request and response (their
    headers parsed into websockets' objects) let go once the response is sent (the app reads the
    headers from its scope, as uvicorn copied them there), and its keep-alive pings from one timer for
    all (_PingSchedule)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Received()  # type: ignore[assignment]
        self.writable = _Writable()  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once, right after the handshake's response is written: nothing reads them again. The
        # request's headers are emptied too: websockets' parser keeps the request as a local variable.
        self.request.headers.clear()
        self.request = self.response = None  # type: ignore[assignment]
        super().start_keepalive()

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        _pings(self.loop).add(self, max(0.0, self.ping_interval - self.last_ping_rtt))

    def stop_keepalive(self) -> None:
        _pings(self.loop).discard(self)
        super().stop_keepalive()
