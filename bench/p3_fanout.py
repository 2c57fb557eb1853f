"""P3 - live fan-out: N WebSocket subscribers on a real `lendgraph serve --workers 2`.

lendgraph: the real server (uvicorn, 2 workers, PostgreSQL, Redis hints),
subscribers on graphql-transport-ws, a mix of `loanListed(filter:)` with
country/sector/gender filters and `loanProgress(loanId:)` on a few hot loans.
The driver lists loans and fills the hot loans through the HTTP API, one
mutation at a time at a fixed pace, and every delivered message is timed
from that mutation.

Baseline: a bare `websockets` broadcast server (one asyncio process) with
the same clients and the same subscriptions; the driver publishes the same
messages (the bytes lendgraph sent, so the same sizes) on the nominal
schedule (never slower than lendgraph got them), and the server sends each
to the subscribers whose filter matches.

Clients are a small asyncio.Protocol WebSocket client (no library) in a few
processes, so the client side costs little; each message is stamped with
time.monotonic() (CLOCK_MONOTONIC, one clock for every process) when its
bytes arrive.

Latency of a message: its receive time minus its mutation's commit. The
app publishes a hint on Redis right after each mutation commits
(AnnounceEvents); the driver listens on that channel, so the commit is
stamped between COMMIT and the HTTP response: a lower bound on
commit-to-client (the HTTP response itself comes later still, and "receive
minus response" would be an even lower bound, not an upper one). Receive
time minus the time the request was sent is the upper bound, printed too.
For the baseline, "sent" is when the driver sends the publish command and
"commit" when the server acknowledges it (before it sends anything to
subscribers).

Run as a script this module is also the client (`client`) and the baseline
server (`baseline-server PORT`); those modes import nothing from lendgraph.
"""

import asyncio
import base64
import contextlib
import json
import math
import os
import pickle
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Partners, one per country (a partner lists loans in its own country only), with their risk ratings.
COUNTRIES = {"KE": "4.0", "UG": "3.5", "PE": "3.0", "PH": "4.5", "KH": "2.5", "GT": "3.0"}
SECTORS = [
    "AGRICULTURE",
    "ARTS",
    "CLOTHING",
    "CONSTRUCTION",
    "EDUCATION",
    "ENTERTAINMENT",
    "FOOD",
    "HEALTH",
    "HOUSING",
    "MANUFACTURING",
    "PERSONAL_USE",
    "RETAIL",
    "SERVICES",
    "TRANSPORTATION",
    "WHOLESALE",
]
GENDERS = ["FEMALE", "MALE", "NONBINARY", "MIXED_GROUP"]

LISTED_QUERY = """subscription Listed($filter: LoanFilter) { loanListed(filter: $filter) { eventId occurredAt loan {
  id name use country { isoCode name } sector gender amount fundedAmount remainingAmount termMonths status listedAt
  partner { name riskRating } } } }"""
PROGRESS_QUERY = """subscription Progress($loanId: ID!) { loanProgress(loanId: $loanId) { eventId occurredAt kind
  amountAdded fundedAmount remainingAmount lenderCount status loan { id name } } }"""

REGISTER = """mutation R($input: RegisterLenderInput!) { registerLender(input: $input) {
  __typename ... on RegisterLenderSuccess { token } ... on UserError { code message } } }"""
DEPOSIT = """mutation D($input: DepositInput!) { deposit(input: $input) {
  __typename ... on UserError { code message } } }"""
LIST_LOAN = """mutation L($input: ListLoanInput!) { listLoan(input: $input) {
  __typename ... on ListLoanSuccess { loan { id } } ... on UserError { code message } } }"""
LEND = """mutation Lend($input: LendInput!) { lend(input: $input) { __typename ... on UserError { code message } } }"""


# ================================================================ the client (runs in its own processes)

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

    def __init__(
        self, index: int, request: bytes, init: bytes, subscribe: bytes, ready: asyncio.Future, sink: Sink
    ) -> None:
        self.index, self.request, self.init, self.subscribe = index, request, init, subscribe
        self.ready, self.sink = ready, sink
        self.state = 0  # 0 handshake, 1 waiting for connection_ack, 2 subscribed
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

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


