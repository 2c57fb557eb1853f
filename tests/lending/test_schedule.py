"""lending.schedule: a funded loan's monthly instalments, and how late it is, called directly.

Equal monthly instalments from the month after funding, the last taking the odd cents; repayments
pay them in order; an instalment is late from the day after its due date. The same rules through
the API: tests/graph/test_schedule_and_default.py.
"""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending.schedule import add_months, days_past_due, instalments, past_due_cents

SETTINGS = settings(max_examples=200, deadline=None)
FUNDED = datetime(2026, 3, 2, 12, tzinfo=UTC)  # the test clock's start, as in the API tests

# --- the schedule ------------------------------------------------------------------------------------


def test_equal_instalments_from_the_month_after_funding():
    schedule = instalments(30_000, 3, FUNDED, 0)
    assert [(i.number, i.due, i.amount_cents, i.paid_cents) for i in schedule] == [
        (1, date(2026, 4, 2), 10_000, 0),
        (2, date(2026, 5, 2), 10_000, 0),
        (3, date(2026, 6, 2), 10_000, 0),
    ]


def test_the_last_instalment_takes_the_odd_cents():
    assert [i.amount_cents for i in instalments(10_000, 3, FUNDED, 0)] == [3_333, 3_333, 3_334]
    assert [i.amount_cents for i in instalments(2_500, 12, FUNDED, 0)] == [208] * 11 + [212]


def test_repayments_pay_the_instalments_in_order():
    assert [i.paid_cents for i in instalments(10_000, 3, FUNDED, 4_000)] == [3_333, 667, 0]
    assert [i.paid_cents for i in instalments(10_000, 3, FUNDED, 10_000)] == [3_333, 3_333, 3_334]


def test_a_loan_not_yet_funded_has_no_schedule():
    assert instalments(10_000, 3, None, 0) == []
    assert days_past_due(10_000, 3, None, 0, FUNDED) == 0
    assert past_due_cents(10_000, 3, None, 0, FUNDED) == 0


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31st in February: its last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # the day comes back where the month has it
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),  # into the next year
        (date(2026, 3, 2), 120, date(2036, 3, 2)),  # the longest term
    ],
)
def test_a_due_date_is_the_same_day_months_later_or_the_months_last(day, months, expected):
    assert add_months(day, months) == expected


# --- lateness -------------------------------------------------------------------------------------------


def test_an_instalment_is_late_from_the_day_after_its_due_date():
    due = datetime(2026, 4, 2, 23, 59, tzinfo=UTC)  # the first due date, late in the day
    assert (days_past_due(10_000, 2, FUNDED, 0, due), past_due_cents(10_000, 2, FUNDED, 0, due)) == (0, 0)
    after = datetime(2026, 4, 3, tzinfo=UTC)
    assert (days_past_due(10_000, 2, FUNDED, 0, after), past_due_cents(10_000, 2, FUNDED, 0, after)) == (1, 5_000)


def test_days_past_due_count_from_the_oldest_instalment_not_fully_paid():
    now = datetime(2026, 5, 12, tzinfo=UTC)  # the first instalment is 40 days late, the second 10
    assert days_past_due(30_000, 3, FUNDED, 0, now) == 40
    assert past_due_cents(30_000, 3, FUNDED, 0, now) == 20_000
    # Part of the first paid: still 40 days late, 6,000 less past due.
    assert (days_past_due(30_000, 3, FUNDED, 6_000, now), past_due_cents(30_000, 3, FUNDED, 6_000, now)) == (40, 14_000)
    # The first paid in full: late since the second's due date.
    assert (days_past_due(30_000, 3, FUNDED, 10_000, now), past_due_cents(30_000, 3, FUNDED, 10_000, now)) == (
        10,
        10_000,
    )
    # Paid ahead of the schedule: not late at all.
    assert (days_past_due(30_000, 3, FUNDED, 25_000, now), past_due_cents(30_000, 3, FUNDED, 25_000, now)) == (0, 0)


def test_a_repaid_loan_is_never_late():
    years_later = FUNDED + timedelta(days=3_650)
    assert days_past_due(30_000, 3, FUNDED, 30_000, years_later) == 0
    assert past_due_cents(30_000, 3, FUNDED, 30_000, years_later) == 0


# --- any loan ---------------------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=2_000).map(lambda shares: shares * 2_500)  # up to 50,000.00
TERMS = st.integers(min_value=1, max_value=120)
FUNDED_AT = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC))


@st.composite
def loans(draw: st.DrawFn) -> tuple[int, int, datetime, int]:
    """A loan's amount, term, funding time and what has been repaid of it so far."""
    amount = draw(AMOUNTS)
    return amount, draw(TERMS), draw(FUNDED_AT), draw(st.integers(min_value=0, max_value=amount))


@SETTINGS
@given(loans())
def test_the_instalments_add_up_to_the_loan_and_the_repaid(loan):
    amount, term, funded_at, repaid = loan
    schedule = instalments(amount, term, funded_at, repaid)
    assert [i.number for i in schedule] == list(range(1, term + 1))
    assert sum(i.amount_cents for i in schedule) == amount
    # All equal but the last, which is at most term - 1 cents more.
    assert {i.amount_cents for i in schedule[:-1]} <= {amount // term}
    assert 0 <= schedule[-1].amount_cents - amount // term < term
    # Paid in order: whole instalments, at most one in part, then nothing.
    assert sum(i.paid_cents for i in schedule) == repaid
    paid = [i.paid_cents for i in schedule]
    whole = next((n for n, i in enumerate(schedule) if i.paid_cents < i.amount_cents), term)
    assert all(i.paid_cents == i.amount_cents for i in schedule[:whole])
    assert not any(paid[whole + 1 :])
    # Monthly: each due date a month after the one before, on the funding day or the month's last.
    dues = [funded_at.date(), *(i.due for i in schedule)]
    for before, after in itertools.pairwise(dues):
        assert (after.year * 12 + after.month) - (before.year * 12 + before.month) == 1
    assert all(i.due.day == funded_at.day or (i.due + timedelta(days=1)).month != i.due.month for i in schedule)


@SETTINGS
@given(loans(), st.integers(min_value=0, max_value=4_000))
def test_a_loan_has_days_past_due_exactly_when_it_has_principal_past_due(loan, days):
    """Days past due and arrears (past_due_cents) agree, so a partner's arrears rate agrees with its loans."""
    amount, term, funded_at, repaid = loan
    now = funded_at + timedelta(days=days)
    late = days_past_due(amount, term, funded_at, repaid, now)
    owed = past_due_cents(amount, term, funded_at, repaid, now)
    assert 0 <= late <= days
    assert 0 <= owed <= amount - repaid
    assert (late > 0) == (owed > 0)
    # What was due before today, less what was repaid: the schedule says the same.
    due = sum(i.amount_cents for i in instalments(amount, term, funded_at, 0) if i.due < now.date())
    assert owed == max(0, due - repaid)
