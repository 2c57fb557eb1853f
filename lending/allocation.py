"""The arithmetic of auto-lending: what a rule may lend, what room a loan has left for rules, and
how competing rules share that room.

Who goes first: the credit that has waited longest (`waiting_since`), 25.00 at a time, round
robin, until the room or the rules run out; ties go to the lower lender id. Pure functions of rows
lending.autolend has read (and locked): no database, no clock, and the same answer every time.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from lending.filters import LoanFilter
from lending.money import LENDING_UNIT
from models import Loan

NEVER = datetime.max.replace(tzinfo=UTC)  # a rule that never waited goes after every rule that did


def lendable_cents(balance: int, keep_cents: int) -> int:
    """Credit a rule may lend: above the balance its lender keeps, in whole shares."""
    return max(0, balance - keep_cents) // LENDING_UNIT * LENDING_UNIT


def auto_room(loan: Loan) -> int:
    """What auto-lending may still put into `loan`: under half its amount, and what it has left."""
    cap = loan.amount_cents // 2 - loan.auto_funded_cents
    return max(0, min(cap, loan.amount_cents - loan.funded_cents)) // LENDING_UNIT * LENDING_UNIT


@dataclass
class Queued:
    """An auto-lend rule's place in the queue: the columns of its row that the allocation reads.

    Plain values rather than the model: a batch reads hundreds of rules, and lending.autolend moves
    `waiting_since` as it serves them.
    """

    id: int
    lender_id: int
    waiting_since: datetime | None


@dataclass(eq=False)  # compared by identity: each candidate is a key of the allocation's tallies
class Candidate:
    """A rule competing for a loan's room."""

    rule: Queued
    criteria: LoanFilter  # the rule's, for the notice of what matched
    account_id: int  # the lender's credit account
    wants: int  # the rule's amount per loan, or the lendable credit if that is less


@dataclass(frozen=True)
class Grant:
    candidate: Candidate
    cents: int
    last_turn: int  # when in the round robin this rule got its last share


def allocate(room: int, competitors: list[Candidate]) -> list[Grant]:
    """Share `room` among rules: longest-waiting first, 25.00 at a time, round robin."""
    order = sorted(competitors, key=lambda c: (c.rule.waiting_since or NEVER, c.rule.lender_id))
    given: dict[Candidate, int] = defaultdict(int)
    last_turn: dict[Candidate, int] = {}
    turn = 0
    progressed = True
    while room >= LENDING_UNIT and progressed:
        progressed = False
        for candidate in order:
            if room < LENDING_UNIT:
                break
            if given[candidate] + LENDING_UNIT <= candidate.wants:
                given[candidate] += LENDING_UNIT
                room -= LENDING_UNIT
                turn += 1
                last_turn[candidate] = turn
                progressed = True
    return [Grant(c, given[c], last_turn[c]) for c in order if given[c]]
