"""P7 - reads over HTTP: `loans(first: 20)` from 20 concurrent clients against one worker.

A real `lendgraph serve` (one worker, PostgreSQL, rate limits off: every
client is 127.0.0.1) and, after it, the bare endpoint of bench/p7_bare.py
(Starlette + asyncpg under uvicorn, one worker, the same pool size) on the
same database. The same closed-loop client (bench/http_load.py, a process of
its own) sends the same request for the same time to each. Both must answer
200 with the same JSON. Reports requests/s, p50 / p99, and the server's CPU
per request, then lendgraph's requests/s as a percentage of the bare
endpoint's (target: at least 50%). lendgraph is measured twice, right after
each other: with its response cache off (RESPONSE_CACHE_SIZE=0: every
request executes) and on (every request after the first is served from
memory: no write happens meanwhile).
"""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import asyncpg_dsn, ms, percentile, share
from bench.http_load import post
from bench.p3_fanout.driver import ONE_IP_SETTINGS, lendgraph_server
from bench.p3_fanout.processes import cpu_seconds, free_port
from lending.accounts import deposit, register_lender
from lending.funding import lend
from lending.loans import Listing, list_loan
from lending.money import LENDING_UNIT
from lending.partners import create_partner
from models import Gender, Sector, db

QUERY = """{ loans(first: 20) { edges { cursor node { id name use sector amount fundedAmount
  partner { name riskRating } } } pageInfo { hasNextPage endCursor } } }"""
SECTORS = list(Sector)


async def arrange(loans: int) -> None:
    """`loans` fundraising loans over 10 partners, every third with a lend (so funded amounts differ)."""
    now = datetime.now(UTC)
    partners = [await create_partner(f"Partner {i}", "KE", f"{1 + i % 4}.{5 * (i % 2)}") for i in range(10)]
    lender, _ = await register_lender("Reader", "reader@example.org")
    await deposit(lender.id, f"{loans * LENDING_UNIT // 100}.00", "p7-credit", now)
    for i in range(loans):
        listing = Listing(
            name=f"Borrower {i}",
            use="to buy stock for a small shop",
            country="KE",
            sector=SECTORS[i % len(SECTORS)],
            gender=Gender.FEMALE if i % 2 else Gender.MALE,
            amount="1000.00",
            term_months=12,
        )
        loan = await list_loan(partners[i % len(partners)], listing, now)
        if i % 3 == 0:
            await lend(lender.id, loan.id, "25.00", f"p7-lend-{i}", now)


@contextlib.asynccontextmanager
async def bare_server(database_url: str, pool: int, log_path: Path) -> AsyncIterator[tuple[int, int]]:
    """bench/p7_bare.py under uvicorn on a free port: (port, pid)."""
    port = free_port()
    env = {**os.environ, "P7_DSN": asyncpg_dsn(database_url), "P7_POOL": str(pool)}
    command = [sys.executable, "-m", "uvicorn", "bench.p7_bare:app", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:  # noqa: ASYNC230 - before anything is measured
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY})).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    logged = await asyncio.to_thread(log_path.read_text)
                    raise RuntimeError(f"the bare server did not start: {logged[-2000:]}")
                await asyncio.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait)


async def load(port: int, pid: int, clients: int, seconds: float) -> dict[str, Any]:
    """The closed-loop client's figures against one server, with that server's CPU seconds meanwhile."""
    request = post("/graphql", "127.0.0.1", json.dumps({"query": QUERY}).encode())
    command = [sys.executable, "-m", "bench.http_load", "127.0.0.1", str(port), str(clients), str(seconds)]
    before = cpu_seconds([pid])
    client = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await client.communicate(request)
    if client.returncode:
        raise RuntimeError(f"the load client failed: {err.decode()[-2000:]}")
    found: dict[str, Any] = json.loads(out)
    found["cpu"] = cpu_seconds([pid]) - before
    return found


def row(name: str, found: dict[str, Any]) -> str:
    latencies = found["latencies"]
    rate = len(latencies) / found["seconds"]
    cpu = 1000 * found["cpu"] / max(len(latencies), 1)
    p50, p99 = ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99))
    return f"  {name:22} {rate:9.0f}  {p50:7.2f}  {p99:7.2f}  {cpu:13.3f}  {found['statuses']}"


async def run(url: str, *, loans: int, clients: int, seconds: float, pool: int) -> str:
    """Print P7's table; return its summary line. `url`: a fresh, migrated PostgreSQL database."""
    await db.connect(url)
    try:
        await arrange(loans)
    finally:
        await db.disconnect()
    served = f"{url}?minsize={pool}&maxsize={pool}"
    measured: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lendgraph_p7_") as directory:
        # The same server without and with its response cache (graph/response_cache.py), one after the other.
        for name, size in (("lendgraph, no cache", "0"), ("lendgraph, cache", "1000")):
            log = Path(directory) / f"lendgraph-{size}.log"
            settings = {**ONE_IP_SETTINGS, "RESPONSE_CACHE_SIZE": size}
            async with lendgraph_server(served, "memory://", 1, log, settings) as (port, process):
                await load(port, process.pid, clients, 2)  # warm up: caches, the pool, the first plans
                measured[name] = await load(port, process.pid, clients, seconds)
        async with bare_server(url, pool, Path(directory) / "bare.log") as (port, pid):
            await load(port, pid, clients, 2)
            measured["bare Starlette+asyncpg"] = bare = await load(port, pid, clients, seconds)
    for name, found in measured.items():
        if set(found["statuses"]) != {"200"}:  # status codes are JSON keys: strings
            raise RuntimeError(f"P7: {name} answered {found['statuses']}")
        if json.loads(found["body"]) != json.loads(bare["body"]):
            raise RuntimeError(f"P7: the answers differ:\n{found['body'][:600]}\n{bare['body'][:600]}")
    rates = {name: len(found["latencies"]) / found["seconds"] for name, found in measured.items()}
    percentages = {name: share(rates[name], rates["bare Starlette+asyncpg"]) for name in measured}
    print(f"  {loans} loans; {clients} clients for {seconds:.0f} s each; one worker; pool {pool}; same JSON from all")
    print(f"  {'server':22} {'req/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'CPU ms/request':>13}  statuses")
    for name, found in measured.items():
        print(row(name, found))
    for name in ("lendgraph, no cache", "lendgraph, cache"):
        print(f"  {name} / bare requests/s: {percentages[name]} (target 50%)")
    return (
        f"P7 reads (loans(first: 20), {clients} clients, one worker): {rates['lendgraph, cache']:.0f} requests/s, "
        f"{percentages['lendgraph, cache']} of bare ({percentages['lendgraph, no cache']} without the response cache)"
    )
