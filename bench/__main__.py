"""`python -m bench`: run the benchmarks, each against a baseline measured in the same run."""

import argparse
import os
import platform
import sys
import time

from bench import common


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", choices=["P1", "P2", "P3", "P4", "P5", "P6", "P7", "CHURN"], type=str.upper, help="run one benchmark"
    )
    parser.add_argument("--sqlite", action="store_true", help="P1 and P4 on SQLite even when PostgreSQL is reachable")
    p1 = parser.add_argument_group("P1 portfolio read")
    p1.add_argument("--shares", type=int, default=1000, help="shares of the lender, one loan each (1000)")
    p1.add_argument("--partners", type=int, default=50, help="field partners the loans spread over (50)")
    p1.add_argument("--requests", type=int, default=200, help="timed requests per page size and path (200)")
    p1.add_argument("--warmup", type=int, default=20, help="untimed requests before timing (20)")
    p1.add_argument(
        "--pages",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10, 100],
        help="page sizes, comma-separated (10,100)",
    )
    p2 = parser.add_argument_group("P2 hot loan")
    p2.add_argument("--attempts", type=int, default=1000, help="concurrent lend attempts, one lender each (1000)")
    p2.add_argument("--loan-shares", type=int, default=40, help="25.00 shares the loan has room for (40)")
    p2.add_argument("--pool", type=int, default=20, help="connection pool size of both paths (20)")
    p3 = parser.add_argument_group("P3 live fan-out")
    p3.add_argument("--subscribers", type=int, default=10_000, help="WebSocket subscribers (10000)")
    p3.add_argument("--hot-loans", type=int, default=4, help="hot loans followed by loanProgress (4)")
    p3.add_argument("--hot-shares", type=int, default=8, help="25.00 lends that fill each hot loan (8)")
    p3.add_argument("--listings", type=int, default=12, help="loans listed while subscribers listen (12)")
    p3.add_argument("--interval", type=float, default=100, help="ms between mutations (100)")
    p3.add_argument("--client-processes", type=int, default=2, help="processes the subscribers spread over (2)")
    p3.add_argument("--workers", type=int, default=2, help="lendgraph serve --workers (2)")
    p4 = parser.add_argument_group("P4 saved-search matching")
    p4.add_argument(
        "--searches",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[100_000, 1_000_000],
        help="saved searches, comma-separated sizes, each a run of its own; up to 200000 inserted as rows, "
        "above that generated in memory only (100000,1000000)",
    )
    p4.add_argument("--loans", type=int, default=8, help="of the 200 listings the index is timed on, also scanned (8)")
    p4.add_argument("--scan-loans", type=int, default=2, help="of those, also matched by the full linear scan (2)")
    p5 = parser.add_argument_group("P5 repayment with auto-relending")
    p5.add_argument("--relenders", type=int, default=200, help="lenders repaid at once, each with a rule (200)")
    p6 = parser.add_argument_group("P6 platform under unrelated load (pool: --pool)")
    p6.add_argument("--depositors", type=int, default=1000, help="deposits of 25.00, one lender each (1000)")
    p6.add_argument("--spread-lends", type=int, default=2000, help="lends of 25.00, two per lender (2000)")
    p6.add_argument("--spread-loans", type=int, default=200, help="fundraising loans the lends spread over (200)")
    p7 = parser.add_argument_group("P7 reads over HTTP")
    p7.add_argument("--browse-loans", type=int, default=200, help="loans in the database (200)")
    p7.add_argument("--clients", type=int, default=20, help="concurrent keep-alive clients (20)")
    p7.add_argument("--seconds", type=float, default=10, help="seconds each server is measured (10)")

    from bench.churn.runs import add_arguments

    add_arguments(parser)
    args = parser.parse_args(argv)
    if (
        min(
            args.shares,
            args.attempts,
            args.loan_shares,
            args.pool,
            args.subscribers,
            args.hot_shares,
            args.client_processes,
            args.workers,
            *args.searches,
            args.loans,
            args.scan_loans,
            args.depositors,
            args.spread_lends,
            args.browse_loans,
            args.clients,
            args.churn_cycles,
            args.churn_concurrency,
            args.churn_sample,
        )
        < 1
        or min(args.hot_loans, args.listings) < 0
        or args.spread_loans < 2
    ):
        parser.error("sizes must be positive (and --spread-loans at least 2)")
    return args


