"""Shared benchmark plumbing: throwaway databases, the app in-process, SQL counting, statistics."""

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from tortoise import Tortoise

from graph.app import create_app
from graph.runtime import tune_garbage_collector
from graph.settings import Settings
from lending.ledger import prepare_database
from models import Loan

T = TypeVar("T")

# The server only; each run creates (and drops) a database of its own on it.
PG_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# P3's BROADCAST_URL. Redis pub/sub channels are global to the server (the /<db> number does not separate
# them), so another lendgraph on the same Redis only causes extra outbox reads, never wrong deliveries.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


# ---------------------------------------------------------------- databases


def asyncpg_dsn(url: str) -> str:
    """A tortoise URL as asyncpg wants it: postgresql:// scheme, no tortoise-only query parameters."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def with_database(server: str, name: str, query: str = "") -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", query, ""))


async def pg_reachable(server: str = PG_SERVER) -> str | None:
    """None when the server answers, else why not."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(server), timeout=3)
    except Exception as error:  # any failure means "not reachable"
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def redis_reachable(url: str) -> str | None:
    """None when Redis answers at `url`, else why not."""
    from redis import asyncio as redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:  # any failure means "not reachable"
        return f"{type(error).__name__}: {error}"
    finally:
        await client.aclose()
    return None


async def _admin(statement: str, server: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def pg_database(server: str = PG_SERVER, name: str | None = None, *, keep: bool = False) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database (its tortoise URL), dropped afterwards whatever happens
    unless `keep`. `name`: lendgraph_bench_<random> when not given."""
    name = name or f"lendgraph_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"', server)
    try:
        url = with_database(server, name)
        await prepare_database(url)
        yield url
    finally:
        await Tortoise.close_connections()
        if not keep:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', server)


@contextlib.asynccontextmanager
async def sqlite_database() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="lendgraph_bench_") as directory:
        url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        await prepare_database(url)
        try:
            yield url
        finally:
            await Tortoise.close_connections()


# ---------------------------------------------------------------- the app in-process


class Answer(NamedTuple):
    """An HTTP response, as the benchmarks read it."""

    status_code: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """POSTs GraphQL to the app in-process by calling it as an ASGI server does: the whole ASGI stack
    (middleware, routing, the view), no sockets, no HTTP client.

    A server's clients are remote and the bare baselines have none: httpx's ASGITransport cost about a
    quarter of the process's CPU per small request (bench/README.md), all of it counted as the app's.
    BENCH_CLIENT=httpx sends through httpx.ASGITransport, as the figures before 2026-12-01 (third) were.
    """

    PATH = "/graphql"

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return graphql_data(await self.request({"query": query, "variables": variables or {}}, token))

    async def request(self, body: dict[str, Any], token: str | None = None) -> Answer:
        """POST `body` as JSON, with `token` as the bearer token if given."""
        payload = json.dumps(body).encode()
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if token:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.PATH,
            "raw_path": self.PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }
        done = asyncio.Event()
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await done.wait()  # as a client that stays until the answer is whole
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        return Answer(status, b"".join(chunks))


class HttpxClient(Client):
    """Client through httpx.ASGITransport (BENCH_CLIENT=httpx)."""

    URL = httpx.URL("http://bench/graphql")  # parsed once: httpx re-parses a str URL on every request

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def request(self, body: dict[str, Any], token: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(self.URL, json=body, headers=headers)
        return Answer(response.status_code, response.content)


def graphql_data(response: Answer | httpx.Response) -> dict[str, Any]:
    """A GraphQL response's `data`; RuntimeError for any error (the benchmarks send only requests that succeed)."""
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL request failed ({response.status_code}): {body}")
    data: dict[str, Any] = body["data"]
    return data


def run_on_serving_loop(main: Awaitable[T]) -> T:
    """Run `main` on the event loop `lendgraph serve` runs on: uvicorn's default ("auto") is uvloop where it
    is installed (uvicorn[standard] installs it on Linux and macOS), else asyncio's. The in-process
    benchmarks and the asyncpg baselines beside them then share the loop the app is served on.
    BENCH_LOOP=asyncio measures on asyncio's own loop."""
    if os.environ.get("BENCH_LOOP", "auto") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)  # type: ignore[arg-type]
    return asyncio.run(main)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serve(database_url: str, **overrides: Any) -> AsyncIterator[Client]:
    """The app with its lifespan running (tortoise connected) and a client for it; `overrides`: Settings fields."""
    # No expiry sweep: a timer firing mid-measurement would only add noise.
    # Every benchmark client is one IP and one token hammering on purpose: rate limits off.
    settings = Settings(
        database_url=database_url,
        expiry_interval=0,
        graphiql=False,
        rate_limit_per_ip=0,
        rate_limit_per_token=0,
        rate_limit_money_per_lender=0,
        **overrides,
    )
    # The garbage collector as `lendgraph serve` tunes a serving process (graph/runtime.py): the figures
    # are those of the app as it is served. BENCH_GC_THRESHOLD=700 measures with Python's default.
    tune_garbage_collector(int(os.environ.get("BENCH_GC_THRESHOLD") or settings.gc_threshold))
    app = create_app(settings)
    async with LifespanManager(app):
        if os.environ.get("BENCH_CLIENT", "asgi") != "httpx":
            yield Client(app)
            return
        transport = httpx.ASGITransport(app=app)
        # A generous timeout: in P2 a request may wait behind a thousand others for a pooled connection.
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=300) as http:
            yield HttpxClient(http)


