"""`python -m bench.profile_request`: the CPU one GraphQL HTTP request costs this process, and where it goes.

Serves the app in-process (bench.common.serve) on a fresh PostgreSQL database
(bench.common.pg_database) and sends requests one at a time, so no request waits for another:
`lend(25.00)` (each one wins and makes a share), a lend refused from reads (ExceedsRemaining, as
most of P2's), `deposit(25.00)`, `{ me { id } }`, P1's portfolio page of 100 shares (run after the
lends) and the load mix's browse page (bench.load.documents.BROWSE: 20 loans with their partners and
the total, under a filter and sort that change at every request; the response cache is off, so each
one is run). For each kind it prints the CPU time per request (time.process_time, the whole process:
the in-process client's side included (bench.common.Client), the database server not), the wall time
per request, the garbage collector's share (gc.callbacks), and then, over a second pass under
cProfile, own CPU and function calls per request summed by area (installed package, lendgraph
package, asyncio, the rest of the standard library), and the functions with the most time of their
own and the most cumulative time. The CPU figures are from the pass without the profiler.
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import Client, Stopwatch, pg_database, pg_reachable, run_on_serving_loop, serve
from bench.load.documents import BROWSE
from bench.p1_portfolio import QUERY as PORTFOLIO
from bench.p2_hot_loan import LEND
from bench.p6_platform import DEPOSIT
from graph.ids import encode_id
from graph.memory_stats import left_in_cycles
from lending.accounts import deposit, register_lender
from lending.loans import MAX_LOAN_CENTS, Listing, list_loan
from lending.money import LENDING_UNIT, to_decimal
from lending.partners import create_partner
from models import Gender, Lender, Sector

ME = "{ me { id } }"
# portfolio: P1's page of 100 shares, after the lends; refused: a lend asking more than its loan has left
# (ExceedsRemaining, answered from reads as P2's losing lends are)
KINDS = ("lend", "refused", "deposit", "me", "portfolio", "browse")
# browse's filters and sorts, in turn (the load mix draws from the same kinds)
BROWSE_FILTERS: tuple[dict[str, Any], ...] = (
    {"statuses": ["FUNDRAISING"]},
    {"statuses": ["FUNDRAISING"], "sectors": ["CLOTHING", "FOOD"]},
    {"statuses": ["FUNDRAISING"], "genders": ["FEMALE"], "countries": ["KE"]},
    {"statuses": ["FUNDRAISING"], "sectors": ["CLOTHING"], "genders": ["FEMALE"]},
)
BROWSE_SORTS = ("NEWEST", "EXPIRING_SOON", "AMOUNT_LEFT")
BROWSED = 500  # loans listed at least, when browse is profiled


class Kinds:
    """The requests of each kind, numbered so that every lend wins and every deposit is new."""

    def __init__(self, client: Client, token: str, loans: list[str]) -> None:
        self.client, self.token, self.loans = client, token, loans
        self.sent = dict.fromkeys(KINDS, 0)

    async def send(self, kind: str) -> None:
        n = self.sent[kind]
        self.sent[kind] += 1
        query, variables = self.request(kind, n)
        data = await self.client.post(query, variables, self.token)
        answer = next(iter(data.values()))
        failed = isinstance(answer, dict) and "code" in answer  # a UserError
        if failed != (kind == "refused"):
            raise RuntimeError(f"{kind} {n} answered {answer}")

    def request(self, kind: str, n: int) -> tuple[str, dict[str, Any] | None]:
        if kind == "lend":
            loan = self.loans[n]
            return LEND, {"input": {"loanId": loan, "amount": "25.00", "idempotencyKey": f"profile-lend-{n}"}}
        if kind == "refused":
            too_much = str(to_decimal(MAX_LOAN_CENTS + LENDING_UNIT))
            return LEND, {"input": {"loanId": self.loans[0], "amount": too_much, "idempotencyKey": f"refused-{n}"}}
        if kind == "deposit":
            return DEPOSIT, {"input": {"amount": "25.00", "idempotencyKey": f"profile-deposit-{n}"}}
        if kind == "portfolio":
            return PORTFOLIO, {"first": 100}
        if kind == "browse":
            filter_ = BROWSE_FILTERS[n % len(BROWSE_FILTERS)]
            return BROWSE, {"filter": filter_, "sort": BROWSE_SORTS[n // len(BROWSE_FILTERS) % len(BROWSE_SORTS)]}
        return ME, None


async def arrange(client: Client, lends: int) -> Kinds:
    """One lender with credit for every lend, and a loan for each: every lend makes a share, as in P2.

    The loans take turns over three sectors and two genders, so that each browse filter selects some.
    """
    now = datetime.now(UTC)
    partner = await create_partner("Profile Partner", "KE", "4.0")
    loans = []
    for i in range(lends):
        listing = Listing(
            name=f"Amina {i}",
            use="to buy fabric for her tailoring shop",
            country="KE",
            sector=(Sector.CLOTHING, Sector.FOOD, Sector.RETAIL)[i % 3],
            gender=(Gender.FEMALE, Gender.MALE)[i % 2],
            amount=str(to_decimal(MAX_LOAN_CENTS)),
            term_months=12,
        )
        loans.append(encode_id("Loan", (await list_loan(partner, listing, now)).id))
    lender, token = await register_lender("Profiler", "profiler@example.org")
    await deposit(lender.id, str(to_decimal(LENDING_UNIT * lends)), "profile-credit", now)
    # Seen a moment ago, as in P2 and P6: no first-visit last_seen write in the figures.
    await Lender.all().update(last_seen_at=now)
    return Kinds(client, token, loans)


class GcTime:
    """CPU seconds the garbage collector spent, from gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


