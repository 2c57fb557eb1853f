"""P3's subscriber client: one process holding thousands of graphql-transport-ws subscriptions.

The bench starts it as `python -m bench.p3_fanout client` (processes.Clients); it imports nothing from
lendgraph. A small asyncio.Protocol WebSocket client (no library), so the client side costs little; each
message is stamped with time.monotonic() (one clock for every process) when its bytes arrive.

Over stdin and stdout, one JSON line each way: the config (where to connect, each subscriber's subscribe
message), answered once every subscriber is connected; then the commands `count`, `collect PATH` (what
arrived, pickled to PATH) and `exit`.
"""

import asyncio
import base64
import contextlib
import json
import os
import pickle
import re
import resource
import sys
import time
from functools import partial
from typing import Any, TypedDict, cast

_TYPE = re.compile(rb'"type"\s*:\s*"(\w+)"')
_EVENT_ID = re.compile(rb'"eventId"\s*:\s*"(\d+)"')


def _frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (RFC 6455: a client masks every frame)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if not n:
        return header + mask
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


class Received(TypedDict):
    """What `collect` pickles: every (subscriber, event id, receive time), a sample message per event, and trouble."""

    records: list[tuple[int, int, float]]
    samples: dict[int, bytes]
    errors: list[str]  # the first 20
    error_count: int
    other: dict[str, int]  # messages of other types, by type
    lost: int  # connections closed after they subscribed
    cpu: float  # this process's CPU seconds


class Sink:
    """What one client process received: (subscriber, event id, receive time) and one sample per event."""

    def __init__(self) -> None:
        self.records: list[tuple[int, int, float]] = []
        self.samples: dict[int, bytes] = {}
        self.errors: list[str] = []
        self.other: dict[str, int] = {}
        self.lost_live = 0


class Subscriber(asyncio.Protocol):
    """One graphql-transport-ws connection with one subscription (operation id "1")."""

    PONG = _frame(b'{"type":"pong"}')
    transport: asyncio.Transport  # set when the connection is made, before any data arrives

    def __init__(
        self, index: int, request: bytes, init: bytes, subscribe: bytes, ready: asyncio.Future[None], sink: Sink
    ) -> None:
        self.index, self.request, self.init, self.subscribe = index, request, init, subscribe
        self.ready, self.sink = ready, sink
        self.state = 0  # 0 handshake, 1 waiting for connection_ack, 2 subscribed
        self.buffer = bytearray()
        self.fragments = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_connection makes a stream transport (asyncio's or uvloop's): it writes.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state < 2:
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"closed during setup (state {self.state}): {exc}"))
        else:
            self.sink.lost_live += 1

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        if self.state == 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            if b" 101 " not in status:
                self._fail(f"handshake refused: {status.decode(errors='replace')}")
                return
            self.state = 1
            self.transport.write(self.init)
        while True:
            size = len(buffer)
            if size < 2:
                return
            first, second = buffer[0], buffer[1]
            length = second & 0x7F
            offset = 2
            if length == 126:
                if size < 4:
                    return
                length = int.from_bytes(buffer[2:4], "big")
                offset = 4
            elif length == 127:
                if size < 10:
                    return
                length = int.from_bytes(buffer[2:10], "big")
                offset = 10
            if size < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            opcode = first & 0x0F
            if opcode == 0x9:  # ping: answer with a pong carrying the same bytes
                self.transport.write(_frame(payload, 0xA))
                continue
            if opcode == 0x8:
                self.transport.close()
                return
            if opcode in (0x1, 0x2, 0x0):
                if not first & 0x80:  # a fragment: keep it until the final one
                    self.fragments += payload
                    continue
                if self.fragments:
                    payload = bytes(self.fragments + payload)
                    self.fragments.clear()
                self._message(payload, now)

    def _message(self, payload: bytes, now: float) -> None:
        found = _TYPE.search(payload)
        kind = found.group(1).decode() if found else "?"
        if kind == "next" and self.state == 2:
            event = _EVENT_ID.search(payload)
            if event is None or b'"errors"' in payload:
                self.sink.errors.append(payload[:300].decode(errors="replace"))
                return
            event_id = int(event.group(1))
            self.sink.records.append((self.index, event_id, now))
            if event_id not in self.sink.samples:
                self.sink.samples[event_id] = payload
        elif kind == "connection_ack" and self.state == 1:
            self.state = 2
            self.transport.write(self.subscribe)
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind == "ping":
            self.transport.write(self.PONG)
        elif kind in ("error", "complete"):
            self.sink.errors.append(payload[:300].decode(errors="replace"))
        else:
            self.sink.other[kind] = self.sink.other.get(kind, 0) + 1

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        self.transport.close()


async def main() -> None:
    """Client process: read the config line, connect every subscriber, then answer commands on stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    host, port, path = config["host"], config["port"], config["path"]
    sink = Sink()
    init = _frame(json.dumps({"type": "connection_init", "payload": {}}).encode())
    gate = asyncio.Semaphore(config["concurrency"])
    failures: dict[str, int] = {}
    connected = 0

    async def connect(index: int, subscribe_text: str) -> None:
        nonlocal connected
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
        subscribe = _frame(subscribe_text.encode())
        async with gate:
            for attempt in range(3):
                ready: asyncio.Future[None] = loop.create_future()
                try:
                    transport, _ = await asyncio.wait_for(
                        loop.create_connection(
                            partial(Subscriber, index, request, init, subscribe, ready, sink), host, port
                        ),
                        30,
                    )
                    try:
                        await asyncio.wait_for(ready, 60)
                    except BaseException:
                        transport.close()
                        raise
                    connected += 1
                    return
                except (OSError, ConnectionError, TimeoutError) as error:
                    reason = f"{type(error).__name__}: {str(error)[:120]}"
                    if attempt == 2:
                        failures[reason] = failures.get(reason, 0) + 1
                    else:
                        await asyncio.sleep(0.2 * (attempt + 1))

    started = time.monotonic()
    await asyncio.gather(*(connect(index, text) for index, text in config["subscribers"]))
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    reply(
        {
            "ready": connected,
            "failures": failures,
            "seconds": seconds,
            "cpu": usage.ru_utime + usage.ru_stime,
            "maxrss_mb": usage.ru_maxrss / 1024,
        }
    )
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "count":
            reply({"count": len(sink.records), "lost": sink.lost_live, "errors": len(sink.errors)})
        elif command == "collect":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            received: Received = {
                "records": sink.records,
                "samples": sink.samples,
                "errors": sink.errors[:20],
                "error_count": len(sink.errors),
                "other": sink.other,
                "lost": sink.lost_live,
                "cpu": usage.ru_utime + usage.ru_stime,
            }
            with open(argument, "wb") as out:  # noqa: ASYNC230 - a one-off write after the measurement
                pickle.dump(received, out, protocol=pickle.HIGHEST_PROTOCOL)
            reply({"collected": True})
        elif command == "exit":
            break


def reply(message: dict[str, Any]) -> None:
    """One JSON line to the bench process, which reads this process's stdout."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def raise_fd_limit() -> int:
    """Soft limit of open files up to the hard limit (one socket per subscriber); return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
