"""P3's driver on the lendgraph side: the server, its world, the mutations at a fixed pace, their commits.

`lendgraph serve` runs as a real process (uvicorn workers, PostgreSQL, Redis hints); the partners come
from `lendgraph create-partner`, the lenders and the hot loans from the HTTP API. The driver sends the
schedule's mutations one at a time, and stamps each one's commit with the hint the app publishes on
Redis right after COMMIT (graph/pipeline.py, after the mutation).
"""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis import asyncio as redis

from bench.common import asyncpg_dsn, graphql_data
from bench.p3_fanout.processes import free_port, uvicorn_workers
from bench.p3_fanout.workload import COUNTRIES, Mutation, listing
from graph.ids import decode_id
from subscriptions.bus import channel_for

REGISTER = """mutation R($input: RegisterLenderInput!) { registerLender(input: $input) {
  __typename ... on RegisterLenderSuccess { token } ... on UserError { code message } } }"""
DEPOSIT = """mutation D($input: DepositInput!) { deposit(input: $input) {
  __typename ... on UserError { code message } } }"""
LIST_LOAN = """mutation L($input: ListLoanInput!) { listLoan(input: $input) {
  __typename ... on ListLoanSuccess { loan { id } } ... on UserError { code message } } }"""
LEND = """mutation Lend($input: LendInput!) { lend(input: $input) { __typename ... on UserError { code message } } }"""


LENDGRAPH = Path(sys.executable).with_name("lendgraph")
# Every simulated client connects from 127.0.0.1: per-IP limits (graph/limits/transport.py,
# graph/limits/rate.py) would refuse all but the first few hundred. Off for the bench, unless set in the
# environment; the others stay.
ONE_IP_SETTINGS = {
    "MAX_WS_CONNECTIONS_PER_IP": "0",
    "RATE_LIMIT_PER_IP": "0",
    "RATE_LIMIT_PER_TOKEN": "0",
    "RATE_LIMIT_MONEY_PER_LENDER": "0",
}


async def lendgraph_cli(database_url: str, *args: str) -> str:
    """Run a `lendgraph` command on the database; return what it printed."""
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
async def lendgraph_server(
    database_url: str,
    broadcast_url: str,
    workers: int,
    log_path: Path,
    settings: dict[str, str] = ONE_IP_SETTINGS,
) -> AsyncIterator[tuple[int, subprocess.Popen[bytes]]]:
    """`lendgraph serve` on a free port, its log in `log_path`, once every worker is up; stopped after.

    `settings`: environment variables the server gets unless the environment sets them.
    """
    port = free_port()
    env = {**settings, **os.environ, "DATABASE_URL": database_url, "BROADCAST_URL": broadcast_url}
    with open(log_path, "wb") as log:  # noqa: ASYNC230 - before anything is measured
        process = subprocess.Popen(  # noqa: ASYNC220 - the server outlives this call; stopped by its pid
            [str(LENDGRAPH), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    logged = await asyncio.to_thread(log_path.read_text)
                    raise RuntimeError(f"lendgraph serve did not start: {logged[-3000:]}")
                await asyncio.sleep(0.2)
        # Both workers up: uvicorn starts them one after another (one worker is the process itself).
        while workers > 1 and time.monotonic() < deadline:
            if len(uvicorn_workers(process.pid)) >= workers:
                break
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
    """POSTs GraphQL to the real server."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http, self.url = http, url

    async def post(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(self.url, json={"query": query, "variables": variables}, headers=headers)
        return graphql_data(response)


async def arrange(
    api: Api, database_url: str, hot_loans: int, shares: int
) -> tuple[dict[str, str], list[str], list[str]]:
    """Partners (one per country, each by `lendgraph create-partner`), lenders with credit, the hot loans."""
    outputs = await asyncio.gather(
        *(
            lendgraph_cli(
                database_url, "create-partner", "--name", f"{code} Partner", "--country", code, "--risk-rating", risk
            )
            for code, risk in COUNTRIES.items()
        )
    )
    partner_tokens = {code: out.strip().splitlines()[-1] for code, out in zip(COUNTRIES, outputs, strict=True)}
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
            LIST_LOAN, {"input": listing(900 + h, code, "FOOD", "FEMALE", f"{25 * shares}.00")}, partner_tokens[code]
        )
        hot_ids.append(data["listLoan"]["loan"]["id"])
    return partner_tokens, lenders, hot_ids


async def drive(api: Api, schedule: list[Mutation], interval: float) -> float:
    """Send the mutations one at a time, each at its slot (or when the previous one answered)."""
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


async def listen_announcements(url: str, stamps: list[float], ready: asyncio.Event) -> None:
    """Stamp each hint the app publishes on Redis after a mutation (graph/pipeline.py: after COMMIT)."""
    client = redis.Redis.from_url(url)
    async with client, client.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(channel_for(url))
        ready.set()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                stamps.append(time.monotonic())


def commit_times(schedule: list[Mutation], stamps: list[float]) -> int:
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


# An outbox row: id, kind, loan id, lender id, payload.
OutboxEvent = tuple[int, str, int | None, int | None, dict[str, Any]]


async def outbox_events(database_url: str, after_id: int) -> list[OutboxEvent]:
    """The outbox's events after `after_id`, in order, read with a bare connection."""
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


async def last_event_id(database_url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        last: int = await connection.fetchval("SELECT coalesce(max(id), 0) FROM event")
        return last
    finally:
        await connection.close()
