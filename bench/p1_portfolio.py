"""P1 - portfolio read: one page of a lender's shares, with each loan and its partner.

lendgraph: the GraphQL query below, in-process through the whole ASGI stack
(auth, Strawberry, DataLoaders, tortoise). Baseline: the same rows by one
hand-written SQL join on a bare driver connection. Same database, same run.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg

from bench.common import (
    Client,
    SqlCounter,
    Stopwatch,
    Table,
    asyncpg_dsn,
    describe,
    gather_limited,
    median,
    ms,
    percentile,
    ratio,
    serve,
)
from lending.accounts import deposit, register_lender
from lending.funding import lend
from lending.ledger import check_books
from lending.loans import Listing, list_loan
from lending.money import to_decimal
from lending.partners import create_partner
from lending.tokens import issue_token
from models import Gender, Role, Sector

QUERY = """query Portfolio($first: Int!) { me { portfolio { shares(first: $first) { edges { node {
  amount loan { name fundedAmount partner { name riskRating } } } } } } } }"""

# What the GraphQL query reads, as one join; LIMIT page + 1 as the app fetches (to know hasNextPage).
BASELINE_SQL = """SELECT s.id, s.amount_cents, l.name, l.funded_cents, p.name AS partner_name, p.risk_tenths
FROM share s JOIN loan l ON l.id = s.loan_id JOIN partner p ON p.id = l.partner_id
WHERE s.lender_id = {lender} ORDER BY s.id DESC LIMIT {limit}"""

COUNTRIES = ["KE", "UG", "TZ", "PE", "PH", "KH", "GT", "SN", "TJ", "BO"]
SECTORS = list(Sector)
GENDERS = list(Gender)


@dataclass
class Arranged:
    lender_id: int
    token: str
    seconds: float


async def arrange(shares: int, partners: int, concurrency: int) -> Arranged:
    """Partners, `shares` loans, and one lender with a 25.00 share in each, all through lending/.

    The lender's credit is raised by one deposit rather than one per loan;
    every share is a real `lend` call, so loans, shares and the ledger are
    exactly what the API would have written.
    """
    watch = Stopwatch()
    now = datetime.now(UTC)
    made = await gather_limited(
        concurrency,
        (
            partial(create_partner, f"Partner {i}", COUNTRIES[i % len(COUNTRIES)], str(0.5 + (i % 10) * 0.5))
            for i in range(partners)
        ),
    )
    counter = itertools.count()

    def listing(i: int) -> Listing:
        return Listing(
            name=f"Borrower {i}",
            use="to buy stock for a small shop",
            country=made[i % partners].country_code,
            sector=SECTORS[i % len(SECTORS)],
            gender=GENDERS[i % len(GENDERS)],
            amount=str(to_decimal(2500 * (4 + i % 37))),
            term_months=6 + i % 19,
        )

    loans = await gather_limited(
        concurrency, (partial(list_loan, made[i % partners], listing(i), now) for i in range(shares))
    )
    lender, _ = await register_lender("Portfolio Lender", "portfolio@example.org")
    await deposit(lender.id, str(to_decimal(2500 * shares)), "bench-credit", now)
    # Every lend locks this lender's account row, so they queue there; a few in flight keep the pool busy.
    await gather_limited(
        concurrency,
        (partial(lend, lender.id, loan.id, "25.00", f"bench-{next(counter)}", now) for loan in loans),
    )
    token = await issue_token(Role.LENDER, lender_id=lender.id, name="bench")
    return Arranged(lender.id, token, watch.seconds)


async def _time_api(client: Client, token: str, first: int, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        watch = Stopwatch()
        data = await client.post(QUERY, {"first": first}, token)
        times.append(watch.seconds)
    edges = data["me"]["portfolio"]["shares"]["edges"]
    assert len(edges) == first and edges[0]["node"]["loan"]["partner"]["name"], edges[:1]
    return times


async def _count_api(client: Client, token: str, first: int) -> list[str]:
    with SqlCounter().attached() as counter:
        await client.post(QUERY, {"first": first}, token)
    return counter.statements


class Baseline:
    """The bare driver: asyncpg on PostgreSQL, aiosqlite (the driver tortoise uses) on SQLite."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.postgres = not database_url.startswith("sqlite")
        self.name = "asyncpg" if self.postgres else "aiosqlite"

    async def __aenter__(self) -> "Baseline":
        if self.postgres:
            self.pool = await asyncpg.create_pool(asyncpg_dsn(self.url), min_size=1, max_size=1)
        else:
            import aiosqlite

            self.db = await aiosqlite.connect(self.url.removeprefix("sqlite://"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.postgres:
            await self.pool.close()
        else:
            await self.db.close()

    async def fetch(self, lender_id: int, first: int) -> list[Any]:
        if self.postgres:
            sql = BASELINE_SQL.format(lender="$1", limit="$2")
            async with self.pool.acquire() as connection:
                return await connection.fetch(sql, lender_id, first + 1)
        sql = BASELINE_SQL.format(lender="?", limit="?")
        async with self.db.execute(sql, (lender_id, first + 1)) as cursor:
            return list(await cursor.fetchall())

    async def time(self, lender_id: int, first: int, requests: int) -> list[float]:
        times = []
        for _ in range(requests):
            watch = Stopwatch()
            rows = await self.fetch(lender_id, first)
            times.append(watch.seconds)
        assert len(rows) in (first, first + 1), len(rows)  # first + 1 unless this is the last page
        return times


async def run(database_url: str, *, shares: int, partners: int, requests: int, pages: list[int], warmup: int) -> str:
    """Arrange, measure, print the table; return the one-line summary."""
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    concurrency = 8 if backend == "PostgreSQL" else 1
    pages = [p for p in pages if p <= shares] or [min(shares, 100)]
    async with serve(database_url) as client:
        arranged = await arrange(shares, partners, concurrency)
        books = await check_books()
        assert books.ok, books.problems
        print(
            f"  arranged on {backend}: {partners} partners, {shares} loans, one lender with {shares} shares "
            f"in {arranged.seconds:.1f} s (books balance)"
        )
        # One request first: the lender's first authenticated request also records it as seen (a write
        # made once a minute at most), which is not part of the steady-state read.
        await client.post(QUERY, {"first": 1}, arranged.token)
        counts = {first: await _count_api(client, arranged.token, first) for first in pages}
        timings: dict[int, tuple[list[float], list[float]]] = {}
        async with Baseline(database_url) as baseline:
            for first in pages:
                # Warm both paths (statement caches, the loan/partner pages in shared buffers) before timing.
                await _time_api(client, arranged.token, first, warmup)
                await baseline.time(arranged.lender_id, first, warmup)
                # Interleave the two in short blocks, so drift on a shared machine hits both alike.
                api_times: list[float] = []
                base_times: list[float] = []
                block = 10
                while len(api_times) < requests:
                    n = min(block, requests - len(api_times))
                    api_times += await _time_api(client, arranged.token, first, n)
                    base_times += await baseline.time(arranged.lender_id, first, n)
                timings[first] = (api_times, base_times)

    table = Table(["path", "first", "SQL/request", "min ms", "median ms", "p90 ms", "ratio median", "ratio min"])
    for first in pages:
        api_times, base_times = timings[first]
        table.add(
            "lendgraph GraphQL",
            first,
            len(counts[first]),
            ms(min(api_times)),
            ms(median(api_times)),
            ms(percentile(api_times, 0.9)),
            ratio(median(api_times), median(base_times)),
            ratio(min(api_times), min(base_times)),
        )
        table.add(
            f"{baseline.name} one join",
            first,
            1,
            ms(min(base_times)),
            ms(median(base_times)),
            ms(percentile(base_times, 0.9)),
            "1.0x",
            "1.0x",
        )
    print(table.render())
    largest = max(pages)
    print(f"  SQL per request (first: {largest}): " + ", ".join(describe(s) for s in counts[largest]))
    sizes = sorted({len(c) for c in counts.values()})
    if len(sizes) > 1:
        grows = ", ".join(f"first {p}: {len(counts[p])}" for p in pages)
        print(f"  WARNING: the query count grows with page size: {grows}")
    api_times, base_times = timings[largest]
    of_minimums = ratio(min(api_times), min(base_times))
    return (
        f"P1 portfolio page ({backend}, first: {largest}): {len(counts[largest])} queries, "
        f"{ms(median(api_times)):.1f} ms median vs {baseline.name} {ms(median(base_times)):.2f} ms "
        f"-> ratio {ratio(median(api_times), median(base_times))} (of minimums {of_minimums})"
    )
