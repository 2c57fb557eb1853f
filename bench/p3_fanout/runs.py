"""P3's two runs on the same subscribers and schedule, lendgraph's and the baseline's, and `run`, which does both."""

import asyncio
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench.p3_fanout.client import raise_fd_limit
from bench.p3_fanout.driver import (
    ONE_IP_SETTINGS,
    Api,
    arrange,
    commit_times,
    drive,
    last_event_id,
    lendgraph_server,
    listen_announcements,
    outbox_events,
)
from bench.p3_fanout.processes import (
    ROOT,
    Clients,
    await_deliveries,
    children,
    cpu_seconds,
    free_port,
    rss_mb,
    sockets,
    uvicorn_workers,
    wait_idle,
)
from bench.p3_fanout.scoring import LendgraphRun, Outcome, Published, expectations, report, score
from bench.p3_fanout.workload import Mutation, Spec, make_schedule, make_specs
from graph.ids import decode_id


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
) -> LendgraphRun:
    """The real server, its world arranged, the subscribers connected, the schedule driven, every delivery scored."""
    outcome = Outcome("lendgraph", len(specs))
    with tempfile.TemporaryDirectory(prefix="lendgraph_p3_") as directory:
        log_path = Path(directory) / "serve.log"
        async with (
            lendgraph_server(database_url, broadcast_url, workers, log_path) as (port, server),
            httpx.AsyncClient(timeout=120) as http,
        ):
            api = Api(http, f"http://127.0.0.1:{port}/graphql")
            partner_tokens, lenders, hot_ids = await arrange(api, database_url, hot_loans, shares)
            hot_loan_ids = [decode_id(g, "Loan") for g in hot_ids]
            schedule = make_schedule(listings, hot_loans, shares, partner_tokens, lenders, hot_ids, rng)
            workers_pids = uvicorn_workers(server.pid) if workers > 1 else [server.pid]
            all_pids = [server.pid, *children(server.pid)]
            await wait_idle(all_pids)
            clients = Clients(processes)
            try:
                cpu = cpu_seconds(all_pids)
                made = await clients.connect(port, "/graphql", specs, hot_ids)
                await wait_idle(all_pids)  # every subscription registered with its worker's hub
                outcome.server_cpu_connect = cpu_seconds(all_pids) - cpu
                outcome.connected, outcome.connect_seconds = made.connected, made.seconds
                outcome.failures = made.failures
                outcome.server_sockets = [sockets(p) for p in workers_pids]
                outcome.server_rss_mb = sum(rss_mb(p) for p in workers_pids)
                marker = await last_event_id(database_url)
                stamps: list[float] = []
                listening = asyncio.Event()
                listener = asyncio.create_task(listen_announcements(broadcast_url, stamps, listening))
                await asyncio.wait_for(listening.wait(), 10)
                cpu = cpu_seconds(all_pids)
                try:
                    start = await drive(api, schedule, interval)
                    events = await outbox_events(database_url, marker)
                    published = expectations(events, schedule, specs, hot_loan_ids)
                    expected = sum(len(p.recipients) for p in published)
                    outcome.drain_wait = await await_deliveries(clients, expected)
                    outcome.server_cpu = cpu_seconds(all_pids) - cpu
                finally:
                    listener.cancel()
                    await asyncio.gather(listener, return_exceptions=True)
                announced = commit_times(schedule, stamps)
                # uvicorn's supervisor kills a worker that misses its health check (5 s): its sockets drop.
                restarted = sorted(set(uvicorn_workers(server.pid)) - set(workers_pids)) if workers > 1 else []
                collected = await clients.collect()
            finally:
                await clients.close()
        log_lines = log_path.read_text(errors="replace").splitlines()
    score(outcome, published, collected, start)
    samples: dict[int, bytes] = {}
    for part in collected:
        for event_id, payload in part["samples"].items():
            samples.setdefault(event_id, payload)
    problems = [line for line in log_lines if any(w in line for w in ("ERROR", "WARNING", "Traceback", "died"))]
    return LendgraphRun(
        outcome,
        published,
        samples,
        schedule,
        hot_ids,
        workers=len(workers_pids),
        announced=announced,
        restarted=restarted,
        log_lines=len(log_lines),
        log_problems=problems[:5],
    )


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
    outcome = Outcome("websockets broadcast", len(specs))
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.p3_fanout",
        "baseline-server",
        str(port),
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert server.stdout is not None  # made with PIPE
    try:
        await asyncio.wait_for(server.stdout.readline(), 30)
        clients = Clients(processes)
        try:
            cpu = cpu_seconds([server.pid])
            made = await clients.connect(port, "/graphql", specs, hot_ids)
            await wait_idle([server.pid])
            outcome.server_cpu_connect = cpu_seconds([server.pid]) - cpu
            outcome.connected, outcome.connect_seconds = made.connected, made.seconds
            outcome.failures = made.failures
            outcome.server_sockets = [sockets(server.pid)]
            outcome.server_rss_mb = rss_mb(server.pid)
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
            cpu = cpu_seconds([server.pid])
            async with connect(
                f"ws://127.0.0.1:{port}/control",
                max_size=2**24,
                compression=None,
                subprotocols=[Subprotocol("graphql-transport-ws")],
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
                            if m.hot is None
                            else {"topic": "progress", "loan": hot_ids[m.hot]}
                        )
                        await control.send(json.dumps({**message, "text": text.decode()}))
                        await control.recv()
                    copy.answered = copy.committed = time.monotonic()
                remapped = [Published(p.event_id, replayed[id(p.mutation)], p.recipients) for p in published]
                outcome.drain_wait = await await_deliveries(clients, sum(len(p.recipients) for p in published))
            outcome.server_cpu = cpu_seconds([server.pid]) - cpu
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
    score(outcome, remapped, collected, start)
    return outcome


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
    limit = raise_fd_limit()
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

    ours = await run_lendgraph(
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
    # The bare server is one process: past its open-file limit it cannot hold every socket (lendgraph's
    # are spread over its workers), and measuring it would only fail.
    if subscribers + 256 > limit:
        print(f"  baseline skipped: one process cannot hold {subscribers} sockets under the open-file limit {limit}")
        base = Outcome("websockets broadcast", subscribers)
    else:
        base = await run_baseline(specs, ours.published, ours.samples, ours.schedule, ours.hot_ids, processes, interval)
    return report(ours, base, subscribers)