async def gather_limited(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run jobs with at most `limit` in flight (arrangement: as fast as the pool allows, no more)."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


# ---------------------------------------------------------------- counting SQL

POOL_RESET = "(pool reset)"  # what describe() calls the statement asyncpg's pool sends when a connection returns


_counting: contextvars.ContextVar["SqlCounter | None"] = contextvars.ContextVar("bench_sql_counter", default=None)


class SqlCounter(logging.Handler):
    """Collects the statements tortoise sends (it logs each one at DEBUG on `tortoise.db_client`).

    Only statements sent on behalf of the code inside `attached()` count: the
    tasks a request spawns (resolvers, DataLoader batches) inherit the context
    variable, while the app's background tasks (the outbox hub polling and
    draining events) started earlier do not. Attached only while counting:
    with the logger at DEBUG every query builds a LogRecord, which would tax
    the timed runs.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _counting.get() is not self:
            return
        if record.msg == "%s: %s" and isinstance(record.args, tuple) and record.args:
            self.statements.append(str(record.args[0]))
        elif isinstance(record.msg, str) and "connection pool" not in record.msg:
            self.statements.append(record.msg)

    @contextlib.contextmanager
    def attached(self) -> Iterator["SqlCounter"]:
        logger = logging.getLogger("tortoise.db_client")
        saved = logger.level, logger.propagate
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)
        scope = _counting.set(self)
        try:
            yield self
        finally:
            _counting.reset(scope)
            logger.removeHandler(self)
            logger.setLevel(saved[0])
            logger.propagate = saved[1]


def describe(statement: str) -> str:
    """'SELECT share' from a full statement: enough to see which query runs per request."""
    if "pg_advisory_unlock_all" in statement and "RESET ALL" in statement.upper():
        return POOL_RESET
    words = statement.replace('"', "").rstrip("; ").split()
    verb = words[0].upper() if words else "?"
    target = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}.get(verb)
    upper = [w.upper() for w in words]
    if target and target in upper:
        index = upper.index(target) + (0 if verb == "UPDATE" else 1)
        if index < len(words):
            return f"{verb} {words[index] if verb != 'UPDATE' else words[1]}"
    if verb == "SELECT" and len(words) > 1:  # a function call such as pg_advisory_xact_lock($1)
        return f"SELECT {words[1].split('(')[0]}()"
    return verb


# ---------------------------------------------------------------- checks


async def loan_problems() -> list[str]:
    """Loans funded beyond their amount, or auto-lent beyond half of it (lendgraph's tables)."""
    problems = []
    for loan_id, amount, funded, auto in await Loan.all().values_list(
        "id", "amount_cents", "funded_cents", "auto_funded_cents"
    ):
        if funded > amount:
            problems.append(f"loan {loan_id} overfunded: {funded} of {amount}")
        if auto * 2 > amount:
            problems.append(f"loan {loan_id} auto-lent above half: {auto} of {amount}")
    return problems


# ---------------------------------------------------------------- statistics and output


def ms(seconds: float) -> float:
    return seconds * 1000.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 1,000 values is the 990th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.1f}x" if baseline > 0 else "n/a"


def share(ours: float, baseline: float) -> str:
    """A throughput as a percentage of the baseline's ('5.5%')."""
    return f"{100 * ours / baseline:.1f}%" if baseline > 0 else "n/a"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([c if isinstance(c, str) else _cell(c) for c in cells])

    def render(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.headers)]
        lines = [
            "  ".join(
                h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(self.headers, widths, strict=True))
            )
        ]
        lines.append("  ".join("-" * w for w in widths))
        for row in self.rows:
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        return "\n".join("  " + line for line in lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
