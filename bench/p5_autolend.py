"""P5 - a repayment to 200 lenders whose auto-lend rules reinvest it at once.

Two groups of 200 lenders each hold every share of a fully funded loan of
5,000.00. The lenders of one group have IMMEDIATE auto-lend rules; those of
the other (the baseline) do not. Forty loans are fundraising. The partner
repays each loan in full with one `post_repayment`: the baseline credits 200
lenders; the measured one credits 200 lenders and runs their rules, which
lend the credit straight back out (at most half of each loan, fairly).
The ratio is the cost of auto-relending on top of the repayment itself.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

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


@dataclass
class Measured:
    label: str
    seconds: float
    statements: int
    allocations: int


async def _funded_loan(
    partner: Partner, group: str, lenders: int, now: datetime, keys: Iterator[int]
) -> tuple[int, list[int]]:
    loan = await list_loan(
        partner,
        Listing(f"{group} loan", "to restock", "KE", Sector.RETAIL, Gender.FEMALE, str(25 * lenders), 12),
        now,
    )
    made = await gather_limited(
        10,
        (partial(register_lender, f"{group} {i}", f"{group.lower()}{i}@example.org", now) for i in range(lenders)),
    )
    ids = [lender.id for lender, _ in made]
    await gather_limited(10, (partial(deposit, i, "25.00", f"d{next(keys)}", now) for i in ids))
    await gather_limited(10, (partial(lend, i, loan.id, "25.00", f"l{next(keys)}", now) for i in ids))
    return loan.id, ids


async def run(url: str, *, lenders: int = 200, open_loans: int = 40) -> str:
    """Arrange, measure both repayments, print a table; return the summary line."""
    now = datetime.now(UTC)
    keys = itertools.count()
    watch = Stopwatch()
    partner = await create_partner("Relend Partner", "KE", "3.5", now)
    admin = await authenticate(await issue_token(Role.ADMIN, name="bench"))
    baseline_loan, _ = await _funded_loan(partner, "Plain", lenders, now, keys)
    measured_loan, auto_ids = await _funded_loan(partner, "Auto", lenders, now, keys)
    for lender_id in auto_ids:
        await set_rule(lender_id, RuleSpec(criteria=LoanFilter()), now)  # no credit yet: lends nothing
    for i in range(open_loans):
        listing = Listing(f"Open {i}", "to buy seed", "KE", Sector.AGRICULTURE, Gender.FEMALE, "1000.00", 12)
        await list_loan(partner, listing, now)
    print(
        f"  arranged in {watch.seconds:.1f} s: two funded loans of {25 * lenders:,}.00 with {lenders} lenders each "
        f"(one group with IMMEDIATE rules), {open_loans} fundraising loans of 1,000.00"
    )

    results = []
    for label, loan_id in (("repayment only (no rules)", baseline_loan), ("repayment + auto-relending", measured_loan)):
        counter = SqlCounter()
        watch = Stopwatch()
        with counter.attached():
            await post_repayment(admin, loan_id, str(25 * lenders), None, f"r{next(keys)}", now)
        seconds = watch.seconds
        results.append(Measured(label, seconds, len(counter.statements), await Allocation.all().count()))
    books = await check_books()
    assert books.ok, books.problems
    table = Table(["path", "lenders", "seconds", "SQL", "auto-loans"])
    for m in results:
        table.add(m.label, lenders, f"{m.seconds:.3f}", m.statements, m.allocations)
    print(table.render())
    base, auto = results
    print(
        f"  {auto.allocations} auto-loans written; books balance; per lender: "
        f"{1000 * auto.seconds / lenders:.2f} ms with relending, {1000 * base.seconds / lenders:.2f} ms without"
    )
    return (
        f"P5 repayment to {lenders} lenders with auto-relending: {auto.seconds:.2f} s, {auto.statements} SQL, "
        f"{auto.allocations} auto-loans vs repayment alone {base.seconds:.2f} s "
        f"-> ratio {ratio(auto.seconds, base.seconds)}"
    )
