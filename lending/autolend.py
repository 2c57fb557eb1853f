"""Auto-lending: rules that reinvest a lender's idle credit.

When it runs: when credit arrives (a deposit, a repayment, a refund from an
expired loan), when a loan is listed, and on a periodic sweep (idle
thresholds crossed, pauses ended). What it may do: lend a lender at most
once to a loan, never below the balance they keep, never more than a loan
has left, and all rules together never more than half of any loan, so that
people who lend by hand always find room.

Who goes first when rules compete for a loan's room: the credit that has
waited longest (`waiting_since`, reset each time a rule lends), 25.00 at a
time, round robin, until the room or the rules run out. Ties go to the
lower lender id. The order is deterministic (lending.allocation).
"""

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from pyroaring import BitMap
from tortoise import Tortoise
from tortoise.expressions import F, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from lending import ledger, matchers
from lending.allocation import Candidate, allocate, auto_room, lendable_cents
from lending.autobook import Placement, book, matched
from lending.errors import InvalidInput
from lending.filters import LoanFilter, loan_query
from lending.money import LENDING_UNIT, Money, to_cents, to_cents_or_zero
from lending.outbox import emit
from lending.rulerows import RuleRow, Terms, as_committed, read_rules
from lending.transactions import atomic
from models import (
    AutoLendRule,
    AutoLendTrigger,
    Lender,
    Loan,
    LoanStatus,
    Partner,
    Share,
)
from models.bulk import select_values

MAX_IDLE_DAYS = 365
MAX_PAUSE_DAYS = 3650
MAX_PER_LOAN = 1_000_000  # 10,000.00
LOANS_PER_LENDER = 10  # a bound on the work one arrival of credit can cause
LOANS_PER_TRANSACTION = 50  # a bound on the locks one transaction of auto-lending holds (fund_loans)
PICKS = 3  # how often a run picks its loans again when a rule that picked them is replaced (on_credit)
SWEEP_LOCK = 7_418_002
log = logging.getLogger("lendgraph.autolend")


@dataclass(frozen=True)
class RuleSpec:
    """A rule as a lender asks for it, before validation."""

    criteria: LoanFilter
    enabled: bool = True
    amount: Money = "25.00"
    keep_balance: Money | None = None
    pause_until: datetime | None = None
    trigger: AutoLendTrigger = AutoLendTrigger.IMMEDIATE
    idle_days: int | None = None


def validate(spec: RuleSpec, now: datetime) -> Terms:
    """Check a rule; raise InvalidAmount or InvalidInput naming the field."""
    amount = to_cents(spec.amount, unit=LENDING_UNIT, maximum=MAX_PER_LOAN, label="amount per loan")
    keep = to_cents_or_zero(spec.keep_balance, label="balance to keep")
    if spec.trigger is AutoLendTrigger.IMMEDIATE:
        if spec.idle_days is not None:
            raise InvalidInput("idleDays applies only to the AFTER_... triggers.", "idleDays")
    elif spec.idle_days is None or not 1 <= spec.idle_days <= MAX_IDLE_DAYS:
        raise InvalidInput(f"idleDays must be 1 to {MAX_IDLE_DAYS} for this trigger.", "idleDays")
    if spec.pause_until is not None:
        if spec.pause_until.utcoffset() is None:
            raise InvalidInput("pauseUntil must include a timezone.", "pauseUntil")
        if spec.pause_until <= now:
            raise InvalidInput("pauseUntil must be in the future.", "pauseUntil")
        if spec.pause_until - now > timedelta(days=MAX_PAUSE_DAYS):
            raise InvalidInput(f"pauseUntil must be within {MAX_PAUSE_DAYS} days.", "pauseUntil")
    return Terms(spec.criteria, spec.enabled, amount, keep, spec.pause_until, spec.trigger, spec.idle_days)


async def set_rule(lender_id: int, spec: RuleSpec, now: datetime) -> AutoLendRule:
    """Create or replace the lender's rule, then run it once; answer the rule as written.

    Every process's rule index hears of it (lending.matchers), this one's at commit.

    The run commits on its own after the rule: the answer is what this call
    wrote, never a rule another call wrote meanwhile, nor what the run
    changed since (`waiting_since` when it lent; read the rule again for that).
    """
    terms = validate(spec, now)
    fields = {
        "enabled": terms.enabled,
        "criteria": terms.criteria.to_json(),
        "amount_cents": terms.amount_cents,
        "keep_cents": terms.keep_cents,
        "pause_until": terms.pause_until,
        "trigger": terms.trigger,
        "idle_days": terms.idle_days,
        "updated_at": now,
    }
    async with in_transaction():
        # The lender's row first: two first rules of one lender at once would both insert.
        await Lender.select_for_update(no_key=True).get(id=lender_id)
        rule = await AutoLendRule.get_or_none(lender_id=lender_id)
        if rule is None:
            rule = AutoLendRule(lender_id=lender_id, created_at=now, waiting_since=now, **fields)
            await rule.save(force_create=True)
        else:
            await AutoLendRule.filter(id=rule.id).update(**fields)
            rule = await AutoLendRule.get(id=rule.id)
        event = matchers.rule_set(rule)
        [event_id] = await emit([event], now)
    matchers.committed(event, event_id)
    await after_credit([lender_id], now)
    return rule


