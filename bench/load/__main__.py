"""`python -m bench.load [options]`: the load run (run.py); `python -m bench.load client`: a client process."""

import argparse
import asyncio
import contextlib
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    from bench.common import REDIS_URL

    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="A realistic mix at a set rate against lendgraph serve --workers 2 on PostgreSQL + Redis.",
    )
    parser.add_argument("--rate", type=float, default=220, help="operations per second offered (220)")
    parser.add_argument("--duration", type=float, default=1800, help="seconds the load runs (1800)")
    parser.add_argument("--out", default="load-report", help="directory for report.json, report.md, rss.png")
    parser.add_argument("--warmup", type=float, help="seconds left out of rates, latencies and RSS slopes "
                        "(default: a sixth of the duration, at most 300)")  # fmt: skip
    parser.add_argument("--clients", type=int, default=2, help="client processes the rate is split over (2)")
    parser.add_argument("--subscriptions", type=int, default=100, help="WebSocket subscriptions held (100)")
    parser.add_argument("--lenders", type=int, default=1000, help="lenders, 500.00 of credit each (1000)")
    parser.add_argument("--loans", type=int, default=200, help="fundraising loans at the start (200)")
    parser.add_argument("--funded", type=int, default=40, help="funded loans at the start, to repay (40)")
    parser.add_argument("--workers", type=int, default=2, help="lendgraph serve --workers (2)")
    parser.add_argument("--pool", type=int, default=20, help="PostgreSQL pool maxsize per worker (20)")
    parser.add_argument("--connections", type=int, default=200, help="HTTP connections per client process (200)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a request may take before it is retried")
    parser.add_argument("--sample", type=float, default=5, help="seconds between RSS samples (5)")
    parser.add_argument("--print-every", type=float, default=30, help="seconds between progress lines (30)")
    parser.add_argument(
        "--mix",
        type=_weights,
        help="the operations' weights, e.g. browse=1,me=1 (operations not named are not sent); default: "
        "bench/load/mix.py WEIGHTS",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (1)")
    parser.add_argument("--redis", default=REDIS_URL, help=f"BROADCAST_URL of the server ({REDIS_URL})")
    parser.add_argument("--keep", action="store_true", help="keep the loadtest_<pid> database afterwards")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(300.0, args.duration / 6)
    if min(args.rate, args.duration, args.clients, args.workers, args.pool, args.connections) <= 0:
        parser.error("rates, durations and counts must be positive")
    return args


def _weights(text: str) -> dict[str, float]:
    from bench.load.mix import OPS

    weights = dict.fromkeys(OPS, 0.0)
    for part in text.split(","):
        op, _, weight = part.partition("=")
        if op not in weights:
            raise argparse.ArgumentTypeError(f"{op!r} is none of {', '.join(OPS)}")
        weights[op] = float(weight or 1)
    return weights


def _use_uvloop() -> None:
    """uvicorn runs on uvloop when it is installed; the clients do too."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str]) -> None:
    if argv[:1] == ["client"]:
        from bench.load import client

        _use_uvloop()
        asyncio.run(client.main())
        return
    from bench.load.run import run

    sys.exit(asyncio.run(run(parse_args(argv))))


if __name__ == "__main__":
    main(sys.argv[1:])
