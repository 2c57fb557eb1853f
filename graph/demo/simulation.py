"""The demo year, run: partners, lenders and loans made, then every dated action in time order.

Each action calls one of lending/'s public functions (register_lender, deposit, withdraw, list_loan,
lend, post_repayment, mark_default, expire_loans, save_search) with the simulated time as `now`, so
the ledger is exactly what real use would have written. Actions schedule further actions (a loan
listed schedules its lends, a loan funded its repayments); the queue orders them by time, then by
when they were scheduled, so the run is the same every time.
"""

import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from graph.demo.plans import LENDER_COUNT, SIM_DAYS, LoanPlan, money, plan_loans
from graph.demo.world import LENDER_FIRST, LENDER_LAST, PARTNERS, SHARE_SIZES, SHARE_WEIGHTS
from lending.accounts import deposit, register_lender, withdraw
from lending.filters import LoanFilter
from lending.funding import lend
from lending.loans import expire_loans, list_loan, mark_default
from lending.partners import create_partner
from lending.repayments import post_repayment
from lending.searches import save_search
from lending.tokens import Viewer
from models import Account, AccountKind, CurrencyLossLiability, Gender, Partner, Sector

Action = Callable[[], Awaitable[None]]


@dataclass
class Simulation:
    """The year's clock, its queue of dated actions, and what the actions need to know as they run."""

    rng: random.Random
    start: datetime
    end: datetime
    partners: list[Partner] = field(default_factory=list)
    lenders: list[int] = field(default_factory=list)  # lender ids; index 0 is the demo lender
    weights: list[float] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)  # indexes of lenders who have joined, in order
    balances: dict[int, int] = field(default_factory=dict)  # never above the real balance
    plans: list[LoanPlan] = field(default_factory=list)
    operator: Viewer | None = None
    events: list[tuple[timedelta, int, Action]] = field(default_factory=list)
    keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    order: Iterator[int] = field(default_factory=lambda: itertools.count())

    def at(self, offset: timedelta, action: Action) -> None:
        """Schedule `action` at `offset` into the year; anything at or after its end never happens."""
        if self.start + offset < self.end:
            heapq.heappush(self.events, (offset, next(self.order), action))

    def now(self, offset: timedelta) -> datetime:
        return self.start + offset

    def key(self, kind: str) -> str:
        return f"demo-{kind}-{next(self.keys)}"


async def run_year(sim: Simulation) -> None:
    """Make the partners and lenders, plan the loans, then run every action of the year in time order."""
    rng = sim.rng
    for spec in PARTNERS:
        sim.partners.append(await create_partner(spec.name, spec.country, spec.rating, sim.start))

    # Lenders join over the first months; a few lend a lot, most a little. The first is the demo lender.
    names = rng.sample([(first, last) for first in LENDER_FIRST for last in LENDER_LAST], LENDER_COUNT)
    for index, (first, last) in enumerate(names):
        joined = timedelta(days=0 if index < 12 else round(150 * (index / LENDER_COUNT) ** 2), hours=index % 12)
        email = f"{first}.{last}.{index}@example.org".lower()
        lender, _ = await register_lender(f"{first} {last}", email, sim.now(joined))
        sim.lenders.append(lender.id)
        sim.weights.append(6.0 if index == 0 else rng.lognormvariate(0, 0.8))
        sim.at(joined, _join_event(sim, index, joined))

    sim.plans = plan_loans(rng)
    for plan in sim.plans:
        sim.at(plan.listed, _list_event(sim, plan))
    for day in range(1, SIM_DAYS):
        offset = timedelta(days=day)
        sim.at(offset, _midnight_event(sim, offset))
    # Three months before the end the demo lender saves a search with alerts: new matches notify them.
    alert_from = timedelta(days=SIM_DAYS - 90)
    sim.at(alert_from, _save_search_event(sim, alert_from))
    # Now and then a lender takes some credit out.
    for _ in range(16):
        offset = timedelta(days=rng.randint(60, SIM_DAYS - 1), hours=rng.randint(9, 20))
        sim.at(offset, _withdraw_event(sim, offset))

    while sim.events:
        _, _, action = heapq.heappop(sim.events)
        await action()
    await expire_loans(sim.end)


def _join_event(sim: Simulation, index: int, offset: timedelta) -> Action:
    async def run() -> None:
        sim.joined.append(index)
        sim.balances[sim.lenders[index]] = 0
        first = 300_000 if index == 0 else sim.rng.choice((5000, 10000, 25000, 50000, 100000, 200000))
        await _deposit(sim, index, first, offset)

    return run


def _save_search_event(sim: Simulation, offset: timedelta) -> Action:
    async def run() -> None:
        sectors, genders = [Sector.AGRICULTURE, Sector.FOOD], [Gender.FEMALE, Gender.MIXED_GROUP]
        wanted = LoanFilter.build(sectors=sectors, genders=genders)
        await save_search(sim.lenders[0], "Women farmers and food sellers", wanted, True, sim.now(offset))

    return run


def _withdraw_event(sim: Simulation, offset: timedelta) -> Action:
    async def run() -> None:
        rich = [i for i in sim.joined if i and sim.balances[sim.lenders[i]] >= 10000]
        if rich:
            index = sim.rng.choice(rich)
            lender_id = sim.lenders[index]
            amount = sim.balances[lender_id] // 2 // 100 * 100
            await withdraw(lender_id, money(amount), sim.key("withdraw"), sim.now(offset))
            sim.balances[lender_id] -= amount

    return run


