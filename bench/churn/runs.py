"""The churn soak's driver: `lendgraph serve` (one process), the client process, the samples and the verdict.

The server runs as P3 runs it (bench/p3_fanout/driver.py: PostgreSQL, Redis, a fresh database), with
MEMORY_STATS_DIR set so /debug/memory reports its structures' sizes. The client runs the cycles in
batches of `sample_every`; between batches, with no cycle in flight, the driver reads the server's
RSS (VmRSS of /proc/<pid>/status), open sockets and /debug/memory. The issue's criterion: RSS after the
last cycle within 10% of RSS after the first 10,000. Last, the client holds `idle` subscribed sockets
open: the RSS they add, per socket, is the memory of an idle connection.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import common
from bench.p3_fanout.driver import LIST_LOAN, REGISTER, Api, lendgraph_cli, lendgraph_server
from bench.p3_fanout.processes import ROOT, rss_mb, sockets, wait_idle
from bench.p3_fanout.workload import listing

BASELINE_CYCLES = 10_000  # the issue's: RSS after these is the yardstick
TOLERANCE = 0.10
# Limits as in production, but high enough for one IP: the buckets and counters still work.
SERVER_SETTINGS = {
    "MAX_WS_CONNECTIONS_PER_IP": "100000",
    "RATE_LIMIT_PER_IP": "1000000000",
    "RATE_LIMIT_PER_TOKEN": "1000000000",
}
STATS = ("subscribers", "revocation_watchers", "tasks", "shared_results", "rate_buckets", "gc_objects")


@dataclass
class Sample:
    cycles: int
    rss: float  # MB
    sockets: int
    stats: dict[str, Any] = field(default_factory=dict)


class ClientProcess:
    """A client process (`python -m bench.churn client` by default): one JSON line each way."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process, self.stdin, self.stdout = process, process.stdin, process.stdout

    @classmethod
    async def start(cls, config: dict[str, Any], module: str = "bench.churn") -> "ClientProcess":
        """`python -m <module> client`, its config sent as the first line."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, "client", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "PYTHONTRACEMALLOC"},
        )  # fmt: skip
        client = cls(process)
        client.stdin.write(json.dumps(config).encode() + b"\n")
        return client

    async def ask(self, command: str, seconds: float = 3600) -> dict[str, Any]:
        self.stdin.write(command.encode() + b"\n")
        await self.stdin.drain()
        line = await asyncio.wait_for(self.stdout.readline(), seconds)
        if not line:
            raise RuntimeError(f"a client process ended early (exit code {await self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stdin.write(b"exit\n")
            await self.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def arrange(api: Api, database_url: str, lenders: int) -> dict[str, Any]:
    """A partner in Kenya, lenders with tokens, one loan for loanProgress."""
    out = await lendgraph_cli(
        database_url, "create-partner", "--name", "KE Partner", "--country", "KE", "--risk-rating", "3.5"
    )
    partner = out.strip().splitlines()[-1]
    tokens = []
    for i in range(lenders):
        data = await api.post(REGISTER, {"input": {"displayName": f"Churner {i}", "email": f"churn{i}@example.org"}})
        tokens.append(data["registerLender"]["token"])
    data = await api.post(LIST_LOAN, {"input": listing(0, "KE", "FOOD", "FEMALE", "500.00")}, partner)
    return {"partner": partner, "tokens": tokens, "loan_id": data["listLoan"]["loan"]["id"]}


async def sample(http: httpx.AsyncClient, port: int, pid: int, cycles: int, query: str = "") -> Sample:
    await wait_idle([pid], limit=10)
    stats = (await http.get(f"http://127.0.0.1:{port}/debug/memory{query}")).json()
    return Sample(cycles, rss_mb(pid), sockets(pid), stats)


def row(s: Sample) -> str:
    counters = " ".join(f"{name}={s.stats.get(name, '?')}" for name in STATS)
    return f"  {s.cycles:>7} cycles  RSS {s.rss:7.1f} MB  sockets {s.sockets:>4}  {counters}"


def top_growth(directory: Path, first: str, second: str, limit: int = 15) -> list[str]:
    """The allocation sites that grew most between two snapshots the server wrote."""
    older = tracemalloc.Snapshot.load(str(directory / f"{first}.tracemalloc"))
    newer = tracemalloc.Snapshot.load(str(directory / f"{second}.tracemalloc"))
    return [str(stat) for stat in newer.compare_to(older, "lineno")[:limit]]


async def run(
    database_url: str,
    broadcast_url: str,
    *,
    cycles: int,
    concurrency: int,
    sample_every: int,
    idle: int,
    lenders: int = 20,
    server_env: dict[str, str] | None = None,
    snapshots: tuple[int, ...] = (),
    endings: list[str] | None = None,
) -> str:
    """Run the soak; print every sample and the figures; return the summary line."""
    with tempfile.TemporaryDirectory(prefix="lendgraph_churn_") as directory:
        # The server inherits this environment (lendgraph_server): the defaults above unless set already,
        # then what the run asks for.
        forced = {**(server_env or {}), "MEMORY_STATS_DIR": directory}
        if snapshots:
            forced["PYTHONTRACEMALLOC"] = "1"
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in SERVER_SETTINGS.items() if k not in os.environ})
        os.environ.update(forced)
        try:
            server = lendgraph_server(database_url, broadcast_url, 1, Path(directory) / "server.log")
            async with server as (port, process), httpx.AsyncClient(timeout=60) as http:
                world = await arrange(Api(http, f"http://127.0.0.1:{port}/graphql"), database_url, lenders)
                config = {"port": port, "concurrency": concurrency, "endings": endings, **world}
                client = await ClientProcess.start(config)
                try:
                    return await soak(client, http, port, process.pid, cycles, sample_every, idle, snapshots)
                finally:
                    await client.close()
        finally:
            os.environ.clear()
            os.environ.update(saved)


async def soak(
    client: ClientProcess,
    http: httpx.AsyncClient,
    port: int,
    pid: int,
    cycles: int,
    sample_every: int,
    idle: int,
    snapshots: tuple[int, ...],
) -> str:
    samples = [await sample(http, port, pid, 0)]
    print(row(samples[0]), flush=True)
    errors: dict[str, int] = {}
    seconds = 0.0
    done = 0
    directory = None
    while done < cycles:
        reply = await client.ask(f"cycles {min(sample_every, cycles - done)}")
        done, errors = reply["done"], reply["errors"]
        seconds += reply["seconds"]
        query = f"?snapshot=at{done}" if done in snapshots else ""
        samples.append(await sample(http, port, pid, done, query))
        if "snapshot" in samples[-1].stats:
            directory = Path(samples[-1].stats["snapshot"]).parent
        print(row(samples[-1]) + f"  ({seconds:.0f} s)", flush=True)
    if directory is not None and len(snapshots) >= 2:
        print(f"\n  tracemalloc: growth from {snapshots[0]} to {snapshots[-1]} cycles, top sites")
        for line in top_growth(directory, f"at{snapshots[0]}", f"at{snapshots[-1]}"):
            print("    " + line)
    if errors:
        print(f"  errors met by cycles: {errors}")

    before = await sample(http, port, pid, done)
    held = (await client.ask(f"hold {idle}"))["held"] if idle else 0
    holding = await sample(http, port, pid, done)
    if idle:
        await client.ask("release")
    per_socket = (holding.rss - before.rss) * 1024 / held if held else 0.0
    print(
        f"  idle: {held} subscribed sockets held: RSS {before.rss:.1f} -> {holding.rss:.1f} MB, "
        f"{per_socket:.1f} KB per connection ({holding.stats.get('subscribers')} subscribers)"
    )
    return verdict(samples, per_socket, seconds)


def verdict(samples: list[Sample], per_socket: float, seconds: float) -> str:
    last = samples[-1]
    base = next((s for s in samples if s.cycles >= BASELINE_CYCLES), None)
    rate = last.cycles / seconds if seconds else 0.0
    if base is None or base is last:
        return f"churn: {last.cycles} cycles, RSS {samples[0].rss:.0f} -> {last.rss:.0f} MB ({rate:.0f} cycles/s)"
    ratio = last.rss / base.rss
    holds = "holds" if ratio <= 1 + TOLERANCE else "FAILS"
    return (
        f"churn: RSS {base.rss:.1f} MB after {base.cycles:,} cycles, {last.rss:.1f} MB after {last.cycles:,} "
        f"(x{ratio:.3f}, criterion <= x{1 + TOLERANCE:.2f}: {holds}); started at {samples[0].rss:.1f} MB; "
        f"idle connection {per_socket:.1f} KB; {rate:.0f} cycles/s"
    )


async def from_args(args: argparse.Namespace, pg_unreachable: str | None) -> str:
    """`python -m bench --only churn`: the soak with the command line's sizes; its summary line."""
    print(
        f"\nchurn soak: {args.churn_cycles} connect/subscribe/query/disconnect cycles, {args.churn_concurrency} "
        "at a time, against one lendgraph serve process (PostgreSQL + Redis)"
    )
    broken = pg_unreachable or await common.redis_reachable(common.REDIS_URL)
    if broken is not None:
        print(f"  skipped: the soak needs PostgreSQL and Redis ({broken})")
        return "churn: skipped (no PostgreSQL or Redis)"
    async with common.pg_database() as url:
        return await run(
            url,
            common.REDIS_URL,
            cycles=args.churn_cycles,
            concurrency=args.churn_concurrency,
            sample_every=args.churn_sample,
            idle=args.idle_sockets,
            server_env=dict(item.split("=", 1) for item in args.server_env),
            snapshots=args.snapshots,
            endings=args.churn_endings,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The soak's options, for `python -m bench`."""
    churn = parser.add_argument_group("churn soak (memory of one server process; not in a plain run: --only churn)")
    churn.add_argument("--churn-cycles", type=int, default=50_000, help="connect/subscribe/query/disconnect cycles")
    churn.add_argument("--churn-concurrency", type=int, default=50, help="cycles at a time (50)")
    churn.add_argument("--churn-sample", type=int, default=1000, help="cycles between samples (1000)")
    churn.add_argument("--idle-sockets", type=int, default=1000, help="idle subscribed sockets held at the end (1000)")
    churn.add_argument(
        "--churn-endings",
        type=lambda s: s.split(","),
        help="how cycles end, taken in turn (complete,close,drop,drop-mid-subscribe: all four)",
    )
    churn.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="set in the server's environment"
    )
    churn.add_argument(
        "--snapshots",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=(),
        help="cycle counts at which the server (under tracemalloc) writes snapshots; the growth between "
        "the first and the last is printed (e.g. 10000,30000)",
    )
