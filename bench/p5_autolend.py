"""P5 - a repayment to 200 lenders whose auto-lend rules reinvest it at once.

Two groups of 200 lenders each hold every share of ROUNDS fully funded loans
of 5,000.00. The lenders of one group have IMMEDIATE auto-lend rules; those
of the other (the baseline) do not. Forty loans are fundraising. In each
round the partner repays one loan of each group in full with one
`post_repayment`: the baseline credits 200 lenders; the measured one credits
200 lenders and runs their rules, which lend the credit straight back out (at
most half of each loan, fairly). The ratio is the cost of auto-relending on
top of the repayment itself.

A repayment takes about a tenth of a second, in which a neighbour on a shared
machine can take a third: each is measured ROUNDS times and the median is the
figure (the range is printed beside it).
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from statistics import median

from bench.common import SqlCounter, Stopwatch, Table, gather_limited, ratio
from lending.accounts import deposit, register_lender
from lending.autolend import RuleSpec, set_rule
from lending.filters import LoanFilter
from lending.funding import lend
from lending.ledger import check_books
from lending.loans import Listing, list_loan
from lending.partners import create_partner
from lending.repayments import post_repayment
from lending.tokens import authenticate, issue_token
from models import Allocation, Gender, Partner, Role, Sector

ROUNDS = 3


@dataclass
class Measured:
    label: str
    seconds: list[float]  # one per round
    statements: list[int]
    allocations: int  # written by the rounds, in all

    @property
    def median(self) -> float:
        return median(self.seconds)


async def _funded_loans(
    partner: Partner, group: str, lenders: int, now: datetime, keys: Iterator[int]
) -> tuple[list[int], list[int]]:
    """ROUNDS loans, each funded by the same `lenders` lenders, one share each."""
    loans = [
        await list_loan(
            partner,
            Listing(f"{group} loan {n}", "to restock", "KE", Sector.RETAIL, Gender.FEMALE, str(25 * lenders), 12),
            now,
        )
        for n in range(ROUNDS)
    ]
    made = await gather_limited(
        10,
        (partial(register_lender, f"{group} {i}", f"{group.lower()}{i}@example.org", now) for i in range(lenders)),
    )
    ids = [lender.id for lender, _ in made]
    await gather_limited(10, (partial(deposit, i, str(25 * ROUNDS), f"d{next(keys)}", now) for i in ids))
    for loan in loans:
        await gather_limited(10, (partial(lend, i, loan.id, "25.00", f"l{next(keys)}", now) for i in ids))
    return [loan.id for loan in loans], ids


async def run(url: str, *, lenders: int = 200, open_loans: int = 40) -> str:
    """Arrange, measure both repayments, print a table; return the summary line."""
    now = datetime.now(UTC)
    keys = itertools.count()
    watch = Stopwatch()
    partner = await create_partner("Relend Partner", "KE", "3.5", now)
    admin = await authenticate(await issue_token(Role.ADMIN, name="bench"))
    baseline_loans, _ = await _funded_loans(partner, "Plain", lenders, now, keys)
    measured_loans, auto_ids = await _funded_loans(partner, "Auto", lenders, now, keys)
    for lender_id in auto_ids:
        await set_rule(lender_id, RuleSpec(criteria=LoanFilter()), now)  # no credit yet: lends nothing
    for i in range(open_loans):
        listing = Listing(f"Open {i}", "to buy seed", "KE", Sector.AGRICULTURE, Gender.FEMALE, "1000.00", 12)
        await list_loan(partner, listing, now)
    print(
        f"  arranged in {watch.seconds:.1f} s: two groups of {lenders} lenders, each holding every share of "
        f"{ROUNDS} funded loans of {25 * lenders:,}.00 (one group with IMMEDIATE rules), {open_loans} "
        "fundraising loans of 1,000.00"
    )

    base = Measured("repayment only (no rules)", [], [], 0)
    auto = Measured("repayment + auto-relending", [], [], 0)
    for plain_loan, auto_loan in zip(baseline_loans, measured_loans, strict=True):
        for measured, loan_id in ((base, plain_loan), (auto, auto_loan)):
            counter = SqlCounter()
            watch = Stopwatch()
            with counter.attached():
                await post_repayment(admin, loan_id, str(25 * lenders), None, f"r{next(keys)}", now)
            measured.seconds.append(watch.seconds)
            measured.statements.append(len(counter.statements))
    auto.allocations = await Allocation.all().count()
    books = await check_books()
    assert books.ok, books.problems
    assert auto.allocations == ROUNDS * lenders, auto.allocations
    table = Table(["path", "lenders", "median s", "rounds s", "SQL", "auto-loans"])
    for m in (base, auto):
        rounds = ", ".join(f"{s:.3f}" for s in m.seconds)
        table.add(m.label, lenders, f"{m.median:.3f}", rounds, "/".join(map(str, m.statements)), m.allocations)
    print(table.render())
    print(
        f"  {auto.allocations} auto-loans written; books balance; per lender: "
        f"{1000 * auto.median / lenders:.2f} ms with relending, {1000 * base.median / lenders:.2f} ms without"
    )
    return (
        f"P5 repayment to {lenders} lenders with auto-relending: {auto.median:.3f} s (median of {ROUNDS}; "
        f"{min(auto.seconds):.3f}-{max(auto.seconds):.3f}), {auto.statements[0]} SQL, "
        f"{auto.allocations // ROUNDS} auto-loans a round vs repayment alone {base.median:.3f} s "
        f"-> ratio {ratio(auto.median, base.median)}"
    )