async def fund_loan(loan_id: int, now: datetime) -> bool:
    """Let every matching rule compete for one loan's auto-lendable room; return whether any lent."""
    return bool(await fund_loans([loan_id], now))


class RulesReplaced(Exception):
    """A rule that picked a run's loans was replaced (or disabled) before the run lent: pick again."""

    def __init__(self) -> None:
        super().__init__("a rule that picked these loans was replaced")
        self.lent: set[int] = set()  # the loans that the run's earlier batches lent to (committed)


async def fund_loans(
    loan_ids: Collection[int], now: datetime, picked_by: Mapping[int, Terms] | None = None
) -> set[int]:
    """Let every matching rule compete for these loans' room; return the loans lent to.

    `picked_by`: the rules (by lender id) whose terms chose these loans. If
    one of them is no longer those terms when a batch reads the rules, the
    batch lends nothing and RulesReplaced is raised: the loans were chosen
    by a rule that is gone, and lending them by its successor would follow
    neither rule (on_credit picks again).

    The loans are served soonest to expire first, each as if on its own:
    a rule served by one goes to the back of the queue for the next, and
    lends there only from the credit it has left. Each batch is decided
    first, then written at once (lending.autobook).

    A batch is at most LOANS_PER_TRANSACTION loans, in id order, each batch
    its own transaction, the next reading what the last committed: so a
    sweep over thousands of loans never holds thousands of loan and account
    locks at once, nor for long. The trade: the soonest-to-expire order (and
    the round robin across loans) holds within a batch, while a later
    batch's loans are served after an earlier one's whatever their
    deadlines, and a batch that fails leaves the ones before it committed.
    """
    ordered = sorted(set(loan_ids))
    lent: set[int] = set()
    for start in range(0, len(ordered), LOANS_PER_TRANSACTION):
        batch = ordered[start : start + LOANS_PER_TRANSACTION]
        try:
            lent |= await atomic(partial(_fund_loans, batch, now, picked_by or {}))
        except RulesReplaced as replaced:
            replaced.lent |= lent
            raise
    return lent


