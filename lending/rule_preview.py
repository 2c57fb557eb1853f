"""What an auto-lend rule would do: the loans it would fund now (preview) or would have funded from the
listings of the last days (backtest), with the lender's credit of today. Nothing is written."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from lending.allocation import auto_room, lendable_cents
from lending.autolend import MAX_IDLE_DAYS, RuleSpec, candidate_loans, validate
from lending.errors import InvalidInput
from lending.money import LENDING_UNIT, to_decimal
from lending.rulerows import Terms, trigger_met
from models import Account, AutoLendRule, Lender, Loan, LoanStatus


@dataclass
class Preview:
    """What a rule would lend: (loan, cents) in order, the total, and why not more."""

    loans: list[tuple[Loan, int]]
    total_cents: int
    note: str


async def preview(lender_id: int, spec: RuleSpec | None, now: datetime) -> Preview:
    """The loans the rule (the given one, or the lender's own) would fund now, in the engine's order."""
    terms, lender, balance = await _subject(lender_id, spec, now)
    if terms is None:
        return Preview([], 0, "You have no auto-lend rule.")
    credit = lendable_cents(balance, terms.keep_cents)
    if not credit:
        return Preview(
            [], 0, f"No credit to lend: {to_decimal(balance)} available, {to_decimal(terms.keep_cents)} kept."
        )
    if not trigger_met(terms, lender, now):
        return Preview([], 0, "The rule is disabled, paused or waiting for its trigger.")
    chosen = []
    for loan in await candidate_loans(terms, lender_id, now):
        cents = min(terms.amount_cents, credit, auto_room(loan))
        if cents >= LENDING_UNIT:
            chosen.append((loan, cents))
            credit -= cents
    total = sum(cents for _, cents in chosen)
    return Preview(chosen, total, "" if chosen else "No fundraising loan matches the rule right now.")


async def backtest(lender_id: int, spec: RuleSpec | None, days: int, now: datetime) -> Preview:
    """What the rule would have funded from the listings of the last `days` days, with today's credit."""
    if not 1 <= days <= MAX_IDLE_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_IDLE_DAYS}.", "days")
    terms, _, balance = await _subject(lender_id, spec, now)
    if terms is None:
        return Preview([], 0, "You have no auto-lend rule.")
    credit = today = lendable_cents(balance, terms.keep_cents)
    listed = (
        await Loan.filter(listed_at__gte=now - timedelta(days=days), listed_at__lte=now)
        .select_related("partner")
        .order_by("listed_at", "id")
    )
    chosen = []
    for loan in listed:
        # Judged as it was when listed.
        if credit >= LENDING_UNIT and terms.criteria.matches(loan, loan.partner.risk_tenths, LoanStatus.FUNDRAISING):
            cents = min(terms.amount_cents, credit, loan.amount_cents // 2 // LENDING_UNIT * LENDING_UNIT)
            if cents >= LENDING_UNIT:
                chosen.append((loan, cents))
                credit -= cents
    total = sum(cents for _, cents in chosen)
    note = "" if today else "No credit to lend today; add credit to see what it would fund."
    return Preview(chosen, total, note)


async def _subject(lender_id: int, spec: RuleSpec | None, now: datetime) -> tuple[Terms | None, Lender, int]:
    lender = await Lender.get(id=lender_id)
    balance = (await Account.get(lender_id=lender_id)).balance_cents
    if spec is not None:
        return validate(spec, now), lender, balance
    rule = await AutoLendRule.get_or_none(lender_id=lender_id)
    return (Terms.of(rule) if rule else None), lender, balance
