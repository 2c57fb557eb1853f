"""Auto-lend rules as the engine reads them: validated terms, and rows of plain values.

A batch of auto-lending reads hundreds of rules; reading them as value rows
(with their lenders' clocks and credit) rather than model objects keeps its
Python cost small (bench/README.md, P5).
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from lending.allocation import Queued
from lending.filters import LoanFilter
from models import AutoLendRule, AutoLendTrigger, Lender
from models.bulk import one_of, select_values


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


# A rule and its lender's clocks as one row of values, read by SQL of its own: a batch reads hundreds of
# rules, and model objects, or the ORM's building of a query with hundreds of ids, would cost more than
# the rest of the batch's Python (bench/README.md, P5).
_RULES = (
    'SELECT r."id", r."lender_id", r."criteria", r."amount_cents", r."keep_cents", r."pause_until",'
    ' r."trigger", r."idle_days", r."waiting_since", l."created_at", l."last_seen_at", l."last_lent_at",'
    # Read without a lock: a hint of who may lend, checked again under one.
    ' a."balance_cents"'
    ' FROM "auto_lend_rule" r JOIN "lender" l ON l."id" = r."lender_id"'
    ' LEFT OUTER JOIN "account" a ON a."lender_id" = r."lender_id"'
    ' WHERE r."enabled" AND ({}) ORDER BY r."id"'
)
_STANDINGS = (
    'SELECT r."id", r."waiting_since", l."created_at", l."last_seen_at", l."last_lent_at"'
    ' FROM "auto_lend_rule" r JOIN "lender" l ON l."id" = r."lender_id" WHERE {}'
)


def _times() -> Callable[[Any], datetime | None]:
    """A time column's raw value as the ORM reads it (SQLite hands it back as text)."""
    return AutoLendRule._meta.fields_map["waiting_since"].to_python_value


class RuleRow(NamedTuple):
    """One rule as `read_rules` gives it."""

    rule: Queued
    terms: Terms
    ready: bool  # its trigger is met now
    balance: int  # its lender's credit when read


async def read_rules(rule_ids: Collection[int], lender_ids: Collection[int], now: datetime) -> list[RuleRow]:
    """The enabled rules `rule_ids` and those of the lenders `lender_ids`, in id order, as plain values."""
    by_id, values = one_of("id", rule_ids, 1, table="r")
    by_lender, more = one_of("lender_id", lender_ids, 1 + len(values), table="r")
    time, criteria_of = _times(), AutoLendRule._meta.fields_map["criteria"].to_python_value
    parsed: dict[Any, LoanFilter] = {}  # rules often share their criteria: each distinct one is parsed once
    ready = []
    for row in await select_values(_RULES.format(f"{by_id} OR {by_lender}"), values + more):
        criteria = row["criteria"]  # the stored text: alike criteria are stored alike (LoanFilter.to_json)
        if criteria not in parsed:
            parsed[criteria] = LoanFilter.from_json(criteria_of(criteria))
        trigger = AutoLendTrigger(row["trigger"])
        terms = Terms(
            parsed[criteria],
            True,
            row["amount_cents"],
            row["keep_cents"],
            time(row["pause_until"]),
            trigger,
            row["idle_days"],
        )
        met = trigger_met(terms, _clocks(row, time), now)
        rule = Queued(row["id"], row["lender_id"], time(row["waiting_since"]))
        ready.append(RuleRow(rule, terms, met, row["balance_cents"] or 0))
    return ready


def _clocks(row: Mapping[str, Any], time: Callable[[Any], datetime | None]) -> Clocks:
    created = time(row["created_at"])
    assert created is not None
    return Clocks(created, time(row["last_seen_at"]), time(row["last_lent_at"]))


class Standing(NamedTuple):
    """A rule's place in the queue and its lender's clocks."""

    waiting_since: datetime | None
    clocks: Clocks


async def standings(rule_ids: Collection[int]) -> dict[int, Standing]:
    """The standings of these rules as last committed, by rule id (none asked, no query)."""
    if not rule_ids:
        return {}
    condition, values = one_of("id", rule_ids, 1, table="r")
    time = _times()
    return {
        row["id"]: Standing(time(row["waiting_since"]), _clocks(row, time))
        for row in await select_values(_STANDINGS.format(condition), values)
    }


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
