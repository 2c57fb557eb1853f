"""P2 - hot loan: many lenders race for the last shares of one popular loan.

lendgraph: `attempts` concurrent `lend` mutations of 25.00, one per lender,
through the GraphQL endpoint in-process, on PostgreSQL with a pool of `pool`
connections. Exactly `loan_shares` must win; after the race the books must
balance, and no loan may be funded beyond its amount or auto-lent beyond
half of it. Baseline: bare asyncpg sending the same conditional UPDATE at
the same concurrency through a pool of the same size, on a scratch table.
Both report attempts/s, latency and the round trips of each attempt
(counted at the driver, bench.instruments.RoundTrips), winners and losers apart.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

import asyncpg

from bench.common import (
    Client,
    Stopwatch,
    Table,
    asyncpg_dsn,
    describe,
    gather_limited,
    loan_problems,
    median,
    ms,
    percentile,
    ratio,
    serve,
    share,
)
from bench.instruments import RoundTrips, trips_summary
from graph.ids import encode_id
from lending.accounts import deposit, register_lender
from lending.ledger import check_books
from lending.loans import Listing, list_loan
from lending.money import LENDING_UNIT, to_decimal
from lending.partners import create_partner
from models import Gender, Lender, Loan, LoanStatus, Sector

LEND = """mutation Lend($input: LendInput!) { lend(input: $input) {
  __typename ... on UserError { code }
  ... on LendSuccess { loan { fundedAmount status } share { amount } } } }"""
WON = "LendSuccess"
LOSING = {"ExceedsRemaining", "LoanNotFundraising"}
BASELINE_WON = "won"

BASELINE_TABLE = "bench_hot_loan"
BASELINE_UPDATE = f"UPDATE {BASELINE_TABLE} SET funded = funded + $2 WHERE id = $1 AND funded + $2 <= amount"


@dataclass
class Race:
    latencies: list[float]  # seconds, one per attempt, from its start to its answer
    wall: float
    outcomes: list[str]  # one per attempt
    trips: list[RoundTrips]  # the statements each attempt sent, counted at the driver
    statements: int  # every statement the process sent during the race, from any task
    filled: float = 0.0  # seconds from the start until the last winner had its answer
    cpu: float = 0.0  # CPU seconds this process spent during the race (app, driver and client together)

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.outcomes)

    def trips_of(self, won: bool, winning: str) -> list[int]:
        return [len(t) for o, t in zip(self.outcomes, self.trips, strict=True) if (o == winning) == won]

    def example(self, outcome: str) -> list[str]:
        """The statements of the first attempt that ended so."""
        return next(t.statements for o, t in zip(self.outcomes, self.trips, strict=True) if o == outcome)

    @property
    def per_second(self) -> float:
        return len(self.outcomes) / self.wall


async def arrange(attempts: int, loan_shares: int, concurrency: int) -> tuple[int, list[str]]:
    """One loan with room for `loan_shares` shares of 25.00, and `attempts` lenders with 25.00 of credit each.

    Lenders are registered and credited through lending/ exactly as the API
    would (a deposit each), only `concurrency` at a time instead of over HTTP.
    """
    now = datetime.now(UTC)
    partner = await create_partner("Hot Loan Partner", "KE", "4.0")
    listing = Listing(
        name="Amina",
        use="to buy fabric for her tailoring shop",
        country="KE",
        sector=Sector.CLOTHING,
        gender=Gender.FEMALE,
        amount=str(to_decimal(LENDING_UNIT * loan_shares)),
        term_months=12,
    )
    loan = await list_loan(partner, listing, now)

    async def lender(i: int) -> str:
        made, token = await register_lender(f"Lender {i}", f"lender{i}@example.org")
        await deposit(made.id, "25.00", f"bench-credit-{i}", now)
        return token

    tokens = await gather_limited(concurrency, (partial(lender, i) for i in range(attempts)))
    return loan.id, tokens


async def race_api(client: Client, loan_id: int, tokens: list[str]) -> Race:
    global_id = encode_id("Loan", loan_id)

    async def attempt(i: int, token: str) -> tuple[float, str, float, RoundTrips]:
        watch = Stopwatch()
        with RoundTrips().counting() as trips:
            outcome = await lend_once(client, token, global_id, f"hot-{i}")
        return watch.seconds, outcome, race.seconds, trips

    # As if each had just opened the loan's page: a lender racing for a loan was seen seconds ago,
    # so the race measures lending, not a first-visit last_seen write.
    await Lender.all().update(last_seen_at=datetime.now(UTC))
    with RoundTrips().everywhere() as everything:
        cpu = time.process_time()
        race = Stopwatch()
        results = await asyncio.gather(*(attempt(i, token) for i, token in enumerate(tokens)))
        wall, cpu = race.seconds, time.process_time() - cpu
    filled = max((done for _, outcome, done, _ in results if outcome == WON), default=0.0)
    return Race(
        [r[0] for r in results], wall, [r[1] for r in results], [r[3] for r in results], len(everything), filled, cpu
    )


async def lend_once(client: Client, token: str, loan_global_id: str, key: str) -> str:
    data = await client.post(
        LEND, {"input": {"loanId": loan_global_id, "amount": "25.00", "idempotencyKey": key}}, token
    )
    typename: str = data["lend"]["__typename"]
    return typename


async def race_baseline(database_url: str, attempts: int, loan_shares: int, pool_size: int) -> Race:
    """The floor: the one statement that decides who wins, with nothing around it."""
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=pool_size, max_size=pool_size)
    try:
        await pool.execute(
            f"CREATE TABLE {BASELINE_TABLE} (id int PRIMARY KEY, funded bigint NOT NULL, amount bigint NOT NULL,"
            " CHECK (funded <= amount))"
        )
        await pool.execute(f"INSERT INTO {BASELINE_TABLE} VALUES (1, 0, $1)", LENDING_UNIT * loan_shares)

        async def attempt() -> tuple[float, str, RoundTrips]:
            watch = Stopwatch()
            with RoundTrips().counting() as trips:
                async with pool.acquire() as connection:
                    status = await connection.execute(BASELINE_UPDATE, 1, LENDING_UNIT)
            return watch.seconds, BASELINE_WON if status == "UPDATE 1" else "lost", trips

        with RoundTrips().everywhere() as everything:
            cpu = time.process_time()
            watch = Stopwatch()
            results = await asyncio.gather(*(attempt() for _ in range(attempts)))
            wall, cpu = watch.seconds, time.process_time() - cpu
        outcomes, trips = [r[1] for r in results], [r[2] for r in results]
        race = Race([r[0] for r in results], wall, outcomes, trips, len(everything), cpu=cpu)
        funded = await pool.fetchval(f"SELECT funded FROM {BASELINE_TABLE} WHERE id = 1")
        assert funded == LENDING_UNIT * min(attempts, loan_shares), funded
        await pool.execute(f"DROP TABLE {BASELINE_TABLE}")
        return race
    finally:
        await pool.close()


def pooled(database_url: str, size: int) -> str:
    """The URL with tortoise's asyncpg pool bounds (`minsize`/`maxsize` query parameters)."""
    base = database_url.split("?", 1)[0]
    assert not urlsplit(database_url).query, "the bench database URL carries no parameters of its own"
    return f"{base}?minsize={size}&maxsize={size}"


