"""The load run's driver: a fresh database, `lendgraph serve --workers 2`, the clients, the samples, the books.

The server is the production setup of the README: PostgreSQL (`DATABASE_URL` with `minsize=5&maxsize=20`
unless `--pool` says otherwise), Redis for events and rate-limit counters (`BROADCAST_URL`), two uvicorn
workers, every limit at its default except the two that count per client IP: every simulated client
here is 127.0.0.1, where in production they are thousands of addresses (bench/README.md, Load run).
"""

import argparse
import asyncio
import json
import os
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.churn.runs import ClientProcess
from bench.load import arrange, plot, report
from bench.load.mix import WEIGHTS
from bench.load.watch import Watch
from bench.p3_fanout.driver import lendgraph_server
from lending.ledger import check_books
from models import Account, Loan, Transfer, db

# Per-IP limits off (one IP stands for thousands); per-token and per-lender money limits at their defaults.
SERVER_SETTINGS = {"RATE_LIMIT_PER_IP": "0", "MAX_WS_CONNECTIONS_PER_IP": "0"}


async def books(url: str) -> dict[str, Any]:
    """lending.ledger.check_books (the tests' check) on the run's database, with the figures it covers."""
    await db.connect(url)
    try:
        found = await check_books()
        balances = await Account.all().values_list("kind", "balance_cents")
        by_kind: dict[str, int] = {}
        for kind, cents in balances:
            by_kind[str(kind.value)] = by_kind.get(str(kind.value), 0) + cents
        figures = {
            "accounts": len(balances),
            "transfers": await Transfer.all().count(),
            "loans": await Loan.all().count(),
            "sum of balances (cents)": found.total_cents,
            **{f"{kind} balances (cents)": cents for kind, cents in sorted(by_kind.items())},
        }
    finally:
        await db.disconnect()
    return {"check": "lending.ledger.check_books", "ok": found.ok, "problems": found.problems, "figures": figures}


async def run(args: argparse.Namespace) -> int:
    unreachable = await common.pg_reachable() or await common.redis_reachable(args.redis)
    if unreachable:
        print(f"load: PostgreSQL or Redis unreachable: {unreachable}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    name = f"loadtest_{os.getpid()}"
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    async with common.pg_database(common.PG_SERVER, name, keep=args.keep) as url:
        print(f"load: database {name}; arranging {args.lenders} lenders, {args.loans} loans, {args.funded} funded")
        started = time.monotonic()
        await db.connect(url)
        try:
            world = await arrange.arrange(rng, args.lenders, args.loans, args.funded)
        finally:
            await db.disconnect()
        print(f"load: arranged in {time.monotonic() - started:.1f} s")
        subscribed = arrange.subscriptions(world, args.subscriptions, rng)
        served = f"{url}?minsize={min(5, args.pool)}&maxsize={args.pool}"
        settings = {**SERVER_SETTINGS, "RATE_LIMIT_KEY_PREFIX": f"{name}:"}
        with tempfile.TemporaryDirectory(prefix="lendgraph_load_") as directory:
            log = Path(directory) / "server.log"
            async with lendgraph_server(served, args.redis, args.workers, log, settings) as (port, process):
                common_config = {
                    "host": "127.0.0.1",
                    "port": port,
                    "rate": args.rate,
                    "duration": args.duration,
                    "timeout": args.timeout,
                    "connections": args.connections,
                    "seed": args.seed,
                    "tag": f"{name}-{args.seed}",
                    "weights": args.mix or WEIGHTS,
                }
                configs = arrange.client_configs(world, subscribed, args.clients, common_config)
                clients = [await ClientProcess.start(c, "bench.load") for c in configs]
                try:
                    found, samples = await _drive(args, clients, process.pid, url, name, directory)
                finally:
                    for client in clients:
                        await client.close()
                server_log = await asyncio.to_thread(log.read_text, errors="replace")
        checked = await books(url)
    figures = report.figures(found, samples, duration=args.duration, warmup=args.warmup, rate=args.rate)
    setup = {
        "server": f"lendgraph serve --workers {args.workers}, PostgreSQL pool maxsize {args.pool} per worker, "
        f"Redis {args.redis}; per-IP limits off, per-token and money limits at their defaults",
        "world": f"{args.lenders} lenders, {len(world.partners)} partners, {args.loans} fundraising and "
        f"{args.funded} funded loans at the start",
        "mix": ", ".join(f"{op} {weight:g}" for op, weight in (args.mix or WEIGHTS).items() if weight),
        "clients": args.clients,
        "subscriptions": args.subscriptions,
        "load_before": load_before,
        "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    return publish(Path(args.out), figures, checked, setup, server_log)


def publish(out: Path, figures: dict[str, Any], checked: dict[str, Any], setup: dict[str, Any], log: str) -> int:
    """Write and print the report; the exit status: 1 when an untyped error was seen or the books do not balance."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "server.log").write_text(log)
    plot.draw(figures, out / "rss.png")
    text = report.markdown(figures, checked, setup)
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps({"setup": setup, **figures, "books": checked}, indent=1))
    print(text)
    print(f"load: report.json, report.md, rss.png and server.log in {out}")
    return 1 if figures["untyped_errors"] or not checked["ok"] else 0


async def _drive(
    args: argparse.Namespace, clients: list[ClientProcess], server_pid: int, url: str, name: str, directory: str
) -> tuple[list[dict[str, Any]], Any]:
    ready = [json.loads(await asyncio.wait_for(client.stdout.readline(), 120)) for client in clients]
    print(f"load: {sum(r['ready'] for r in ready)} of {args.subscriptions} subscriptions open")
    watch = Watch(server_pid, [c.process.pid for c in clients], common.asyncpg_dsn(url), name)
    rest = await watch.at_rest(3.0)
    await watch.start()
    watch.samples.server_at_rest = rest
    go = time.monotonic() + 0.5
    for client in clients:
        await client.ask(f"go {go}")
    next_print = go
    while (now := time.monotonic()) < go + args.duration:
        await asyncio.sleep(min(args.sample, go + args.duration - now))
        statuses = [await client.ask("status") for client in clients]
        done = sum(s["done"] for s in statuses)
        rss = await watch.sample(time.monotonic() - go, done)
        if time.monotonic() >= next_print:
            next_print += args.print_every
            workers = ", ".join(f"{mb:.0f}" for _, mb in rss)
            in_flight, behind = sum(s["in_flight"] for s in statuses), max(s["behind"] for s in statuses)
            print(
                f"load: {time.monotonic() - go:6.0f} s  {done} answered  {in_flight} in flight  "
                f"behind {behind:.2f} s  RSS MB {workers}"
            )
    found = []
    for n, client in enumerate(clients):
        path = Path(directory) / f"client{n}.pickle"
        await client.ask(f"results {path}", args.timeout + 120)
        found.append(_load(path))
    samples = watch.finish()
    return found, samples


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = pickle.loads(path.read_bytes())
    return loaded