async def _fund_loans(loan_ids: list[int], now: datetime, picked_by: Mapping[int, Terms]) -> set[int]:
    # The lock order of lending.ledger: the loan rows in id order, then every account at once.
    loans = [
        loan
        for loan in await Loan.filter(id__in=loan_ids).order_by("id").select_for_update(no_key=True)
        if loan.status is LoanStatus.FUNDRAISING and loan.expires_at > now and auto_room(loan) >= LENDING_UNIT
    ]
    if not loans:
        return set()
    loans.sort(key=lambda loan: (loan.expires_at, loan.id))
    risk = dict(await Partner.filter(id__in={loan.partner_id for loan in loans}).values_list("id", "risk_tenths"))
    held: dict[int, set[int]] = defaultdict(set)
    for loan_id, lender_id in await Share.filter(loan_id__in=loan_ids).values_list("loan_id", "lender_id"):
        held[loan_id].add(lender_id)
    index = await matchers.RULES.index()
    passed = {loan.id: index.match(loan, risk[loan.partner_id]) for loan in loans}
    # Only rules with credit to lend, as last committed: their accounts alone are locked. Credit that
    # arrives after this read sets off its own run; credit that went is seen under the lock.
    rows = await _rules_of(BitMap.union(BitMap(), *passed.values()), list(picked_by), now)
    # The rules that picked the loans must be the ones that lend them. A rule replaced after this read
    # lends as it was, picked and lent alike: as if this batch committed before the replacement.
    now_terms = {row.rule.lender_id: row.terms for row in rows}
    if any(now_terms.get(lender_id) != terms for lender_id, terms in picked_by.items()):
        raise RulesReplaced
    ready = [(row.rule, row.terms) for row in rows if row.ready and lendable_cents(row.balance, row.terms.keep_cents)]
    # The index's answer, asked again now: it may have heard of changes while the rules were read, and it
    # must be judged as it is when compared with them. A rule whose row differs from the index's (replaced
    # by another process a moment ago, its event not yet heard here) is judged by its row.
    stale = [terms.criteria for rule, terms in ready if index.filters.get(rule.id) != terms.criteria]
    rivals = {}
    for loan in loans:
        fits = index.match(loan, risk[loan.partner_id])
        judged = {criteria: criteria.matches(loan, risk[loan.partner_id]) for criteria in stale}
        rivals[loan.id] = [
            (rule, terms)
            for rule, terms in ready
            if judged.get(terms.criteria, rule.id in fits) and rule.lender_id not in held[loan.id]
        ]
    lender_ids = {rule.lender_id for rules in rivals.values() for rule, _ in rules}
    if not lender_ids:
        return set()
    # The partners' accounts too: the rules may fill a loan, which disburses it.
    accounts = await ledger.accounts_of(lenders=lender_ids, loans=loan_ids, partners=list(risk))
    of_lender = {lender: id_ for id_, lender, _, _ in accounts if lender is not None}
    of_loan = {loan: id_ for id_, _, loan, _ in accounts if loan is not None}
    of_partner = {partner: id_ for id_, _, _, partner in accounts if partner is not None}
    balances = await ledger.lock_accounts(id_ for id_, _, _, _ in accounts)
    # The rules were read before the lock. Since then another run may have lent for these lenders
    # (and moved their rules back in the queue), and a lender whose trigger waits for her to be away
    # may have come back (her request marks her seen before its own transaction, which waits on this
    # lock). Read again under the lock, like the balances, the run follows every commit before it.
    unmet = await as_committed({rule.id: (rule, terms) for rules in rivals.values() for rule, terms in rules}, now)
    placements = []
    for loan in loans:
        competitors = []
        for rule, rule_terms in rivals[loan.id]:
            if rule.id in unmet:
                continue
            account_id = of_lender[rule.lender_id]
            if lendable := lendable_cents(balances[account_id], rule_terms.keep_cents):
                wants = min(rule_terms.amount_cents, lendable)
                competitors.append(Candidate(rule, rule_terms.criteria, account_id, wants))
        plan = sorted(allocate(auto_room(loan), competitors), key=lambda grant: grant.candidate.account_id)
        if not plan:
            continue
        for grant in plan:
            balances[grant.candidate.account_id] -= grant.cents
            # Served: to the back of the queue, in the order of their last share, so that the
            # round robin goes on where it stopped at the next loan.
            grant.candidate.rule.waiting_since = now + timedelta(microseconds=grant.last_turn)
        words = [matched(grant.candidate.criteria, loan, risk[loan.partner_id]) for grant in plan]
        placements.append(
            Placement(
                loan,
                list(zip(plan, words, strict=True)),
                set(held[loan.id]),
                of_loan[loan.id],
                of_partner[loan.partner_id],
            )
        )
    await book(placements, now)
    return {placement.loan.id for placement in placements}


async def _rules_of(ids: BitMap, lender_ids: list[int], now: datetime) -> list[RuleRow]:
    """`read_rules` of the rules `ids` and those of `lender_ids`, in id order."""
    return await read_rules(ids.to_array().tolist(), lender_ids, now)


def _open_loans(criteria: LoanFilter, now: datetime) -> QuerySet[Loan]:
    """Fundraising loans the criteria match that rules may still lend to, soonest to expire first."""
    return (
        loan_query(criteria)
        .filter(status=LoanStatus.FUNDRAISING, expires_at__gt=now)
        # Twice the room under the cap, in integers: amount - 2 * auto_funded.
        .annotate(cap_room_x2=F("amount_cents") - F("auto_funded_cents") * 2)
        .filter(cap_room_x2__gte=2 * LENDING_UNIT, remaining_cents__gte=LENDING_UNIT)
        .order_by("expires_at", "id")
    )


async def candidate_loans(terms: Terms, lender_id: int, now: datetime, limit: int = LOANS_PER_LENDER) -> list[Loan]:
    """Fundraising loans the rule matches and may still lend to, soonest to expire first."""
    query = _open_loans(terms.criteria, now).exclude(
        id__in=Subquery(Share.filter(lender_id=lender_id).values("loan_id"))
    )
    loans = await query.limit(limit * 3)
    # The SQL filter is the same predicate; the room check is repeated in whole shares.
    return [loan for loan in loans if auto_room(loan) >= LENDING_UNIT][:limit]


