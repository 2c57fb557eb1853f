"""P6 - the platform under unrelated load: deposits and lends that need no row in common.

lendgraph: `deposits` deposit(25.00) mutations, one per lender, and `lends`
lend(25.00) mutations spread over `loans` fundraising loans, all sent at once
(shuffled together) through the GraphQL endpoint in-process, on PostgreSQL
with a pool of `pool` connections. The lends come from lenders of their own,
two each, on two different loans; each loan gets `lends / loans` of them and
has room for twice that, so none fills. Apart from a loan's few lends and a
lender's two, no operation needs a row another one writes: whatever makes
them wait for each other is a serialisation point of lendgraph's own.

Baseline: bare asyncpg doing the same ledger writes at the same concurrency
through a pool of the same size, on scratch tables with rows of their own
(a deposit: the idempotency row, the lender's balance, the transfer, in one
transaction; a lend: the conditional loan update, the lender's debit, the
share, the transfer, in one transaction).
"""

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

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
from bench.instruments import LockWaits, RoundTrips, trips_summary
from bench.p2_hot_loan import LEND, pooled
from graph.ids import encode_id
from lending.accounts import deposit, register_lender
from lending.ledger import check_books
from lending.loans import Listing, list_loan
from lending.money import LENDING_UNIT, to_decimal
from lending.partners import create_partner
from models import Gender, Lender, Loan, LoanStatus, Sector

DEPOSIT = """mutation Deposit($input: DepositInput!) { deposit(input: $input) {
  __typename ... on UserError { code } ... on DepositSuccess { lender { balance } } } }"""
KINDS = ("deposit", "lend")
SUCCESS = {"deposit": "DepositSuccess", "lend": "LendSuccess"}
LENDS_PER_LENDER = 2
PARTNERS = 10
BASELINE_APPLICATION = "lendgraph-bench-baseline"  # its sessions, told apart from the app's in pg_stat_activity
TARGET = 0.30  # the share of the baseline's throughput lendgraph aims at


@dataclass(frozen=True)
class Op:
    kind: str
    index: int  # the depositor (deposit) or the lend's number (lend)


@dataclass
class Done:
    op: Op
    latency: float
    finished: float  # seconds from the start of the run
    outcome: str
    trips: RoundTrips


@dataclass
class Run:
    done: list[Done]
    wall: float
    cpu: float
    waits: LockWaits
    statements: int  # every statement the process sent during the run, from any task
    examples: dict[str, list[str]] = field(default_factory=dict)

    def of(self, kind: str) -> list[Done]:
        return [d for d in self.done if d.op.kind == kind]

    def per_second(self, kind: str | None = None) -> float:
        """Operations of `kind` (all when None) answered per second, up to the last one's answer."""
        done = self.done if kind is None else self.of(kind)
        return len(done) / max(d.finished for d in done)


@dataclass(frozen=True)
class Plan:
    deposits: int
    lends: int
    loans: int

    @property
    def lenders(self) -> int:
        return math.ceil(self.lends / LENDS_PER_LENDER)

    @property
    def lends_per_loan(self) -> list[int]:
        return [len(range(loan, self.lends, self.loans)) for loan in range(self.loans)]

    def lend_target(self, j: int) -> tuple[int, int]:
        """(lender, loan) of lend j: a lender's lends fall on consecutive, so different, loans."""
        return j // LENDS_PER_LENDER, j % self.loans

    def ops(self) -> list[Op]:
        ops = [Op("deposit", i) for i in range(self.deposits)] + [Op("lend", j) for j in range(self.lends)]
        random.Random(6).shuffle(ops)
        return ops


@dataclass
class Arranged:
    depositors: list[tuple[int, str]]  # (lender id, token)
    lenders: list[tuple[int, str]]
    loans: list[int]