async def run(database_url: str, *, attempts: int, loan_shares: int, pool: int) -> str:
    """Arrange, race both paths, verify, print the table; return the one-line summary."""
    winners_expected = min(loan_shares, attempts)
    async with serve(pooled(database_url, pool)) as client:
        watch = Stopwatch()
        loan_id, tokens = await arrange(attempts, loan_shares, pool)
        print(
            f"  arranged: one loan of {to_decimal(LENDING_UNIT * loan_shares)}, {attempts} lenders with 25.00 each"
            f" in {watch.seconds:.1f} s; pool {pool} connections on both paths"
        )

        # The baseline first, on its own pool, closed before the race so the two never share the server.
        baseline = await race_baseline(database_url, attempts, loan_shares, pool)
        assert baseline.counts[BASELINE_WON] == winners_expected, baseline.counts

        race = await race_api(client, loan_id, tokens)
        won = race.counts[WON]
        unexpected = {k: v for k, v in race.counts.items() if k != WON and k not in LOSING}
        loan = await Loan.get(id=loan_id)
        books = await check_books()
        loans = await loan_problems()

    columns = "path attempts won p50_ms p99_ms max_ms wall_s attempts/s trips/win trips/loss CPU_s ratio_p50"
    columns += " ratio_attempts/s"
    table = Table([c.replace("_", " ") for c in columns.split()])
    for name, result, winning in (
        ("lendgraph GraphQL lend", race, WON),
        ("asyncpg conditional UPDATE", baseline, BASELINE_WON),
    ):
        table.add(
            name,
            attempts,
            result.counts[winning],
            ms(median(result.latencies)),
            ms(percentile(result.latencies, 0.99)),
            ms(max(result.latencies)),
            f"{result.wall:.3f}",
            f"{result.per_second:.0f}",
            trips_summary(result.trips_of(True, winning)),
            trips_summary(result.trips_of(False, winning)),
            f"{result.cpu:.2f}",
            ratio(median(result.latencies), median(baseline.latencies)) if result is race else "",
            share(result.per_second, baseline.per_second) if result is race else "",
        )
    print(table.render())
    print(
        "  lendgraph outcomes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(race.counts.items()))
        + f"; the last winner was answered {race.filled:.2f} s after the start"
    )
    print(
        f"  loan after: funded {to_decimal(loan.funded_cents)} of {to_decimal(loan.amount_cents)}, "
        f"{loan.lender_count} lenders, {loan.status.value}; check_books().ok = {books.ok}; "
        f"loans overfunded or auto-lent above half: {len(loans)}"
    )
    p50 = ratio(median(race.latencies), median(baseline.latencies))
    p99 = ratio(percentile(race.latencies, 0.99), percentile(baseline.latencies, 0.99))
    rate = share(race.per_second, baseline.per_second)
    print(f"  lendgraph vs asyncpg: p50 {p50}, p99 {p99}; attempts/s {rate} of the baseline's")
    for outcome in sorted(race.counts):
        found = race.example(outcome)
        counts = [len(t) for o, t in zip(race.outcomes, race.trips, strict=True) if o == outcome]
        print(f"  round trips per {outcome}: {trips_summary(counts)}; one of them: " + ", ".join(map(describe, found)))
    print("  round trips per asyncpg attempt: " + ", ".join(map(describe, baseline.example(BASELINE_WON))))
    for name, result in (("lendgraph", race), ("asyncpg", baseline)):
        print(
            f"  {name}: {result.statements} statements from any task during the race, "
            f"{result.statements / attempts:.1f} per attempt (work no attempt's task sent included)"
        )

    # Checked after printing, so a failure still shows what happened.
    assert won == winners_expected, f"{won} lend attempts won, expected exactly {winners_expected}"
    assert not unexpected, f"unexpected outcomes: {unexpected}"
    assert loan.funded_cents == LENDING_UNIT * winners_expected and loan.lender_count == winners_expected
    assert winners_expected < loan_shares or loan.status is LoanStatus.FUNDED
    assert books.ok, books.problems
    assert not loans, loans
    return (
        f"P2 hot loan: {won}/{attempts} won; books balance, no loan overfunded or auto-lent above half; "
        f"{race.per_second:.0f} attempts/s vs asyncpg {baseline.per_second:.0f}/s ({rate}); "
        f"p50 {ms(median(race.latencies)):.0f} ms vs {ms(median(baseline.latencies)):.0f} ms ({p50}), "
        f"p99 {ms(percentile(race.latencies, 0.99)):.0f} vs {ms(percentile(baseline.latencies, 0.99)):.0f} ms; "
        f"round trips per win {trips_summary(race.trips_of(True, WON))} vs "
        f"{trips_summary(baseline.trips_of(True, BASELINE_WON))}, per loss {trips_summary(race.trips_of(False, WON))}"
        f" vs {trips_summary(baseline.trips_of(False, BASELINE_WON))}"
    )
