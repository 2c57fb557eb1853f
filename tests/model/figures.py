"""What the API must report for a model world: balances, loans, portfolios, partners, ledger accounts.

`expected(world, now)` has the shape of tests.model.harness `observe()`: plain dicts of integer cents,
Decimal rates and datetimes, so a mismatch shows as a short diff.
"""

import calendar
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tests.model.state import Lender, Loan, Share
from tests.model.world import World

OUTSTANDING = ("FUNDRAISING", "FUNDED", "REPAYING")
DISBURSED = ("FUNDED", "REPAYING", "REPAID", "DEFAULTED")
RATE = Decimal("0.0001")


def ratio(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(RATE) if whole else Decimal("0.0000")


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def instalments(loan: Loan) -> list[tuple[date, int]]:
    """Equal monthly instalments from the month after funding; the last takes the odd cents."""
    if loan.funded_at is None:
        return []
    base = loan.amount // loan.term
    return [
        (add_months(loan.funded_at.date(), n), base if n < loan.term else loan.amount - base * (loan.term - 1))
        for n in range(1, loan.term + 1)
    ]


def past_due(loan: Loan, now: datetime) -> int:
    """Principal due before today and not repaid (an instalment is late from the day after it is due)."""
    due = sum(amount for day, amount in instalments(loan) if day < now.date())
    return max(0, due - loan.repaid)


def days_past_due(loan: Loan, now: datetime) -> int:
    """Days the oldest unpaid instalment is overdue, for a loan being repaid (0 once it ended)."""
    if loan.status not in ("FUNDED", "REPAYING"):
        return 0
    left = loan.repaid
    for day, amount in instalments(loan):
        paid = min(left, amount)
        left -= paid
        if paid < amount:
            return max(0, (now.date() - day).days)
    return 0


def expected(world: World, now: datetime) -> dict[str, Any]:
    return {
        "lenders": {name: lender_view(world, lender, now) for name, lender in world.lenders.items()},
        "loans": {gid: loan_view(loan, now) for gid, loan in world.loans.items()},
        "partners": {name: partner_view(world, name, now) for name in world.partners},
        "accounts": {
            "world": world.world_account,
            **{f"partner:{name}": partner.account for name, partner in world.partners.items()},
            **{f"loan:{gid}": loan.account for gid, loan in world.loans.items()},
        },
    }


def loan_view(loan: Loan, now: datetime) -> dict[str, Any]:
    return {
        "status": loan.status,
        "amount": loan.amount,
        "funded": loan.funded,
        "remaining": loan.remaining,
        "repaid": loan.repaid,
        "lender_count": len(loan.shares),
        "funded_at": loan.funded_at,
        "days_past_due": days_past_due(loan, now),
        "auto": loan.auto,
        "allocations": loan.allocations,
    }


def lender_view(world: World, lender: Lender, now: datetime) -> dict[str, Any]:
    rule = lender.rule
    mine = [(loan, loan.shares[lender.name]) for loan in world.loans.values() if lender.name in loan.shares]
    kept = [(loan, share) for loan, share in mine if loan.status != "EXPIRED"]  # refunded shares are gone
    return {
        "balance": lender.balance,
        "loan_count": len(kept),
        "rule": (rule.enabled, rule.amount, rule.keep, rule.waiting_since) if rule else None,
        "shares": {loan.gid: (share.amount, share.repaid, share.loss) for loan, share in kept},
        "stats": portfolio(kept, now),
    }


def portfolio(kept: list[tuple[Loan, Share]], now: datetime) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    slices: dict[str, dict[str, list[int]]] = {"country": {}, "sector": {}, "gender": {}}
    for loan, share in kept:
        outstanding = share.amount - share.repaid if loan.status in OUTSTANDING else 0
        totals["loan_count"] += 1
        totals["lent"] += share.amount
        totals["outstanding"] += outstanding
        totals["repaid"] += share.repaid - share.loss  # credited, after currency loss
        totals["currency_loss"] += share.loss
        if loan.status in DISBURSED:
            totals["disbursed"] += share.amount
        if loan.status == "DEFAULTED":
            totals["defaulted"] += share.amount - share.repaid
        if loan.status in ("FUNDED", "REPAYING"):
            totals["repaying"] += outstanding
            totals["past_due"] += past_due(loan, now) * share.amount // loan.amount  # the share's part
        for dimension, key in (("country", loan.country), ("sector", loan.sector), ("gender", loan.gender)):
            part = slices[dimension].setdefault(key, [0, 0, 0])
            part[0] += 1
            part[1] += share.amount
            part[2] += outstanding
    return {
        **{k: totals[k] for k in ("loan_count", "lent", "outstanding", "repaid", "currency_loss", "defaulted")},
        "default_rate": ratio(totals["defaulted"], totals["disbursed"]),
        "arrears_rate": ratio(totals["past_due"], totals["repaying"]),
        **{
            f"by_{dimension}": tuple(sorted(((key, *v) for key, v in parts.items()), key=lambda s: (-s[2], s[0])))
            for dimension, parts in slices.items()
        },
    }


def partner_view(world: World, name: str, now: datetime) -> dict[str, Any]:
    loans = [loan for loan in world.loans.values() if loan.partner == name]
    disbursed = sum(loan.amount for loan in loans if loan.status in DISBURSED)
    defaulted = sum(loan.amount - loan.repaid for loan in loans if loan.status == "DEFAULTED")
    repaying = [loan for loan in loans if loan.status in ("FUNDED", "REPAYING")]
    outstanding = sum(loan.amount - loan.repaid for loan in repaying)
    return {
        "loan_count": len(loans),
        "default_rate": ratio(defaulted, disbursed),
        "arrears_rate": ratio(sum(past_due(loan, now) for loan in repaying), outstanding),
    }
