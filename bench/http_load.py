"""A closed-loop HTTP/1.1 load client: N keep-alive connections, each sending one request after another.

`python -m bench.http_load HOST PORT CONNECTIONS SECONDS` reads the request's
bytes (a whole HTTP/1.1 request with Content-Length) from stdin, sends them
over CONNECTIONS connections for SECONDS, and prints JSON: the latency of
every answered request in seconds, the status codes seen, and the first
response's body. It runs in a process of its own, on raw asyncio streams
(no HTTP library), so that what it costs stays small and off the server's
process; the servers measured against each other get the same client.
"""

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response: its status and body (Content-Length framing, as both servers answer)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _connection(
    host: str, port: int, request: bytes, until: float, latencies: list[float], statuses: Counter[int]
) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    first = b""
    try:
        while time.monotonic() < until:
            sent = time.monotonic()
            writer.write(request)
            status, body = await read_answer(reader)
            latencies.append(time.monotonic() - sent)
            statuses[status] += 1
            first = first or body
    finally:
        writer.close()
    return first


async def hammer(host: str, port: int, request: bytes, connections: int, seconds: float) -> dict[str, Any]:
    """Send `request` over `connections` connections for `seconds`; latencies, statuses and a body."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    until = time.monotonic() + seconds
    started = time.monotonic()
    bodies = await asyncio.gather(
        *(_connection(host, port, request, until, latencies, statuses) for _ in range(connections))
    )
    return {
        "seconds": time.monotonic() - started,
        "latencies": latencies,
        "statuses": dict(statuses),
        "body": next((b for b in bodies if b), b"").decode(),
    }


def post(path: str, host: str, body: bytes, token: str | None = None) -> bytes:
    """The bytes of a POST of a JSON body, kept alive (with a bearer token, if given)."""
    authorization = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\n{authorization}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


if __name__ == "__main__":
    host, port, connections, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(asyncio.run(hammer(host, port, sys.stdin.buffer.read(), connections, seconds))))