async def _client_main() -> None:
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
                ready = loop.create_future()
                try:
                    transport, _ = await asyncio.wait_for(
                        loop.create_connection(
                            lambda ready=ready: Subscriber(index, request, init, subscribe, ready, sink), host, port
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
    _reply(
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
            _reply({"count": len(sink.records), "lost": sink.lost_live, "errors": len(sink.errors)})
        elif command == "collect":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            with open(argument, "wb") as out:  # noqa: ASYNC230 - a one-off write after the measurement
                pickle.dump(
                    {
                        "records": sink.records,
                        "samples": sink.samples,
                        "errors": sink.errors[:20],
                        "error_count": len(sink.errors),
                        "other": sink.other,
                        "lost": sink.lost_live,
                        "cpu": usage.ru_utime + usage.ru_stime,
                    },
                    out,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
            _reply({"collected": True})
        elif command == "exit":
            break


def _reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _raise_fd_limit() -> int:
    """Soft limit of open files up to the hard limit (one socket per subscriber); return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ================================================================ the baseline server (its own process)


async def _baseline_main(port: int) -> None:
    """A bare websockets server: graphql-transport-ws handshake, then broadcast what the driver publishes."""
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    listed: list[tuple[Any, frozenset | None, frozenset | None, frozenset | None]] = []
    progress: dict[str, list[Any]] = {}

    def as_set(values: list | None) -> frozenset | None:
        return frozenset(values) if values else None

    async def handler(ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):  # clients leave without a close frame at the end
            await serve_one(ws)

    async def serve_one(ws: Any) -> None:
        if ws.request.path == "/control":
            async for raw in ws:
                message = json.loads(raw)
                await ws.send("ok")  # acknowledged: the analogue of the committed mutation's response
                if message["topic"] == "listed":
                    country, sector, gender = message["country"], message["sector"], message["gender"]
                    to = [
                        c
                        for c, cs, ss, gs in listed
                        if (cs is None or country in cs)
                        and (ss is None or sector in ss)
                        and (gs is None or gender in gs)
                    ]
                else:
                    to = progress.get(message["loan"], [])
                broadcast(to, message["text"])
            return
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "connection_init":
                await ws.send('{"type": "connection_ack"}')
            elif message["type"] == "ping":
                await ws.send('{"type": "pong"}')
            elif message["type"] == "subscribe":
                payload = message["payload"]
                variables = payload.get("variables") or {}
                if "loanProgress" in payload["query"]:
                    progress.setdefault(variables["loanId"], []).append(ws)
                else:
                    wanted = variables.get("filter") or {}
                    listed.append(
                        (
                            ws,
                            as_set(wanted.get("countries")),
                            as_set(wanted.get("sectors")),
                            as_set(wanted.get("genders")),
                        )
                    )

    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=["graphql-transport-ws"],
        compression=None,
        max_size=2**20,
        backlog=2048,
    ):
        _reply({"listening": port})
        await asyncio.Future()


# ================================================================ the driver (in the bench process)


@dataclass(frozen=True)
class Spec:
    """One subscriber: a loanListed filter, or the progress of one hot loan."""

    countries: tuple[str, ...] | None = None
    sectors: tuple[str, ...] | None = None
    genders: tuple[str, ...] | None = None
    hot: int | None = None  # index of the hot loan for loanProgress

    def wants(self, country: str, sector: str, gender: str) -> bool:
        """The bench's own reading of the filter (countries AND sectors AND genders, each any-of)."""
        return (
            self.hot is None
            and (self.countries is None or country in self.countries)
            and (self.sectors is None or sector in self.sectors)
            and (self.genders is None or gender in self.genders)
        )

    def subscribe(self, hot_ids: list[str]) -> str:
        if self.hot is not None:
            payload = {"query": PROGRESS_QUERY, "variables": {"loanId": hot_ids[self.hot]}}
        else:
            wanted = {
                k: list(v)
                for k, v in (("countries", self.countries), ("sectors", self.sectors), ("genders", self.genders))
                if v
            }
            payload = {"query": LISTED_QUERY, "variables": {"filter": wanted} if wanted else {}}
        return json.dumps({"id": "1", "type": "subscribe", "payload": payload})


def make_specs(count: int, hot_loans: int, rng: random.Random) -> list[Spec]:
    """A mix: 80% loanListed (5% unfiltered, the rest by country, sector, both, or gender and country)."""
    countries = list(COUNTRIES)
    specs = []
    for i in range(count):
        if hot_loans and i % 5 == 4:  # every fifth follows a hot loan
            specs.append(Spec(hot=(i // 5) % hot_loans))
            continue
        pick = rng.random()
        some_countries = tuple(sorted(rng.sample(countries, rng.choice((1, 1, 2)))))
        some_sectors = tuple(sorted(rng.sample(SECTORS, rng.choice((1, 2, 3)))))
        if pick < 0.05:
            specs.append(Spec())
        elif pick < 0.45:
            specs.append(Spec(countries=some_countries))
        elif pick < 0.75:
            specs.append(Spec(sectors=some_sectors))
        elif pick < 0.90:
            specs.append(Spec(countries=some_countries, sectors=some_sectors))
        else:
            specs.append(Spec(countries=some_countries, genders=tuple(sorted(rng.sample(GENDERS, 2)))))
    return specs


@dataclass
class Mutation:
    what: str  # "list" or "lend"
    variables: dict
    token: str
    country: str = ""
    sector: str = ""
    gender: str = ""
    hot: int | None = None
    funded_after: int = 0  # cents, for a lend
    loan_id: int | None = None  # filled in for a listing once it answered
    sent: float = 0.0
    answered: float = 0.0
    committed: float = 0.0  # when its Redis announce arrived (sent < committed < answered); else `answered`
    typename: str = ""


@dataclass
class Outcome:
    """One path's result: latencies per delivered message, delivered/expected, costs."""

    name: str
    subscribers: int
    connected: int = 0
    connect_seconds: float = 0.0
    failures: dict = field(default_factory=dict)
    expected: int = 0
    delivered: int = 0  # expected (subscriber, event) pairs that arrived
    unexpected: int = 0
    duplicates: int = 0
    low: list[float] = field(default_factory=list)  # receive - commit (its announce; a lower bound)
    high: list[float] = field(default_factory=list)  # receive - request sent (upper bound)
    last_delivery: float = 0.0  # seconds from the first mutation to the last message
    server_cpu: float = 0.0
    server_cpu_connect: float = 0.0
    server_rss_mb: float = 0.0
    server_sockets: list[int] = field(default_factory=list)
    client_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    drain_wait: float = 0.0


# ---------------------------------------------------------------- processes


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned by multiprocessing; not its resource tracker)."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def _cpu(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _sockets(pid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    count += 1
    return count


async def _wait_idle(pids: list[int], *, quiet: float = 0.1, limit: float = 30.0) -> None:
    """Until the processes use under `quiet` of a core for a second (the server finished setting up)."""
    deadline = time.monotonic() + limit
    calm = 0
    while time.monotonic() < deadline and calm < 2:
        before = _cpu(pids)
        await asyncio.sleep(0.5)
        calm = calm + 1 if _cpu(pids) - before < quiet * 0.5 else 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Clients:
    """The client processes; each connects its share of the subscribers."""

    def __init__(self, processes: int) -> None:
        self.count = processes
        self.procs: list[asyncio.subprocess.Process] = []

    async def connect(self, port: int, path: str, specs: list[Spec], hot_ids: list[str]) -> dict:
        texts = [(i, spec.subscribe(hot_ids)) for i, spec in enumerate(specs)]
        for n in range(self.count):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.p3_fanout",
                "client",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=1 << 24,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
            self.procs.append(proc)
            config = {
                "host": "127.0.0.1",
                "port": port,
                "path": path,
                "concurrency": 64,
                "subscribers": texts[n :: self.count],
            }
            proc.stdin.write((json.dumps(config) + "\n").encode())
            await proc.stdin.drain()
        replies = [await self._read(p, 600) for p in self.procs]
        failures: dict[str, int] = {}
        for reply in replies:
            for reason, n in reply["failures"].items():
                failures[reason] = failures.get(reason, 0) + n
        return {
            "connected": sum(r["ready"] for r in replies),
            "seconds": max(r["seconds"] for r in replies),
            "failures": failures,
            "cpu": sum(r["cpu"] for r in replies),
        }

    async def received(self) -> tuple[int, int]:
        counts = []
        for proc in self.procs:
            proc.stdin.write(b"count\n")
            await proc.stdin.drain()
            counts.append(await self._read(proc, 60))
        return sum(c["count"] for c in counts), sum(c["lost"] for c in counts)

    async def collect(self) -> list[dict]:
        found = []
        with tempfile.TemporaryDirectory(prefix="lendgraph_p3_") as directory:
            for n, proc in enumerate(self.procs):
                target = Path(directory) / f"client{n}.pickle"
                proc.stdin.write(f"collect {target}\n".encode())
                await proc.stdin.drain()
                await self._read(proc, 120)
                found.append(pickle.loads(target.read_bytes()))
        return found

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(Exception):
                    proc.stdin.write(b"exit\n")
                    await proc.stdin.drain()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self.procs = []

    @staticmethod
    async def _read(proc: asyncio.subprocess.Process, timeout: float) -> dict:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"a client process ended early (exit code {await proc.wait()})")
        return json.loads(line)


# ---------------------------------------------------------------- lendgraph


LENDGRAPH = Path(sys.executable).with_name("lendgraph")
# Every simulated client connects from 127.0.0.1: per-IP limits (graph/guard.py, graph/ratelimit.py) would
# refuse all but the first few hundred. Off for the bench, unless set in the environment; the others stay.
ONE_IP_SETTINGS = {
    "MAX_WS_CONNECTIONS_PER_IP": "0",
    "RATE_LIMIT_PER_IP": "0",
    "RATE_LIMIT_PER_TOKEN": "0",
    "RATE_LIMIT_MONEY_PER_LENDER": "0",
}


async def _cli(database_url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(LENDGRAPH),
        *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode:
        raise RuntimeError(f"lendgraph {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


@contextlib.asynccontextmanager
async def _lendgraph_server(database_url: str, broadcast_url: str, workers: int, log_path: Path):
    port = _free_port()
    env = {**ONE_IP_SETTINGS, **os.environ, "DATABASE_URL": database_url, "BROADCAST_URL": broadcast_url}
    with open(log_path, "wb") as log:  # noqa: ASYNC230 - before anything is measured
        process = subprocess.Popen(  # noqa: ASYNC220 - the server outlives this call; stopped by its pid
            [str(LENDGRAPH), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        import httpx

        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"lendgraph serve did not start: {log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.2)
        # Both workers up: uvicorn starts them one after another.
        while len(_workers(process.pid)) < workers and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        yield port, process
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
        except TimeoutError:
            process.kill()
            process.wait()


class Api:
    def __init__(self, http: Any, url: str) -> None:
        self.http, self.url = http, url

    async def post(self, query: str, variables: dict, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(self.url, json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL request failed ({response.status_code}): {body}")
        return body["data"]


def _listing(i: int, country: str, sector: str, gender: str, amount: str) -> dict:
    return {
        "name": f"Borrower {i:03d}",
        "use": "to buy more stock for her market stall and grow her trade",
        "countryIsoCode": country,
        "sector": sector,
        "gender": gender,
        "amount": amount,
        "termMonths": 12,
    }


async def _arrange(api: Api, database_url: str, hot_loans: int, shares: int) -> tuple[dict, list[str], list[str]]:
    """Partners (one per country, each by `lendgraph create-partner`), lenders with credit, the hot loans."""
    outputs = await asyncio.gather(
        *(
            _cli(database_url, "create-partner", "--name", f"{code} Partner", "--country", code, "--risk-rating", risk)
            for code, risk in COUNTRIES.items()
        )
    )
    partner_tokens = {code: out.strip().splitlines()[-1] for code, out in zip(COUNTRIES, outputs)}
    lenders = []
    for i in range(shares):
        data = await api.post(REGISTER, {"input": {"displayName": f"Fan {i}", "email": f"fan{i}@example.org"}})
        token = data["registerLender"]["token"]
        await api.post(DEPOSIT, {"input": {"amount": f"{25 * hot_loans}.00", "idempotencyKey": f"credit-{i}"}}, token)
        lenders.append(token)
    hot_ids = []
    for h in range(hot_loans):
        code = list(COUNTRIES)[h % len(COUNTRIES)]
        data = await api.post(
            LIST_LOAN, {"input": _listing(900 + h, code, "FOOD", "FEMALE", f"{25 * shares}.00")}, partner_tokens[code]
        )
        hot_ids.append(data["listLoan"]["loan"]["id"])
    return partner_tokens, lenders, hot_ids


def _schedule(
    listings: int,
    hot_loans: int,
    shares: int,
    partner_tokens: dict,
    lenders: list[str],
    hot_ids: list[str],
    rng: random.Random,
) -> list[Mutation]:
    """Listings and lends interleaved evenly; the lends of each hot loan in order."""
    lists = []
    for i in range(listings):
        country = list(COUNTRIES)[i % len(COUNTRIES)]
        sector, gender = rng.choice(SECTORS), rng.choice(GENDERS[:2] if i % 3 else GENDERS)
        amount = f"{25 * rng.randint(8, 80)}.00"
        lists.append(
            Mutation(
                "list",
                {"input": _listing(i, country, sector, gender, amount)},
                partner_tokens[country],
                country,
                sector,
                gender,
            )
        )
    lends = [
        Mutation(
            "lend",
            {"input": {"loanId": hot_ids[h], "amount": "25.00", "idempotencyKey": f"hot-{h}-{k}"}},
            lenders[k],
            hot=h,
            funded_after=2500 * (k + 1),
        )
        for k in range(shares)
        for h in range(hot_loans)
    ]
    total = len(lists) + len(lends)
    order: list[Mutation] = []
    li = ei = 0
    for slot in range(total):  # spread the listings evenly among the lends
        if li < len(lists) and (ei >= len(lends) or (slot + 1) * len(lists) / total >= li + 1):
            order.append(lists[li])
            li += 1
        else:
            order.append(lends[ei])
            ei += 1
    return order


async def _drive(api: Api, schedule: list[Mutation], interval: float) -> float:
    """Send the mutations one at a time, each at its slot (or when the previous one answered)."""
    from graph.ids import decode_id

    start = time.monotonic()
    for n, mutation in enumerate(schedule):
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        mutation.sent = time.monotonic()
        data = await api.post(LIST_LOAN if mutation.what == "list" else LEND, mutation.variables, mutation.token)
        mutation.answered = time.monotonic()
        result = data["listLoan" if mutation.what == "list" else "lend"]
        mutation.typename = result["__typename"]
        if mutation.what == "list":
            if "loan" not in result:
                raise RuntimeError(f"listLoan failed: {result}")
            mutation.loan_id = decode_id(result["loan"]["id"], "Loan")
        elif mutation.typename != "LendSuccess":
            raise RuntimeError(f"lend failed: {result}")
    return start


async def _listen_announcements(url: str, stamps: list[float], ready: asyncio.Event) -> None:
    """Stamp each hint the app publishes on Redis after a mutation (AnnounceEvents: after COMMIT)."""
    from redis import asyncio as redis

    from subscriptions.bus import channel_for

    client = redis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel_for(url))
        ready.set()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                stamps.append(time.monotonic())
    finally:
        await pubsub.aclose()
        await client.aclose()


def _commit_times(schedule: list[Mutation], stamps: list[float]) -> int:
    """Each mutation's commit time: the first announce inside its request; return how many had exactly one.

    The channel is shared by every lendgraph on this Redis, so another one's hint can fall into a window:
    taking the first makes the latency longer, never shorter than the true one.
    """
    exact = 0
    for m in schedule:
        inside = [t for t in stamps if m.sent <= t <= m.answered]
        m.committed = inside[0] if inside else m.answered
        exact += len(inside) == 1
    return exact


async def _outbox(database_url: str, after_id: int) -> list[tuple[int, str, int | None, int | None, dict]]:
    import asyncpg

    from bench.common import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT id, kind, loan_id, lender_id, payload FROM event WHERE id > $1 ORDER BY id", after_id
        )
    finally:
        await connection.close()
    return [
        (
            r["id"],
            r["kind"],
            r["loan_id"],
            r["lender_id"],
            json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"],
        )
        for r in rows
    ]


async def _last_event_id(database_url: str) -> int:
    import asyncpg

    from bench.common import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await connection.fetchval("SELECT coalesce(max(id), 0) FROM event")
    finally:
        await connection.close()


@dataclass
class Published:
    """One event as subscribers should see it: which mutation caused it and who must get it."""

    event_id: int
    mutation: Mutation
    recipients: frozenset[int]


def _expectations(
    events: list, schedule: list[Mutation], specs: list[Spec], hot_loan_ids: list[int]
) -> list[Published]:
    """Every subscriber whose filter matches a listing gets it; every loanProgress one every event of its loan."""
    listing_of = {m.loan_id: m for m in schedule if m.what == "list"}
    lend_of = {(hot_loan_ids[m.hot], m.funded_after): m for m in schedule if m.what == "lend"}
    by_hot: dict[int, list[int]] = {}
    for index, spec in enumerate(specs):
        if spec.hot is not None:
            by_hot.setdefault(spec.hot, []).append(index)
    published = []
    for event_id, kind, loan_id, lender_id, payload in events:
        if lender_id is not None:
            continue  # a lender's own stream (myEvents): nobody here subscribes to it
        if kind == "LOAN_LISTED" and loan_id in listing_of:
            m = listing_of[loan_id]
            published.append(
                Published(
                    event_id, m, frozenset(i for i, s in enumerate(specs) if s.wants(m.country, m.sector, m.gender))
                )
            )
        elif loan_id in hot_loan_ids:
            m = lend_of.get((loan_id, payload.get("funded")))
            if m is None:
                raise RuntimeError(f"event {event_id} ({kind}) on a hot loan matches no lend: {payload}")
            published.append(Published(event_id, m, frozenset(by_hot.get(hot_loan_ids.index(loan_id), ()))))
    return published


def _score(outcome: Outcome, published: list[Published], collected: list[dict], start: float) -> None:
    by_event = {p.event_id: p for p in published}
    outcome.expected = sum(len(p.recipients) for p in published)
    seen: set[tuple[int, int]] = set()
    last = start
    for part in collected:
        outcome.errors += part["errors"]
        outcome.lost += part["lost"]
        outcome.client_cpu += part["cpu"]
        for index, event_id, received in part["records"]:
            p = by_event.get(event_id)
            if p is None or index not in p.recipients:
                outcome.unexpected += 1
                continue
            if (index, event_id) in seen:
                outcome.duplicates += 1
                continue
            seen.add((index, event_id))
            outcome.low.append(received - p.mutation.committed)
            outcome.high.append(received - p.mutation.sent)
            last = max(last, received)
    outcome.delivered = len(seen)
    outcome.last_delivery = last - start


async def _await_deliveries(clients: Clients, expected: int, *, quiet: float = 5.0, limit: float = 120.0) -> float:
    """Until every expected message arrived, or nothing new came for `quiet` seconds; return the wait."""
    started = time.monotonic()
    last_count, last_change = -1, started
    while time.monotonic() - started < limit:
        count, _ = await clients.received()
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - started


async def run_lendgraph(
    database_url: str,
    broadcast_url: str,
    specs: list[Spec],
    *,
    hot_loans: int,
    shares: int,
    listings: int,
    interval: float,
    processes: int,
    workers: int,
    rng: random.Random,
) -> tuple[Outcome, list[Published], dict[int, bytes], list[Mutation], dict]:
    import httpx

    outcome = Outcome("lendgraph", len(specs))
    with tempfile.TemporaryDirectory(prefix="lendgraph_p3_") as directory:
        log_path = Path(directory) / "serve.log"
        async with (
            _lendgraph_server(database_url, broadcast_url, workers, log_path) as (port, server),
            httpx.AsyncClient(timeout=120) as http,
        ):
            api = Api(http, f"http://127.0.0.1:{port}/graphql")
            partner_tokens, lenders, hot_ids = await _arrange(api, database_url, hot_loans, shares)
            from graph.ids import decode_id

            hot_loan_ids = [decode_id(g, "Loan") for g in hot_ids]
            schedule = _schedule(listings, hot_loans, shares, partner_tokens, lenders, hot_ids, rng)
            workers_pids = _workers(server.pid) if workers > 1 else [server.pid]
            all_pids = [server.pid, *_children(server.pid)]
            await _wait_idle(all_pids)
            clients = Clients(processes)
            try:
                cpu = _cpu(all_pids)
                made = await clients.connect(port, "/graphql", specs, hot_ids)
                await _wait_idle(all_pids)  # every subscription registered with its worker's hub
                outcome.server_cpu_connect = _cpu(all_pids) - cpu
                outcome.connected, outcome.connect_seconds = made["connected"], made["seconds"]
                outcome.failures = made["failures"]
                outcome.server_sockets = [_sockets(p) for p in workers_pids]
                outcome.server_rss_mb = sum(_rss_mb(p) for p in workers_pids)
                marker = await _last_event_id(database_url)
                stamps: list[float] = []
                listening = asyncio.Event()
                listener = asyncio.create_task(_listen_announcements(broadcast_url, stamps, listening))
                await asyncio.wait_for(listening.wait(), 10)
                cpu = _cpu(all_pids)
                try:
                    start = await _drive(api, schedule, interval)
                    events = await _outbox(database_url, marker)
                    published = _expectations(events, schedule, specs, hot_loan_ids)
                    expected = sum(len(p.recipients) for p in published)
                    outcome.drain_wait = await _await_deliveries(clients, expected)
                    outcome.server_cpu = _cpu(all_pids) - cpu
                finally:
                    listener.cancel()
                    await asyncio.gather(listener, return_exceptions=True)
                announced = _commit_times(schedule, stamps)
                # uvicorn's supervisor kills a worker that misses its health check (5 s): its sockets drop.
                restarted = sorted(set(_workers(server.pid)) - set(workers_pids)) if workers > 1 else []
                collected = await clients.collect()
            finally:
                await clients.close()
        log_lines = log_path.read_text(errors="replace").splitlines()
    _score(outcome, published, collected, start)
    samples: dict[int, bytes] = {}
    for part in collected:
        for event_id, payload in part["samples"].items():
            samples.setdefault(event_id, payload)
    problems = [line for line in log_lines if any(w in line for w in ("ERROR", "WARNING", "Traceback", "died"))]
    info = {
        "log_lines": len(log_lines),
        "log_problems": problems[:5],
        "hot_ids": hot_ids,
        "workers": len(workers_pids),
        "announced": announced,
        "restarted": restarted,
    }
    return outcome, published, samples, schedule, info


async def run_baseline(
    specs: list[Spec],
    published: list[Published],
    samples: dict[int, bytes],
    schedule: list[Mutation],
    hot_ids: list[str],
    processes: int,
    interval: float,
) -> Outcome:
    """The same clients and subscriptions on the bare server; the same messages at the same moments."""
    from websockets.asyncio.client import connect

    outcome = Outcome("websockets broadcast", len(specs))
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.p3_fanout",
        "baseline-server",
        str(port),
        stdout=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    try:
        await asyncio.wait_for(server.stdout.readline(), 30)
        clients = Clients(processes)
        try:
            cpu = _cpu([server.pid])
            made = await clients.connect(port, "/graphql", specs, hot_ids)
            await _wait_idle([server.pid])
            outcome.server_cpu_connect = _cpu([server.pid]) - cpu
            outcome.connected, outcome.connect_seconds = made["connected"], made["seconds"]
            outcome.failures = made["failures"]
            outcome.server_sockets = [_sockets(server.pid)]
            outcome.server_rss_mb = _rss_mb(server.pid)
            # The same messages on the nominal schedule (one mutation's events every `interval`): lendgraph's own
            # schedule slips when its workers are saturated, so the baseline gets the events at least as fast.
            by_mutation: dict[int, list[Published]] = {}
            for p in published:
                by_mutation.setdefault(id(p.mutation), []).append(p)
            fallback = {
                kind: next((s for s in samples.values() if kind in s), b"") for kind in (b"loanListed", b"loanProgress")
            }
            replayed = {
                id(m): Mutation(m.what, m.variables, m.token, m.country, m.sector, m.gender, m.hot) for m in schedule
            }
            cpu = _cpu([server.pid])
            async with connect(
                f"ws://127.0.0.1:{port}/control",
                max_size=2**24,
                compression=None,
                subprotocols=["graphql-transport-ws"],
            ) as control:
                start = time.monotonic()
                for n, m in enumerate(schedule):
                    copy = replayed[id(m)]
                    delay = start + n * interval - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    copy.sent = time.monotonic()
                    for p in by_mutation.get(id(m), ()):
                        listing = m.what == "list"
                        text = samples.get(p.event_id) or fallback[b"loanListed" if listing else b"loanProgress"]
                        message = (
                            {"topic": "listed", "country": m.country, "sector": m.sector, "gender": m.gender}
                            if listing
                            else {"topic": "progress", "loan": hot_ids[m.hot]}
                        )
                        await control.send(json.dumps({**message, "text": text.decode()}))
                        await control.recv()
                    copy.answered = copy.committed = time.monotonic()
                remapped = [Published(p.event_id, replayed[id(p.mutation)], p.recipients) for p in published]
                outcome.drain_wait = await _await_deliveries(clients, sum(len(p.recipients) for p in published))
            outcome.server_cpu = _cpu([server.pid]) - cpu
            collected = await clients.collect()
        finally:
            await clients.close()
    finally:
        if server.returncode is None:
            server.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait(), 10)
            if server.returncode is None:
                server.kill()
                await server.wait()
    _score(outcome, remapped, collected, start)
    return outcome


def _pct(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def redis_reachable(url: str) -> str | None:
    from redis import asyncio as redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:  # any failure means "not reachable"
        return f"{type(error).__name__}: {error}"
    finally:
        await client.aclose()
    return None


async def run(
    database_url: str,
    *,
    subscribers: int,
    hot_loans: int,
    shares: int,
    listings: int,
    interval: float,
    processes: int,
    workers: int,
    broadcast_url: str,
) -> str:
    """Arrange, measure both paths, print the table; return the one-line summary."""
    from bench.common import Table, median, ms, ratio

    limit = _raise_fd_limit()
    needed = math.ceil(subscribers / max(1, limit - 256))
    if needed > processes:
        print(f"  open-file limit {limit}: using {needed} client processes instead of {processes}")
        processes = needed
    rng = random.Random(20261125)
    specs = make_specs(subscribers, hot_loans, rng)
    listed = sum(1 for s in specs if s.hot is None)
    print(
        f"  {subscribers} subscribers ({listed} loanListed with filters, {subscribers - listed} loanProgress on "
        f"{hot_loans} hot loans); {listings} listings and {hot_loans}x{shares} lends of 25.00, one every "
        f"{interval * 1000:.0f} ms; {processes} client processes; open-file limit {limit}; server env "
        + " ".join(f"{k}={os.environ.get(k, v)}" for k, v in ONE_IP_SETTINGS.items())
    )

    ours, published, samples, schedule, info = await run_lendgraph(
        database_url,
        broadcast_url,
        specs,
        hot_loans=hot_loans,
        shares=shares,
        listings=listings,
        interval=interval,
        processes=processes,
        workers=workers,
        rng=rng,
    )
    base = await run_baseline(specs, published, samples, schedule, info["hot_ids"], processes, interval)

    sizes = sorted(len(s) for s in samples.values())
    table = Table(
        [
            "path",
            "subscribers",
            "connect s",
            "delivered/expected",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p50 ms (upper)",
            "p99 ms (upper)",
            "all in s",
            "server CPU s",
            "server MB",
        ]
    )
    for o in (ours, base):
        table.add(
            o.name,
            f"{o.connected}/{o.subscribers}",
            f"{o.connect_seconds:.1f}",
            f"{o.delivered}/{o.expected}",
            ms(median(o.low)) if o.low else "-",
            ms(_pct(o.low, 0.99)) if o.low else "-",
            ms(max(o.low)) if o.low else "-",
            ms(median(o.high)) if o.high else "-",
            ms(_pct(o.high, 0.99)) if o.high else "-",
            f"{o.last_delivery:.2f}",
            f"{o.server_cpu_connect:.1f}+{o.server_cpu:.1f}",
            f"{o.server_rss_mb:.0f}",
        )
    print(table.render())
    print(
        f"  latency = receive - commit, the commit stamped by the mutation's own Redis hint (AnnounceEvents, "
        f"right after COMMIT; found for {info['announced']}/{len(schedule)} mutations, else the HTTP response): "
        f"a lower bound; (upper) = receive - request sent. Baseline: from the server's acknowledgement of each "
        f"publish. Messages {sizes[0] if sizes else 0}-{sizes[-1] if sizes else 0} bytes. server CPU s = while "
        f"connecting + while fanning out (and serving the {len(schedule)} mutations)"
    )
    if ours.low and base.low:
        print(
            f"  minimum latency: lendgraph {ms(min(ours.low)):.2f} ms, baseline {ms(min(base.low)):.2f} ms; "
            f"client processes' CPU: lendgraph run {ours.client_cpu:.1f} s, baseline run {base.client_cpu:.1f} s"
        )
    per_delivery = ours.server_cpu / ours.delivered * 1000 if ours.delivered else float("nan")
    base_per = base.server_cpu / base.delivered * 1000 if base.delivered else float("nan")
    print(
        f"  server CPU per delivered message (mutations included): lendgraph {per_delivery:.3f} ms, "
        f"baseline {base_per:.3f} ms; "
        f"per connection set up: lendgraph {ours.server_cpu_connect / max(1, ours.connected) * 1000:.2f} ms, "
        f"baseline {base.server_cpu_connect / max(1, base.connected) * 1000:.2f} ms"
    )
    print(
        f"  lendgraph: {info['workers']} workers, sockets per worker {ours.server_sockets}; "
        f"server log {info['log_lines']} lines; mutation answers p50 "
        f"{ms(median([m.answered - m.sent for m in schedule])):.0f} ms, max "
        f"{ms(max(m.answered - m.sent for m in schedule)):.0f} ms"
    )
    for o in (ours, base):
        if o.failures:
            print(f"  {o.name}: connections that failed: {o.failures}")
        if o.unexpected or o.duplicates or o.lost or o.errors:
            print(
                f"  {o.name}: unexpected {o.unexpected}, duplicates {o.duplicates}, connections lost {o.lost}, "
                f"errors {len(o.errors)} {o.errors[:2]}"
            )
    if info["restarted"]:
        print(
            f"  WARNING: uvicorn replaced {len(info['restarted'])} worker(s) during the run (a worker that misses "
            "the supervisor's health check is killed, and its subscribers are disconnected)"
        )
    for line in info["log_problems"]:
        print(f"  server log: {line[:200]}")
    if ours.low and base.low:
        p50 = ratio(median(ours.low), median(base.low))
        p99 = ratio(_pct(ours.low, 0.99), _pct(base.low, 0.99))
        print(f"  ratios lendgraph/baseline: p50 {p50}, p99 {p99}")
    else:
        p50 = p99 = "n/a"
    return (
        f"P3 fan-out: {ours.connected}/{subscribers} subscribers, delivered {ours.delivered}/{ours.expected}; "
        f"p50 {ms(median(ours.low)) if ours.low else float('nan'):.0f} ms, "
        f"p99 {ms(_pct(ours.low, 0.99)) if ours.low else float('nan'):.0f} ms vs websockets "
        f"{ms(median(base.low)) if base.low else float('nan'):.1f} / "
        f"{ms(_pct(base.low, 0.99)) if base.low else float('nan'):.1f} ms -> ratios p50 {p50}, p99 {p99}"
    )


def _main(argv: list[str]) -> None:
    if argv[:1] == ["client"]:
        _raise_fd_limit()
        _use_uvloop()
        asyncio.run(_client_main())
    elif argv[:1] == ["baseline-server"]:
        _raise_fd_limit()
        _use_uvloop()
        asyncio.run(_baseline_main(int(argv[1])))
    else:
        sys.exit(
            "usage: python -m bench.p3_fanout client | baseline-server PORT (P3 itself: python -m bench --only P3)"
        )


def _use_uvloop() -> None:
    """uvicorn runs on uvloop when it is installed; the clients and the baseline server do too."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    _main(sys.argv[1:])