async def main(args: argparse.Namespace) -> int:
    print(
        f"lendgraph benchmarks - Python {platform.python_version()}, {_cores()} cores, {platform.machine()}, {_load()}"
    )
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy > 0.75 * _cores():
        print(
            f"note: the machine is busy (load {busy:.1f} on {_cores()} cores); other processes delay every round "
            "trip, so medians are noisy - the ratio of minimums (P1) is the steadier figure"
        )
    reachable = await common.pg_reachable()
    if reachable is not None:
        print(f"PostgreSQL is not reachable at {common.PG_SERVER} ({reachable})")
    summaries = []
    started = time.perf_counter()

    if args.only in (None, "P1"):
        from bench import p1_portfolio

        print("\nP1 - portfolio read: me { portfolio { shares(first: N) { ... loan { ... partner { ... } } } } }")
        use_pg = reachable is None and not args.sqlite
        database = common.pg_database() if use_pg else common.sqlite_database()
        async with database as url:
            summaries.append(
                await p1_portfolio.run(
                    url,
                    shares=args.shares,
                    partners=args.partners,
                    requests=args.requests,
                    pages=args.pages,
                    warmup=args.warmup,
                )
            )

    if args.only in (None, "P2"):
        from bench import p2_hot_loan

        print(f"\nP2 - hot loan: {args.attempts} concurrent lend(25.00) on one loan of {args.loan_shares} shares")
        if reachable is not None:
            print(
                "  skipped: P2 needs PostgreSQL (set BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)"
            )
            summaries.append("P2 hot loan: skipped (no PostgreSQL)")
        else:
            async with common.pg_database() as url:
                summaries.append(
                    await p2_hot_loan.run(url, attempts=args.attempts, loan_shares=args.loan_shares, pool=args.pool)
                )

    if args.only in (None, "P3"):
        from bench.p3_fanout import runs as p3_fanout

        print(
            f"\nP3 - live fan-out: {args.subscribers} WebSocket subscribers on lendgraph serve --workers "
            f"{args.workers} (PostgreSQL + Redis) vs a bare websockets broadcast server"
        )
        broken = reachable or await common.redis_reachable(common.REDIS_URL)
        if broken is not None:
            print(f"  skipped: P3 needs PostgreSQL and Redis ({broken}); set BENCH_POSTGRES_URL / BENCH_REDIS_URL")
            summaries.append("P3 fan-out: skipped (no PostgreSQL or Redis)")
        else:
            async with common.pg_database() as url:
                summaries.append(
                    await p3_fanout.run(
                        url,
                        subscribers=args.subscribers,
                        hot_loans=args.hot_loans,
                        shares=args.hot_shares,
                        listings=args.listings,
                        interval=args.interval / 1000,
                        processes=args.client_processes,
                        workers=args.workers,
                        broadcast_url=common.REDIS_URL,
                    )
                )

    if args.only in (None, "P4"):
        from bench import p4_matching

        for searches in args.searches:
            print(f"\nP4 - saved-search matching: a new listing against {searches:,} saved searches, index vs scan")
            use_pg = reachable is None and not args.sqlite
            database = common.pg_database() if use_pg else common.sqlite_database()
            async with database as url:
                summaries.append(
                    await p4_matching.run(url, searches=searches, loans=args.loans, scan_loans=args.scan_loans)
                )

    if args.only in (None, "P5") and reachable is None:
        from bench import p5_autolend
        from models import db

        print(f"\nP5 - a repayment to {args.relenders} lenders whose auto-lend rules reinvest it (PostgreSQL)")
        async with common.pg_database() as url:
            await db.connect(url)
            try:
                summaries.append(await p5_autolend.run(url, lenders=args.relenders))
            finally:
                await db.disconnect()

    if args.only in (None, "P6"):
        from bench import p6_platform

        print(
            f"\nP6 - platform under unrelated load: {args.depositors} deposits and {args.spread_lends} lends over "
            f"{args.spread_loans} loans, all at once"
        )
        if reachable is not None:
            print("  skipped: P6 needs PostgreSQL (set BENCH_POSTGRES_URL)")
            summaries.append("P6 platform: skipped (no PostgreSQL)")
        else:
            async with common.pg_database() as url:
                summaries.append(
                    await p6_platform.run(
                        url, deposits=args.depositors, lends=args.spread_lends, loans=args.spread_loans, pool=args.pool
                    )
                )

    if args.only in (None, "P7"):
        from bench import p7_reads

        print(f"\nP7 - reads over HTTP: loans(first: 20) from {args.clients} clients, one worker, vs a bare endpoint")
        if reachable is not None:
            print("  skipped: P7 needs PostgreSQL (set BENCH_POSTGRES_URL)")
            summaries.append("P7 reads: skipped (no PostgreSQL)")
        else:
            async with common.pg_database() as url:
                summaries.append(
                    await p7_reads.run(
                        url, loans=args.browse_loans, clients=args.clients, seconds=args.seconds, pool=args.pool
                    )
                )
    if args.only == "CHURN":
        from bench.churn import runs as churn

        summaries.append(await churn.from_args(args, reachable))

    print("\nSummary")
    for line in summaries:
        print("  " + line)
    print(f"  (whole run {time.perf_counter() - started:.0f} s; {_load()})")
    return 0


def _load() -> str:
    # Other work on a small machine moves every figure: say how busy it was.
    if not hasattr(os, "getloadavg"):
        return "load unknown"
    return "load average " + " ".join(f"{load:.2f}" for load in os.getloadavg())


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(common.run_on_serving_loop(main(parse_args())))