async def arrange(plan: Plan, concurrency: int) -> Arranged:
    """Loans, depositors without credit and lenders with 50.00 each, all through lending/ as the API would."""
    now = datetime.now(UTC)
    partners = [await create_partner(f"Partner {p}", "KE", "3.5") for p in range(min(PARTNERS, plan.loans))]
    room = max(plan.lends_per_loan) * 2 * LENDING_UNIT

    async def loan(n: int) -> int:
        amount = str(to_decimal(room))
        listing = Listing(f"Borrower {n}", "to buy stock", "KE", Sector.RETAIL, Gender.FEMALE, amount, 12)
        return (await list_loan(partners[n % len(partners)], listing, now)).id

    async def lender(group: str, n: int, credit: int) -> tuple[int, str]:
        made, token = await register_lender(f"{group} {n}", f"{group}{n}@example.org", now)
        if credit:
            await deposit(made.id, str(to_decimal(credit)), f"bench-credit-{n}", now)
        return made.id, token

    loans = await gather_limited(concurrency, (partial(loan, n) for n in range(plan.loans)))
    depositors = await gather_limited(concurrency, (partial(lender, "saver", i, 0) for i in range(plan.deposits)))
    credit = LENDS_PER_LENDER * LENDING_UNIT
    lenders = await gather_limited(concurrency, (partial(lender, "lender", k, credit) for k in range(plan.lenders)))
    return Arranged(depositors, lenders, loans)


async def _post(client: Client, query: str, variables: dict[str, Any], token: str) -> str:
    """The payload's __typename, or 'error CODE' (a retryable UNAVAILABLE among them) instead of raising."""
    response = await client.request({"query": query, "variables": variables}, token)
    body = response.json()
    if body.get("errors"):
        return "error " + str((body["errors"][0].get("extensions") or {}).get("code", response.status_code))
    typename: str = next(iter(body["data"].values()))["__typename"]
    return typename


async def _race(ops: list[Op], send: Any, database_url: str, application_name: str | None = None) -> Run:
    """Send every operation at once; time, count and classify each."""

    async def one(op: Op) -> Done:
        watch = Stopwatch()
        with RoundTrips().counting() as trips:
            outcome = await send(op)
        return Done(op, watch.seconds, race.seconds, outcome, trips)

    async with LockWaits(asyncpg_dsn(database_url), application_name) as waits:
        with RoundTrips().everywhere() as everything:
            cpu = time.process_time()
            race = Stopwatch()
            done = await asyncio.gather(*(one(op) for op in ops))
            wall, cpu = race.seconds, time.process_time() - cpu
    examples = {kind: next(d.trips.statements for d in done if d.op.kind == kind) for kind in KINDS}
    return Run(list(done), wall, cpu, waits, len(everything), examples)


async def race_api(client: Client, plan: Plan, arranged: Arranged, database_url: str) -> Run:
    loan_ids = [encode_id("Loan", loan_id) for loan_id in arranged.loans]

    async def send(op: Op) -> str:
        if op.kind == "deposit":
            variables = {"input": {"amount": "25.00", "idempotencyKey": f"p6-deposit-{op.index}"}}
            return await _post(client, DEPOSIT, variables, arranged.depositors[op.index][1])
        lender, loan = plan.lend_target(op.index)
        variables = {"input": {"loanId": loan_ids[loan], "amount": "25.00", "idempotencyKey": f"p6-lend-{op.index}"}}
        return await _post(client, LEND, variables, arranged.lenders[lender][1])

    # Seen a moment ago, as a lender using the site is: the run measures money, not a first-visit write.
    # (The baseline's pool is closed by now: every session of the database is the app's.)
    await Lender.all().update(last_seen_at=datetime.now(UTC))
    return await _race(plan.ops(), send, database_url)


BASELINE_TABLES = """
CREATE TABLE bench_p6_account (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_p6_idempotency (scope text NOT NULL, key text NOT NULL, created_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key));
CREATE TABLE bench_p6_transfer (id bigserial PRIMARY KEY, source int NOT NULL REFERENCES bench_p6_account,
  destination int NOT NULL REFERENCES bench_p6_account, amount bigint NOT NULL CHECK (amount > 0),
  created_at timestamptz NOT NULL);
CREATE TABLE bench_p6_loan (id int PRIMARY KEY, funded bigint NOT NULL, amount bigint NOT NULL,
  CHECK (funded <= amount));
CREATE TABLE bench_p6_share (id bigserial PRIMARY KEY, loan int NOT NULL REFERENCES bench_p6_loan,
  lender int NOT NULL REFERENCES bench_p6_account, amount bigint NOT NULL, UNIQUE (loan, lender));
"""
IDEMPOTENCY = "INSERT INTO bench_p6_idempotency VALUES ($1, $2, now())"
CREDIT = "UPDATE bench_p6_account SET balance = balance + $2 WHERE id = $1"
DEBIT = "UPDATE bench_p6_account SET balance = balance - $2 WHERE id = $1 AND balance >= $2"
RESERVE = "UPDATE bench_p6_loan SET funded = funded + $2 WHERE id = $1 AND funded + $2 <= amount"
SHARE = "INSERT INTO bench_p6_share (loan, lender, amount) VALUES ($1, $2, $3)"
TRANSFER = "INSERT INTO bench_p6_transfer (source, destination, amount, created_at) VALUES ($1, $2, $3, now())"


