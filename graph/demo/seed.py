"""`lendgraph seed-demo`: a year of a small marketplace, made through the domain, and what to try with it.

Everything is created by the same functions the API calls (graph/demo/simulation.py), each given a
simulated `now`, so the double-entry ledger is exactly what real use would have written.

The content is deterministic: a fixed random seed, and every simulated time is an offset from one base
instant, so a fresh database always gets the same rows and ids. Only the base moves: the simulated year
ends at the start of the current UTC day, so the loans still fundraising are open when the server runs.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from graph.demo.examples import example_lines, examples
from graph.demo.plans import SEED, SIM_DAYS, money
from graph.demo.simulation import Simulation, run_year
from lending.accounts import deposit
from lending.tokens import authenticate, issue_token
from models import Account, Lender, Loan, LoanStatus, Partner, Repayment, Role, Share

DEMO_LENDER_MIN_CREDIT = 20_000  # cents the demo lender keeps, to try the lend example


@dataclass(frozen=True)
class ExampleLoans:
    """The loans the printed examples use: one to lend to, one to repay, and its partner (the demo partner)."""

    lend: Loan
    repay: Loan
    partner: Partner


async def seed_demo(*, now: datetime | None = None) -> str:
    """Fill an empty database with a year of demo marketplace activity; return a summary to print.

    Does nothing, and says so, when the database already has partners.
    Otherwise it creates 7 field partners in 7 countries, 72 lenders and 306
    loans over every sector, gender and status by simulating a year that ends
    at the start of the current UTC day (of `now`'s day, when given): loans
    listed, lent to, funded, repaid month by month (some with currency loss,
    some late, some early), written off and expired. All of it goes through
    the domain functions, in one transaction: the ledger balances, and a
    failure leaves nothing behind. The content is the same on every run; only
    the dates follow the calendar. Finally it issues a lender, a partner and
    an admin token and returns them with example GraphQL operations to paste
    into GraphiQL.
    """
    if await Partner.exists():
        return (
            "The database already has partners: demo data not seeded.\n"
            "To seed afresh, start from an empty database: with the default SQLite file, stop the server,\n"
            "delete lendgraph.sqlite3* and run `make run` again."
        )
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sim = Simulation(rng=random.Random(SEED), start=end - timedelta(days=SIM_DAYS), end=end)
    async with in_transaction():
        tokens, found = await _seed(sim)
    return await _summary(sim, tokens, found)


async def _seed(sim: Simulation) -> tuple[dict[str, str], ExampleLoans]:
    admin_token = await issue_token(Role.ADMIN, name="demo admin")
    sim.operator = await authenticate(admin_token)  # partners' repayments and write-offs are posted as admin
    await run_year(sim)

    demo_lender = sim.lenders[0]
    balance = (await Account.get(lender_id=demo_lender)).balance_cents
    if balance < DEMO_LENDER_MIN_CREDIT:
        await deposit(demo_lender, money(DEMO_LENDER_MIN_CREDIT), sim.key("deposit"), sim.end - timedelta(hours=1))
    found = await _example_loans(sim)
    tokens = {
        "lender": await issue_token(Role.LENDER, lender_id=demo_lender, name="demo"),
        "partner": await issue_token(Role.PARTNER, partner_id=found.partner.id, name="demo"),
        "admin": admin_token,
    }
    return tokens, found


async def _example_loans(sim: Simulation) -> ExampleLoans:
    fundraising = await Loan.filter(status=LoanStatus.FUNDRAISING).order_by("-expires_at", "id")
    to_lend = next(loan for loan in fundraising if loan.amount_cents - loan.funded_cents >= 10000)
    repaying = await Loan.filter(status=LoanStatus.REPAYING).order_by("id")
    # The loan with the most left to repay; its partner is the demo partner.
    to_repay = max(repaying, key=lambda loan: (loan.amount_cents - loan.repaid_cents, -loan.id))
    partner = next(p for p in sim.partners if p.id == to_repay.partner_id)
    return ExampleLoans(to_lend, to_repay, partner)


async def _summary(sim: Simulation, tokens: dict[str, str], found: ExampleLoans) -> str:
    rows: list[Any] = await Loan.all().values_list("status", flat=True)  # flat: each row is the status itself
    statuses = Counter(LoanStatus(status) for status in rows)
    demo_lender = await Lender.get(id=sim.lenders[0])
    lines = [
        f"Seeded demo data: a year of lending up to {sim.end:%Y-%m-%d %H:%M} UTC.",
        f"  partners     {await Partner.all().count()}",
        f"  lenders      {await Lender.all().count()}",
        f"  loans        {sum(statuses.values())}: " + ", ".join(f"{s.value} {statuses[s]}" for s in LoanStatus),
        f"  shares       {await Share.all().count()}",
        f"  repayments   {await Repayment.all().count()}",
        "",
        "Tokens (shown once; send as the HTTP header Authorization: Bearer <token>):",
        f"  lender  ({demo_lender.display_name}):  {tokens['lender']}",
        f"  partner ({found.partner.name}):  {tokens['partner']}",
        f"  admin:  {tokens['admin']}",
        "",
        "Lender web app: http://127.0.0.1:8000/app -- sign in with the lender token above.",
        "",
        "GraphiQL: http://127.0.0.1:8000/graphql -- paste an operation, its variables, and under",
        "Headers the JSON shown with it.",
    ]
    lines += example_lines(examples(found.lend.id, found.repay.id), tokens)
    return "\n".join(lines)
