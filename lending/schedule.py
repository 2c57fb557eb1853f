"""Monthly repayment schedules and delinquency, derived from a loan's terms."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Instalment:
    number: int
    due: date
    amount_cents: int
    paid_cents: int


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def instalments(amount: int, term_months: int, funded_at: datetime | None, repaid: int) -> list[Instalment]:
    """Equal monthly instalments from the month after funding; the last takes the odd cents.

    Repayments pay instalments in order, so `paid_cents` is derived from the
    total repaid. A loan not yet funded has no schedule.
    """
    if funded_at is None:
        return []
    base = amount // term_months
    left = repaid
    result = []
    for number in range(1, term_months + 1):
        due_amount = base if number < term_months else amount - base * (term_months - 1)
        paid = min(left, due_amount)
        left -= paid
        result.append(Instalment(number, add_months(funded_at.date(), number), due_amount, paid))
    return result


def past_due_cents(amount: int, term_months: int, funded_at: datetime | None, repaid: int, now: datetime) -> int:
    """Principal that was due by `now` and has not been repaid."""
    if funded_at is None:
        return 0
    # Without building the schedule: partners' and portfolios' arrears sum this over every repaying loan
    # at each read. Instalment n falls due on add_months(funded, n), so those of the months before this
    # one have fallen due, and this month's once its day is past (an instalment is late from the day
    # after its due date, as days_past_due counts).
    funded, today = funded_at.date(), now.date()
    months = (today.year - funded.year) * 12 + today.month - funded.month
    if months > 0 and add_months(funded, months) >= today:
        months -= 1
    fallen_due = min(max(months, 0), term_months)
    due = amount if fallen_due == term_months else amount // term_months * fallen_due
    return max(0, due - repaid)


def days_past_due(amount: int, term_months: int, funded_at: datetime | None, repaid: int, now: datetime) -> int:
    """Days since the oldest instalment that is due and not fully paid (0 when up to date)."""
    for instalment in instalments(amount, term_months, funded_at, repaid):
        if instalment.paid_cents < instalment.amount_cents:
            return max(0, (now.date() - instalment.due).days)
    return 0