GC = GcTime()


async def timed(send: Callable[[], Awaitable[None]], count: int) -> tuple[float, float, float]:
    """CPU, wall and garbage-collection milliseconds per request over `count` sequential requests."""
    cpu, watch, collecting = time.process_time(), Stopwatch(), GC.seconds
    for _ in range(count):
        await send()
    per = 1000 / count
    return per * (time.process_time() - cpu), per * watch.seconds, per * (GC.seconds - collecting)


def callgrind_control(*arguments: str) -> None:
    """Zero (-z) or dump (-d <label>) the counts of the callgrind this process runs under (bench.instructions)."""
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True)


def area(filename: str) -> str:
    """Who owns the code in `filename`: an installed package, a lendgraph package, or the standard library."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    top = filename.rsplit("/", 2)
    if len(top) == 3 and top[1] in LENDGRAPH:
        return top[1] + "/"
    if filename.startswith("<") or filename == "~":
        return "builtins"
    return "asyncio" if "/asyncio/" in filename else "stdlib"


LENDGRAPH = ("graph", "limits", "types", "lending", "models", "resolvers", "subscriptions", "bench")


def by_area(stats: pstats.Stats, count: int) -> str:
    """Own CPU time per request, summed by area (see `area`), largest first."""
    totals: dict[str, float] = {}
    calls: dict[str, int] = {}
    for (filename, _, _), (primitive, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        totals[area(filename)] = totals.get(area(filename), 0.0) + own
        calls[area(filename)] = calls.get(area(filename), 0) + primitive
    whole = sum(totals.values())
    lines = [
        f"  own CPU (ms) and function calls per request by area, of {1000 * whole / count:.3f} ms under the"
        f" profiler and {sum(calls.values()) / count:.0f} calls:"
    ]
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        share = f"{1000 * seconds / count:7.3f}  {100 * seconds / whole:5.1f}%"
        lines.append(f"    {name:24} {share}  {calls[name] / count:7.0f} calls")
    return "\n".join(lines) + "\n\n"


async def profile(send: Callable[[], Awaitable[None]], count: int, top: int, dump: str | None = None) -> str:
    profiler = cProfile.Profile(time.process_time)  # CPU, not time spent waiting
    profiler.enable()
    for _ in range(count):
        await send()
    profiler.disable()
    if dump:
        profiler.dump_stats(dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(by_area(stats, count))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


async def garbage(send: Callable[[], Awaitable[None]], count: int, top: int) -> str:
    """Objects left in reference cycles per request (freed only by the collector), by type, most first;
    the in-process client's side is included (graph.memory_stats.left_in_cycles)."""
    found = await left_in_cycles(send, count)
    lines = [f"  {sum(found.values()) / count:.1f} objects in cycles per request:"]
    for name, n in found.most_common(top):
        lines.append(f"    {n / count:7.2f}  {name}")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> int:
    problem = await pg_reachable()
    if problem:
        print(f"PostgreSQL unreachable: {problem}", file=sys.stderr)
        return 1
    kinds = [k for k in KINDS if k in args.only]
    async with pg_database() as url, serve(url, response_cache_size=0) as client:
        lends = (args.warmup + args.requests + (args.profiled if args.profile else 0) + args.garbage) * (
            "lend" in kinds
        )
        arranged = await arrange(client, max(lends, BROWSED if "browse" in kinds else 1))
        gc.collect()
        if args.gc_threshold:
            gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
        if args.gc_freeze:
            gc.freeze()
        print(f"  gc: thresholds {gc.get_threshold()}, {gc.get_freeze_count()} objects frozen")
        print(f"  {args.requests} sequential requests per kind after {args.warmup} untimed; CPU of this process")
        for kind in kinds:

            async def send(kind: str = kind) -> None:
                await arranged.send(kind)

            await timed(send, args.warmup)
            if args.callgrind:
                callgrind_control("-z")
            runs = [await timed(send, args.requests // args.rounds) for _ in range(args.rounds)]
            if args.callgrind:
                callgrind_control("-d", kind)
            cpu = sorted(r[0] for r in runs)
            wall = sorted(r[1] for r in runs)
            collecting = sum(r[2] for r in runs) / len(runs)
            print(
                f"  {kind:8} CPU ms/request: min {cpu[0]:.3f}, median {cpu[len(cpu) // 2]:.3f}"
                f" (of {args.rounds} rounds); wall ms/request median {wall[len(wall) // 2]:.3f};"
                f" gc ms/request {collecting:.3f}"
            )
        if args.garbage:
            for kind in kinds:

                async def cyclic(kind: str = kind) -> None:
                    await arranged.send(kind)

                print(f"\n==== garbage in reference cycles: {args.garbage} {kind} requests\n")
                print(await garbage(cyclic, args.garbage, args.top))
        if args.profile:
            for kind in kinds:

                async def again(kind: str = kind) -> None:
                    await arranged.send(kind)

                print(f"\n==== cProfile: {args.profiled} {kind} requests\n")
                dump = f"{args.dump}.{kind}" if args.dump else None
                print(await profile(again, args.profiled, args.top, dump))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_request", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per kind (1000)")
    parser.add_argument("--rounds", type=int, default=5, help="the timed requests split into rounds (5)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests per kind first (100)")
    parser.add_argument("--only", default=",".join(KINDS), help=f"kinds, comma-separated ({','.join(KINDS)})")
    parser.add_argument("--profile", action="store_true", help="then profile each kind under cProfile")
    parser.add_argument("--profiled", type=int, default=300, help="requests per kind under cProfile (300)")
    parser.add_argument("--garbage", type=int, default=0, help="then count objects left in cycles over N requests")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() before timing (what is alive by then)")
    parser.add_argument("--gc-threshold", type=int, default=0, help="set gc's generation-0 threshold first")
    parser.add_argument("--dump", help="also save each kind's pstats to DUMP.<kind> (for pstats or snakeviz)")
    parser.add_argument("--top", type=int, default=30, help="functions listed per ordering (30)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="dump callgrind's counts of each kind's timed requests (bench.instructions)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run_on_serving_loop(main(parse_args())))