class Refused(Exception):
    """A conditional update of the baseline changed no row (never expected here)."""


async def race_baseline(database_url: str, plan: Plan, pool_size: int) -> Run:
    """The same writes with nothing around them; account ids: world 0, depositors, lenders, then loans."""
    first_lender, first_loan = 1 + plan.deposits, 1 + plan.deposits + plan.lenders
    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url),
        min_size=pool_size,
        max_size=pool_size,
        server_settings={"application_name": BASELINE_APPLICATION},
    )
    try:
        await pool.execute(BASELINE_TABLES)
        await pool.execute(
            "INSERT INTO bench_p6_account SELECT id, CASE WHEN id >= $1 AND id < $2 THEN $3 ELSE 0 END"
            " FROM generate_series(0, $4) AS id",
            first_lender,
            first_loan,
            LENDS_PER_LENDER * LENDING_UNIT,
            first_loan + plan.loans - 1,
        )
        await pool.execute(
            "INSERT INTO bench_p6_loan SELECT id, 0, $1 FROM generate_series(0, $2) AS id",
            max(plan.lends_per_loan) * 2 * LENDING_UNIT,
            plan.loans - 1,
        )

        async def send(op: Op) -> str:
            try:
                async with pool.acquire() as connection, connection.transaction():
                    if op.kind == "deposit":
                        account = 1 + op.index
                        await connection.execute(IDEMPOTENCY, f"lender:{account}", f"p6-deposit-{op.index}")
                        await connection.execute(CREDIT, account, LENDING_UNIT)
                        await connection.execute(TRANSFER, 0, account, LENDING_UNIT)
                        return SUCCESS["deposit"]
                    lender, loan = plan.lend_target(op.index)
                    if await connection.execute(RESERVE, loan, LENDING_UNIT) != "UPDATE 1":
                        raise Refused("loan")
                    if await connection.execute(DEBIT, first_lender + lender, LENDING_UNIT) != "UPDATE 1":
                        raise Refused("credit")
                    await connection.execute(SHARE, loan, first_lender + lender, LENDING_UNIT)
                    await connection.execute(TRANSFER, first_lender + lender, first_loan + loan, LENDING_UNIT)
                    return SUCCESS["lend"]
            except Refused as refused:
                return f"refused ({refused})"

        run = await _race(plan.ops(), send, database_url, BASELINE_APPLICATION)
        funded = await pool.fetch("SELECT funded FROM bench_p6_loan ORDER BY id")
        assert [r["funded"] for r in funded] == [n * LENDING_UNIT for n in plan.lends_per_loan]
        credited = await pool.fetchval(
            "SELECT sum(balance) FROM bench_p6_account WHERE id BETWEEN 1 AND $1", plan.deposits
        )
        assert credited == plan.deposits * LENDING_UNIT, credited
        await pool.execute(
            "DROP TABLE bench_p6_share, bench_p6_loan, bench_p6_transfer, bench_p6_idempotency, bench_p6_account"
        )
        return run
    finally:
        await pool.close()


