"""lending.allocation: how competing auto-lend rules share a loan's room, called directly.

The credit that has waited longest goes first (`waiting_since`; a rule that never waited goes last),
25.00 at a time, round robin, until the room or the rules run out; ties go to the lower lender id.
Each rule gets at most what it wants (its amount per loan, or its lendable credit if less), in whole
shares. The same rules through the API: tests/graph/test_autolend.py.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lending.allocation import Candidate, allocate, auto_room, lendable_cents
from lending.filters import LoanFilter
from lending.money import LENDING_UNIT

SETTINGS = settings(max_examples=300, deadline=None)
DAY = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Rule:
    """The two columns of an auto-lend rule that the allocation reads."""

    lender_id: int
    waiting_since: datetime | None


@dataclass(frozen=True)
class Room:
    """The three columns of a loan that its room for auto-lending is made of."""

    amount_cents: int
    funded_cents: int
    auto_funded_cents: int


def candidate(lender_id: int, wants: int, waited_days: int | None = 0) -> Candidate:
    """A rule of `lender_id` that wants `wants` cents and has waited `waited_days` before DAY (None: never)."""
    since = None if waited_days is None else DAY - timedelta(days=waited_days)
    return Candidate(Rule(lender_id, since), LoanFilter(), account_id=1000 + lender_id, wants=wants)


def shares(room: int, competitors: list[Candidate]) -> list[tuple[int, int]]:
    """(lender id, cents) of each grant, in the order of the allocation."""
    return [(grant.candidate.rule.lender_id, grant.cents) for grant in allocate(room, competitors)]


# --- who goes first -------------------------------------------------------------------------------------


def test_the_credit_that_waited_longest_goes_first():
    competitors = [candidate(1, 2_500, waited_days=1), candidate(2, 2_500, waited_days=5)]
    assert shares(2_500, competitors) == [(2, 2_500)]


def test_a_rule_that_never_waited_goes_after_every_rule_that_did():
    competitors = [candidate(1, 2_500, waited_days=None), candidate(2, 2_500, waited_days=0)]
    assert shares(2_500, competitors) == [(2, 2_500)]
    assert shares(5_000, competitors) == [(2, 2_500), (1, 2_500)]


def test_ties_go_to_the_lower_lender_id():
    competitors = [candidate(9, 2_500, waited_days=3), candidate(4, 2_500, waited_days=3)]
    assert shares(2_500, competitors) == [(4, 2_500)]
    never = [candidate(9, 2_500, waited_days=None), candidate(4, 2_500, waited_days=None)]
    assert shares(2_500, never) == [(4, 2_500)]


# --- 25.00 at a time, round robin ---------------------------------------------------------------------


def test_shares_go_round_robin_one_at_a_time():
    competitors = [candidate(1, 7_500, waited_days=1), candidate(2, 7_500, waited_days=2)]
    grants = allocate(10_000, competitors)
    # Lender 2 (waited longer) took turns 1 and 3, lender 1 turns 2 and 4.
    assert [(g.candidate.rule.lender_id, g.cents, g.last_turn) for g in grants] == [(2, 5_000, 3), (1, 5_000, 4)]


def test_the_odd_share_goes_to_the_one_that_waited_longest():
    competitors = [candidate(1, 5_000, waited_days=1), candidate(2, 5_000, waited_days=2), candidate(3, 5_000, 3)]
    assert shares(10_000, competitors) == [(3, 5_000), (2, 2_500), (1, 2_500)]


def test_a_rule_gets_at_most_what_it_wants_in_whole_shares_and_the_others_the_rest():
    competitors = [candidate(1, 6_000, waited_days=2), candidate(2, 2_500, waited_days=1), candidate(3, 2_400)]
    # Lender 1 wants 60.00: two shares; lender 3 wants less than a share: none.
    assert shares(50_000, competitors) == [(1, 5_000), (2, 2_500)]


def test_room_under_a_share_funds_nothing():
    assert allocate(2_499, [candidate(1, 10_000)]) == []
    assert allocate(0, [candidate(1, 10_000)]) == []
    assert allocate(10_000, []) == []


# --- what a rule may lend, and what room a loan leaves for rules ----------------------------------------


def test_a_rule_lends_whole_shares_above_the_balance_its_lender_keeps():
    assert lendable_cents(10_000, 2_500) == 7_500
    assert lendable_cents(10_000, 2_600) == 5_000  # 74.00 above the kept balance: two shares
    assert lendable_cents(2_000, 0) == 0
    assert lendable_cents(2_000, 5_000) == 0  # below what it keeps: nothing, never a negative


def test_rules_together_fund_at_most_half_a_loan_and_never_more_than_it_has_left():
    assert auto_room(Room(100_000, 0, 0)) == 50_000
    assert auto_room(Room(100_000, 40_000, 20_000)) == 30_000
    assert auto_room(Room(100_000, 90_000, 0)) == 10_000  # what is left
    assert auto_room(Room(100_000, 60_000, 50_000)) == 0  # rules' half is taken
    assert auto_room(Room(7_500, 0, 0)) == 2_500  # half of 75.00, in whole shares


# --- any competition ----------------------------------------------------------------------------------

COMPETITORS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=6),  # lender ids repeat across rules: ties on waiting_since happen
        st.integers(min_value=0, max_value=20_000),  # wants, not always whole shares
        st.one_of(st.none(), st.integers(min_value=0, max_value=4)),  # days waited, often equal
    ),
    max_size=8,
)
ROOMS = st.integers(min_value=0, max_value=60_000)


def expected_shares(room: int, competitors: list[Candidate]) -> list[tuple[int, int]]:
    """Round robin in closed form: every rule gets `level` shares (or all it wants, if fewer), and the
    shares left over go one each to the next rules in order that want more."""
    order = sorted(
        competitors, key=lambda c: (c.rule.waiting_since is None, c.rule.waiting_since or DAY, c.rule.lender_id)
    )
    wants = [c.wants // LENDING_UNIT for c in order]
    units = room // LENDING_UNIT
    level = 0
    while level < max(wants, default=0) and sum(min(w, level + 1) for w in wants) <= units:
        level += 1
    given = [min(w, level) for w in wants]
    for i in [i for i, w in enumerate(wants) if w > level][: units - sum(given)]:
        given[i] += 1
    return [(c.rule.lender_id, n * LENDING_UNIT) for c, n in zip(order, given, strict=True) if n]


@SETTINGS
@given(ROOMS, COMPETITORS)
def test_any_competition_is_shared_round_robin_from_the_longest_waiting(room, drawn):
    competitors = [candidate(lender, wants, waited) for lender, wants, waited in drawn]
    grants = allocate(room, competitors)
    assert [(g.candidate.rule.lender_id, g.cents) for g in grants] == expected_shares(room, competitors)
    assert sum(g.cents for g in grants) <= room
    assert all(g.cents % LENDING_UNIT == 0 and 0 < g.cents <= g.candidate.wants for g in grants)
    # Each share is one turn: the turns are 1..n, and each rule's last is where the round robin left it.
    assert sorted(g.last_turn for g in grants) == sorted(set(g.last_turn for g in grants))
    assert max((g.last_turn for g in grants), default=0) == sum(g.cents for g in grants) // LENDING_UNIT
