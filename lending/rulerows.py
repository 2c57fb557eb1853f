"""Auto-lend rules as the engine reads them: validated terms, and rows of plain values.

A batch of auto-lending reads hundreds of rules; reading them as value rows
(with their lenders' clocks and credit) rather than model objects keeps its
Python cost small (bench/README.md, P5).
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from tortoise.queryset import QuerySet

from lending.allocation import Queued
from lending.filters import LoanFilter
from models import AutoLendRule, AutoLendTrigger, Lender


@dataclass(frozen=True)
class Terms:
    """A validated rule, in cents."""

    criteria: LoanFilter
    enabled: bool
    amount_cents: int
    keep_cents: int
    pause_until: datetime | None
    trigger: AutoLendTrigger
    idle_days: int | None

    @classmethod
    def of(cls, rule: AutoLendRule) -> "Terms":
        return cls(
            LoanFilter.from_json(rule.criteria),
            rule.enabled,
            rule.amount_cents,
            rule.keep_cents,
            rule.pause_until,
            rule.trigger,
            rule.idle_days,
        )


class Clocks(NamedTuple):
    """The lender's times that a rule's trigger reads."""

    created_at: datetime
    last_seen_at: datetime | None
    last_lent_at: datetime | None


# A rule and its lender's clocks as one row of values: a batch reads hundreds of rules, and model
# objects (and their related lenders) would cost more than the rest of the batch's Python.
RULE_COLUMNS = (
    "id",
    "lender_id",
    "criteria",
    "amount_cents",
    "keep_cents",
    "pause_until",
    "trigger",
    "idle_days",
    "waiting_since",
    "lender__created_at",
    "lender__last_seen_at",
    "lender__last_lent_at",
    "lender__account__balance_cents",  # read without a lock: a hint of who may lend, checked again under one
)


class RuleRow(NamedTuple):
    """One rule as `read_rules` gives it."""

    rule: Queued
    terms: Terms
    ready: bool  # its trigger is met now
    balance: int  # its lender's credit when read


async def read_rules(query: QuerySet[AutoLendRule], now: datetime) -> list[RuleRow]:
    """The query's enabled rules in id order, as plain values (RULE_COLUMNS)."""
    parsed: dict[str, LoanFilter] = {}  # rules often share their criteria: each distinct one is parsed once
    ready = []
    for row in await query.filter(enabled=True).order_by("id").values_list(*RULE_COLUMNS):
        rule_id, lender_id, criteria, amount, keep, pause, trigger, idle, since, created, seen, lent, balance = row
        key = repr(criteria)  # stored by LoanFilter.to_json, so alike criteria print alike
        if key not in parsed:
            parsed[key] = LoanFilter.from_json(criteria)
        terms = Terms(parsed[key], True, amount, keep, pause, AutoLendTrigger(trigger), idle)
        met = trigger_met(terms, Clocks(created, seen, lent), now)
        ready.append(RuleRow(Queued(rule_id, lender_id, since), terms, met, balance or 0))
    return ready


class Standing(NamedTuple):
    """A rule's place in the queue and its lender's clocks."""

    waiting_since: datetime | None
    clocks: Clocks


async def standings(rule_ids: Collection[int]) -> dict[int, Standing]:
    """The standings of these rules as last committed, by rule id (none asked, no query)."""
    if not rule_ids:
        return {}
    columns = ("id", "waiting_since", "lender__created_at", "lender__last_seen_at", "lender__last_lent_at")
    rows = await AutoLendRule.filter(id__in=list(rule_ids)).values_list(*columns)
    return {row[0]: Standing(row[1], Clocks(*row[2:])) for row in rows}


async def as_committed(rules: dict[int, tuple[Queued, Terms]], now: datetime) -> set[int]:
    """Each rule moved to its place in the queue as last committed; the ids of those whose trigger,
    judged on their lenders' clocks as last committed, is no longer met.

    For a run that read the rules before it locked their lenders' accounts (lending.autolend): what
    another run or request committed meanwhile is then seen, as the balances are.
    """
    unmet = set()
    for rule_id, found in (await standings(rules)).items():
        rule, terms = rules[rule_id]
        rule.waiting_since = found.waiting_since
        if terms.trigger is not AutoLendTrigger.IMMEDIATE and not trigger_met(terms, found.clocks, now):
            unmet.add(rule_id)
    return unmet


def trigger_met(terms: Terms, lender: Lender | Clocks, now: datetime) -> bool:
    """Whether the rule may lend now: enabled, not paused, and its trigger reached."""
    if not terms.enabled or (terms.pause_until is not None and terms.pause_until > now):
        return False
    if terms.trigger is AutoLendTrigger.IMMEDIATE:
        return True
    since = lender.last_seen_at if terms.trigger is AutoLendTrigger.AFTER_IDLE_DAYS else lender.last_lent_at
    since = since or lender.created_at
    return now - since >= timedelta(days=terms.idle_days or 0)