async def _deposit(sim: Simulation, index: int, amount: int, offset: timedelta) -> None:
    lender_id = sim.lenders[index]
    await deposit(lender_id, money(amount), sim.key("deposit"), sim.now(offset))
    sim.balances[lender_id] = sim.balances.get(lender_id, 0) + amount


def _midnight_event(sim: Simulation, offset: timedelta) -> Action:
    """Each simulated midnight: expire overdue loans, read balances back (repayments and refunds came in)."""

    async def run() -> None:
        await expire_loans(sim.now(offset))
        rows = await Account.filter(kind=AccountKind.LENDER).values_list("lender_id", "balance_cents")
        sim.balances = {lender_id: balance for lender_id, balance in rows if lender_id in sim.balances}

    return run


def _pick_lender(sim: Simulation, plan: LoanPlan, amount: int) -> tuple[int, bool]:
    """A lender for `amount` of `plan`, and whether they must top up their credit first."""
    fresh = [i for i in sim.joined if sim.lenders[i] not in plan.lenders]
    pool = fresh or sim.joined
    able = [i for i in pool if sim.balances[sim.lenders[i]] >= amount]
    if able and sim.rng.random() < 0.9:
        return sim.rng.choices(able, [sim.weights[i] for i in able])[0], False
    return sim.rng.choices(pool, [sim.weights[i] for i in pool])[0], True


def _lend_event(sim: Simulation, plan: LoanPlan, amount: int, offset: timedelta) -> Action:
    async def run() -> None:
        index, top_up = _pick_lender(sim, plan, amount)
        lender_id = sim.lenders[index]
        if top_up or sim.balances[lender_id] < amount:
            await _deposit(sim, index, max(amount, sim.rng.choice((10000, 25000, 50000, 100000))), offset)
        await lend(lender_id, plan.loan_id, money(amount), sim.key("lend"), sim.now(offset))
        sim.balances[lender_id] -= amount
        plan.lenders.add(lender_id)
        plan.funded += amount
        if plan.funded == plan.amount:
            _schedule_repayments(sim, plan, offset)

    return run


def _list_event(sim: Simulation, plan: LoanPlan) -> Action:
    async def run() -> None:
        loan = await list_loan(sim.partners[plan.partner], plan.listing, sim.now(plan.listed))
        plan.loan_id = loan.id
        # Split what will be lent into shares, spread over the fundraising time; the last one fills it.
        chunks, left = [], plan.lend_target
        while left > 0:
            chunk = min(left, sim.rng.choices(SHARE_SIZES, SHARE_WEIGHTS)[0])
            chunks.append(chunk)
            left -= chunk
        if not chunks:
            return
        span = plan.fill_within / timedelta(minutes=1)
        times = [*sorted(sim.rng.uniform(1, span) for _ in chunks[:-1]), span]
        for chunk, minutes in zip(chunks, times, strict=True):
            offset = plan.listed + timedelta(minutes=round(minutes))
            sim.at(offset, _lend_event(sim, plan, chunk, offset))

    return run


def _repay_event(sim: Simulation, plan: LoanPlan, amount: int, offset: timedelta) -> Action:
    async def run() -> None:
        liability = plan.listing.currency_loss_liability
        loss = None
        # Exchange rates move: partners report a loss on some repayments (borne as the loan's liability says).
        if sim.rng.random() < (0.35 if liability is not CurrencyLossLiability.NONE else 0.1):
            loss = money(max(1, amount * sim.rng.randint(2, 18) // 100))
        await post_repayment(sim.operator, plan.loan_id, money(amount), loss, sim.key("repay"), sim.now(offset))

    return run


def _default_event(sim: Simulation, plan: LoanPlan, offset: timedelta) -> Action:
    async def run() -> None:
        await mark_default(sim.operator, plan.loan_id, sim.now(offset))

    return run


def _schedule_repayments(sim: Simulation, plan: LoanPlan, funded: timedelta) -> None:
    """Monthly instalments from the month after funding, paid as the loan's fate says."""
    rng, term, amount = sim.rng, plan.listing.term_months, plan.amount
    base = amount // term
    parts = [base] * (term - 1) + [amount - base * (term - 1)]
    # Due a calendar month apart (lending.schedule); paid up to four days early, never after the due date.
    paid_on = [funded + timedelta(days=int(n * 30.4) - 3, hours=rng.randint(0, 8)) for n in range(1, term + 1)]
    if plan.fate == "late":
        delay = timedelta(days=rng.randint(8, 45))
        paid_on = [day + delay for day in paid_on]
    elif plan.fate == "prepay":
        month = rng.randint(2, max(2, term - 2))
        parts = [*parts[: month - 1], sum(parts[month - 1 :])]
        paid_on = paid_on[:month]
    elif plan.fate == "default":
        # Pays some instalments, then nothing; written off three to five months after the first one missed.
        paying = rng.randint(0, term // 2)
        written_off = paid_on[paying] + timedelta(days=rng.randint(90, 150))
        sim.at(written_off, _default_event(sim, plan, written_off))
        parts, paid_on = parts[:paying], paid_on[:paying]
    for part, day in zip(parts, paid_on, strict=True):
        sim.at(day, _repay_event(sim, plan, part, day))
