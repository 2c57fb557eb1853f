"""`python -m bench`: run the benchmarks, each against a baseline measured in the same run."""

import argparse
import asyncio
import os
import platform
import sys
import time

from bench import common


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=["P1", "P2"], type=str.upper, help="run one benchmark")
    parser.add_argument("--sqlite", action="store_true", help="P1 on SQLite even when PostgreSQL is reachable")
    p1 = parser.add_argument_group("P1 portfolio read")
    p1.add_argument("--shares", type=int, default=1000, help="shares of the lender, one loan each (1000)")
    p1.add_argument("--partners", type=int, default=50, help="field partners the loans spread over (50)")
    p1.add_argument("--requests", type=int, default=200, help="timed requests per page size and path (200)")
    p1.add_argument("--warmup", type=int, default=20, help="untimed requests before timing (20)")
    p1.add_argument("--pages", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100],
                    help="page sizes, comma-separated (10,100)")
    p2 = parser.add_argument_group("P2 hot loan")
    p2.add_argument("--attempts", type=int, default=1000, help="concurrent lend attempts, one lender each (1000)")
    p2.add_argument("--loan-shares", type=int, default=40, help="25.00 shares the loan has room for (40)")
    p2.add_argument("--pool", type=int, default=20, help="connection pool size of both paths (20)")
    args = parser.parse_args(argv)
    if args.shares < 1 or args.attempts < 1 or args.loan_shares < 1 or args.pool < 1:
        parser.error("sizes must be positive")
    return args


async def main(args: argparse.Namespace) -> int:
    print(f"lendgraph benchmarks - Python {platform.python_version()}, {_cores()} cores, {platform.machine()}, "
          f"{_load()}")
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy > 0.75 * _cores():
        print(f"note: the machine is busy (load {busy:.1f} on {_cores()} cores); other processes delay every round "
              "trip, so medians are noisy - the ratio of minimums (P1) is the steadier figure")
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
            print("  skipped: P2 needs PostgreSQL (set BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)")
            summaries.append("P2 hot loan: skipped (no PostgreSQL)")
        else:
            async with common.pg_database() as url:
                summaries.append(
                    await p2_hot_loan.run(url, attempts=args.attempts, loan_shares=args.loan_shares, pool=args.pool)
                )

    print("\nSummary")
    for line in summaries:
        print("  " + line)
    print(f"  (whole run {time.perf_counter() - started:.0f} s; {_load()})")
    return 0


def _load() -> str:
    # Other work on a small machine moves every figure: say how busy it was.
    return "load average %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else "load unknown"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