async def _candidates_of(criteria: dict[int, LoanFilter], now: datetime) -> dict[int, Loan]:
    """The loans `_candidate_loans` gives each lender's rule (`criteria` by lender id), together, by id.

    One query per distinct criteria, not per rule: each reads as many more
    loans as the lender holding most shares among them could skip, then
    drops each lender's own.
    """
    held: dict[int, set[int]] = defaultdict(set)
    open_shares = Share.filter(
        lender_id__in=list(criteria), loan__status=LoanStatus.FUNDRAISING, loan__expires_at__gt=now
    )
    for lender_id, loan_id in await open_shares.values_list("lender_id", "loan_id"):
        held[lender_id].add(loan_id)
    by_criteria: dict[LoanFilter, list[int]] = defaultdict(list)
    for lender_id, loan_filter in criteria.items():
        by_criteria[loan_filter].append(lender_id)
    picked: dict[int, Loan] = {}
    for loan_filter, lenders in by_criteria.items():
        skip = max(len(held[lender]) for lender in lenders)
        loans = await _open_loans(loan_filter, now).limit(LOANS_PER_LENDER * 3 + skip)
        roomy = [auto_room(loan) >= LENDING_UNIT for loan in loans]
        for holds in {frozenset(held[lender]) for lender in lenders}:  # lenders who hold the same loans pick alike
            theirs = [(loan, ok) for loan, ok in zip(loans, roomy, strict=True) if loan.id not in holds]
            fit = [loan for loan, ok in theirs[: LOANS_PER_LENDER * 3] if ok][:LOANS_PER_LENDER]
            picked.update((loan.id, loan) for loan in fit)
    return picked


async def on_credit(lender_ids: list[int], now: datetime) -> int:
    """Credit arrived for these lenders: run their rules. Returns the number of loans lent to.

    Each rule picks its loans (at most LOANS_PER_LENDER) from the credit it
    has now; every picked loan is then offered to every matching rule, all
    in one batch (`fund_loans`). When a rule that picked is replaced before
    its loans are lent (a concurrent setAutoLendRule), the run starts over
    with the rules as they are then, up to PICKS times; after that the
    replacing call's own run lends by the new rule.
    """
    lent: set[int] = set()
    for _ in range(PICKS):
        rules = await read_rules((), lender_ids, now)
        if not rules:
            break
        # Credit that had nothing to wait for starts waiting now.
        if never := [row.rule.id for row in rules if row.rule.waiting_since is None]:
            await AutoLendRule.filter(id__in=never, waiting_since=None).update(waiting_since=now)
        lending = {
            row.rule.lender_id: row.terms
            for row in rules
            if row.ready and lendable_cents(row.balance, row.terms.keep_cents)
        }
        if not lending:
            break
        picked = await _candidates_of({lender: terms.criteria for lender, terms in lending.items()}, now)
        try:
            lent |= await fund_loans(list(picked), now, lending)
            break
        except RulesReplaced as replaced:
            lent |= replaced.lent
    return len(lent)


async def after_credit(lender_ids: list[int], now: datetime) -> None:
    """`on_credit` for work that has committed (a deposit, a repayment, a refund, a new rule).

    That work happened whatever auto-lending does next, and its caller must
    hear so: a client told that its deposit failed would deposit again. A
    failure here is logged, and the periodic sweep lends the credit later.
    """
    try:
        await on_credit(lender_ids, now)
    except Exception:
        log.exception("auto-lending after new credit for %d lenders failed", len(lender_ids))


async def after_listing(loan_id: int, now: datetime) -> None:
    """`fund_loan` for a loan just listed (committed); a failure is logged, as in `after_credit`."""
    try:
        await fund_loan(loan_id, now)
    except Exception:
        log.exception("auto-lending to new loan %d failed", loan_id)


async def sweep(now: datetime) -> int:
    """Run every rule that could lend now (idle thresholds crossed, pauses ended).

    One sweeper at a time across processes: a PostgreSQL advisory lock, taken
    and released on one connection set aside for the whole sweep (SQLite runs
    in one process). Returns the number of loans lent to, or -1 when another
    process is sweeping.
    """
    client = Tortoise.get_connection("default")
    if client.capabilities.dialect != "postgres":
        return await _sweep(now)
    async with client.acquire_connection() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK):
            return -1
        try:
            return await _sweep(now)
        finally:
            try:
                await connection.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK)
            except BaseException:
                # The pool does not reset connections (models/db.py): a lock not released goes
                # with its connection, never back into the pool, where it would stop every sweep.
                connection.terminate()
                raise


# The lenders whose enabled rule has a share's worth of credit above what it keeps: one statement for
# every rule of the platform, with no list of their lenders sent back to the database.
_WITH_CREDIT = (
    'SELECT r."lender_id" FROM "auto_lend_rule" r LEFT OUTER JOIN "account" a ON a."lender_id" = r."lender_id"'
    ' WHERE r."enabled" AND COALESCE(a."balance_cents", 0) - r."keep_cents" >= $1 ORDER BY r."id"'
)


async def _sweep(now: datetime) -> int:
    ready = [row["lender_id"] for row in await select_values(_WITH_CREDIT, [LENDING_UNIT])]
    return await on_credit(ready, now)
