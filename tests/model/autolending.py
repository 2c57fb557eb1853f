"""The model of auto-lending, as the README promises it (rules with IMMEDIATE triggers and no pause).

A rule lends to a loan at most once (never where its lender already has a share), never below its
kept balance, in whole shares of 25.00; all rules together fund at most half of a loan; the credit
that waited longest goes first, 25.00 at a time, round robin, and each rule served goes to the back
of the queue in the order of its last share. Rules run when credit arrives (each considering at most
10 loans, soonest to expire first), when a loan is listed, and on the sweep.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tests.model.state import UNIT, Lender, Loan, Share

if TYPE_CHECKING:
    from tests.model.world import World

LOANS_PER_LENDER = 10


def auto_room(loan: Loan) -> int:
    """What rules may still put into the loan: up to half its amount, and no more than it has left."""
    return max(0, min(loan.amount // 2 - loan.auto, loan.remaining)) // UNIT * UNIT


def lendable(lender: Lender, balance: int) -> int:
    assert lender.rule is not None
    return max(0, balance - lender.rule.keep) // UNIT * UNIT


def may_lend(lender: Lender, loan: Loan, now: datetime) -> bool:
    return (
        lender.rule is not None
        and lender.rule.enabled
        and lender.rule.matches(loan)
        and lender.name not in loan.shares
        and loan.status == "FUNDRAISING"
        and loan.expires_at > now
    )


def on_credit(world: "World", names: list[str], now: datetime) -> int:
    """Credit arrived for these lenders: each rule picks its (at most 10) loans from the credit it
    had then, and each picked loan is offered to every rule. Returns the number of loans lent to."""
    lenders = [world.lenders[name] for name in names if (rule := world.lenders[name].rule) and rule.enabled]
    picked: dict[str, Loan] = {}
    for lender in lenders:
        if lendable(lender, lender.balance):
            for loan in candidates(world, lender, now)[:LOANS_PER_LENDER]:
                picked[loan.gid] = loan
    return sum(fund_loan(world, loan, now) for loan in sorted(picked.values(), key=by_expiry))


def candidates(world: "World", lender: Lender, now: datetime) -> list[Loan]:
    loans = sorted(world.loans.values(), key=by_expiry)
    return [loan for loan in loans if may_lend(lender, loan, now) and auto_room(loan) >= UNIT]


def by_expiry(loan: Loan) -> tuple[datetime, int]:
    return loan.expires_at, loan.db_id


def fund_loan(world: "World", loan: Loan, now: datetime) -> bool:
    """Every matching rule competes for the loan's room; returns whether any lent."""
    room = auto_room(loan)
    if loan.status != "FUNDRAISING" or loan.expires_at <= now or room < UNIT:
        return False
    rivals = [
        lender for lender in world.lenders.values()
        if may_lend(lender, loan, now) and lendable(lender, lender.balance)
    ]  # fmt: skip
    assert all(lender.rule for lender in rivals)
    order = sorted(rivals, key=lambda lender: (lender.rule.waiting_since, lender.db_id))  # type: ignore[union-attr]
    given: dict[str, int] = defaultdict(int)
    last_turn: dict[str, int] = {}
    turn = 0
    progressed = True
    while room >= UNIT and progressed:
        progressed = False
        for lender in order:
            wants = min(lender.rule.amount, lendable(lender, lender.balance))  # type: ignore[union-attr]
            if room >= UNIT and given[lender.name] + UNIT <= wants:
                given[lender.name] += UNIT
                room -= UNIT
                turn += 1
                last_turn[lender.name] = turn
                progressed = True
    served = sorted((lender for lender in order if given[lender.name]), key=lambda lender: lender.db_id)
    for lender in served:  # shares are made in the order of the lenders' accounts
        cents = given[lender.name]
        lender.balance -= cents
        loan.funded += cents
        loan.auto += cents
        loan.account += cents
        loan.allocations += 1
        loan.shares[lender.name] = Share(cents)
        lender.rule.waiting_since = now + timedelta(microseconds=last_turn[lender.name])  # type: ignore[union-attr]
    if served and loan.funded == loan.amount:
        world.disburse(loan, now)
    return bool(served)