async def run(database_url: str, *, deposits: int, lends: int, loans: int, pool: int) -> str:
    """Arrange, run both paths, verify, print the table; return the one-line summary."""
    plan = Plan(deposits, lends, loans)
    async with serve(pooled(database_url, pool)) as client:
        watch = Stopwatch()
        arranged = await arrange(plan, pool)
        print(
            f"  arranged in {watch.seconds:.1f} s: {loans} loans of {to_decimal(2 * max(plan.lends_per_loan) * 2500)}, "
            f"{deposits} lenders without credit, {plan.lenders} with {to_decimal(LENDS_PER_LENDER * LENDING_UNIT)}; "
            f"pool {pool} connections on both paths"
        )
        # The baseline first, on its own pool, closed before the lendgraph run so the two never share the server.
        baseline = await race_baseline(database_url, plan, pool)
        measured = await race_api(client, plan, arranged, database_url)
        books = await check_books()
        problems = await loan_problems()
        funded = dict(await Loan.filter(id__in=arranged.loans).values_list("id", "funded_cents"))
        statuses = set(await Loan.filter(id__in=arranged.loans).values_list("status", flat=True))

    report(plan, measured, baseline)
    expected = [n * LENDING_UNIT for n in plan.lends_per_loan]
    print(
        f"  after: check_books().ok = {books.ok}; loans overfunded or auto-lent above half: {len(problems)}; "
        f"every loan funded exactly by its lends: {[funded[i] for i in arranged.loans] == expected}"
    )

    # Checked after printing, so a failure still shows what happened.
    for kind in KINDS:
        outcomes = Counter(d.outcome for d in measured.of(kind))
        assert set(outcomes) == {SUCCESS[kind]}, f"{kind}: {dict(outcomes)}"
        assert {d.outcome for d in baseline.of(kind)} == {SUCCESS[kind]}, kind
    assert books.ok, books.problems
    assert not problems, problems
    assert [funded[i] for i in arranged.loans] == expected
    assert statuses == {LoanStatus.FUNDRAISING}, statuses
    rates = {kind: share(measured.per_second(kind), baseline.per_second(kind)) for kind in KINDS}
    return (
        f"P6 platform: {deposits} deposits + {lends} lends over {loans} loans at once; books balance, no loan "
        f"overfunded or auto-lent above half; deposits {measured.per_second('deposit'):.0f}/s vs asyncpg "
        f"{baseline.per_second('deposit'):.0f}/s ({rates['deposit']}), lends {measured.per_second('lend'):.0f}/s vs "
        f"{baseline.per_second('lend'):.0f}/s ({rates['lend']}); target {TARGET:.0%}; round trips per deposit "
        f"{_trips(measured, 'deposit')} vs {_trips(baseline, 'deposit')}, per lend {_trips(measured, 'lend')} vs "
        f"{_trips(baseline, 'lend')}"
    )


def _trips(run: Run, kind: str) -> str:
    return trips_summary([len(d.trips) for d in run.of(kind)])


def report(plan: Plan, measured: Run, baseline: Run) -> None:
    columns = "path operation count ops/s p50_ms p99_ms trips/op ratio_ops/s ratio_p50"
    table = Table([c.replace("_", " ") for c in columns.split()])
    for kind in (*KINDS, None):
        for name, result in (("lendgraph GraphQL", measured), ("asyncpg transaction", baseline)):
            done = result.done if kind is None else result.of(kind)
            latencies = [d.latency for d in done]
            base = baseline.done if kind is None else baseline.of(kind)
            table.add(
                name,
                kind or "all",
                len(done),
                f"{result.per_second(kind):.0f}",
                ms(median(latencies)),
                ms(percentile(latencies, 0.99)),
                trips_summary([len(d.trips) for d in done]),
                share(result.per_second(kind), baseline.per_second(kind)) if result is measured else "",
                ratio(median(latencies), median([d.latency for d in base])) if result is measured else "",
            )
    print(table.render())
    for name, result in (("lendgraph", measured), ("asyncpg", baseline)):
        print(
            f"  {name}: wall {result.wall:.2f} s, this process's CPU {result.cpu:.2f} s "
            f"({100 * result.cpu / result.wall:.0f}% of the wall time); {result.statements} statements from any task, "
            f"{result.statements / len(result.done):.1f} per operation\n    {result.waits.summary()}"
        )
    for kind in KINDS:
        rate = measured.per_second(kind) / baseline.per_second(kind)
        verdict = "meets" if rate >= TARGET else "below"
        print(f"  {kind}s: {rate:.1%} of the baseline's throughput, {verdict} the {TARGET:.0%} target")
    for name, result in (("lendgraph", measured), ("asyncpg", baseline)):
        for kind in KINDS:
            print(f"  round trips of one {name} {kind}: " + ", ".join(map(describe, result.examples[kind])))
