"""Demo data for `lendgraph seed-demo`: a year of a small marketplace, made through the domain.

Everything is created by the same functions the API calls (create_partner,
register_lender, deposit, withdraw, list_loan, lend, post_repayment,
mark_default, expire_loans), each given a simulated `now`, so the
double-entry ledger is exactly what real use would have written.

The content is deterministic: a fixed random seed, and every simulated time
is an offset from one base instant, so a fresh database always gets the same
rows and ids. Only the base moves: the simulated year ends at the start of the
current UTC day, so the loans still fundraising are open when the server runs.
"""

import heapq
import itertools
import json
import random
from base64 import b64encode
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from lending.accounts import deposit, register_lender, withdraw
from lending.countries import country_name
from lending.filters import LoanFilter
from lending.funding import lend
from lending.loans import LISTING_DAYS, Listing, expire_loans, list_loan, mark_default
from lending.partners import create_partner
from lending.repayments import post_repayment
from lending.searches import save_search
from lending.tokens import Viewer, authenticate, issue_token
from models import (
    Account,
    AccountKind,
    CurrencyLossLiability,
    Gender,
    Lender,
    Loan,
    LoanStatus,
    Partner,
    Repayment,
    Role,
    Sector,
    Share,
)

SEED = 20_260_101
SIM_DAYS = 365
LOAN_COUNT = 306
RECENT_LOANS = 36  # of which listed in the last RECENT_DAYS days
RECENT_DAYS = 22
LENDER_COUNT = 72
# A loan still fundraising at the end was listed at most this many days before it,
# so it has at least LISTING_DAYS - FRESH_DAYS days left when the server starts.
FRESH_DAYS = 25
DEMO_LENDER_MIN_CREDIT = 20_000  # cents the demo lender keeps, to try the lend example
EXAMPLE_REPAYMENT = "50.00"

# --------------------------------------------------------------------------- world


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    country: str
    rating: str
    liability: CurrencyLossLiability
    default_odds: float  # chance that a loan stops paying and is written off
    late_odds: float  # chance that a loan pays late all along
    female: tuple[str, ...]
    male: tuple[str, ...]
    neutral: tuple[str, ...]
    groups: tuple[str, ...]
    towns: tuple[str, ...]
    crops: tuple[str, ...]
    currency: str


PARTNERS = (
    PartnerSpec(
        "Kilimo Bora Microfinance", "KE", "4.0", CurrencyLossLiability.SHARED, 0.03, 0.08,
        ("Wanjiru", "Akinyi", "Njeri", "Chebet", "Amina", "Wairimu", "Atieno", "Mumbi", "Nafula", "Jepkorir"),
        ("Otieno", "Kamau", "Kiprop", "Mwangi", "Omondi", "Wafula", "Barasa", "Mutua"),
        ("Imani", "Amani", "Baraka", "Zawadi"),
        ("Tumaini Women Group", "Umoja Self-Help Group", "Jikaze Farmers Group", "Upendo Traders Group"),
        ("Kisumu", "Eldoret", "Nakuru", "Machakos", "Kakamega", "Nyeri"),
        ("maize", "beans", "kale", "tomato"),
        "KES",
    ),
    PartnerSpec(
        "Caja Andina de Credito", "PE", "4.5", CurrencyLossLiability.NONE, 0.01, 0.05,
        ("Rosa", "Yolanda", "Maribel", "Juana", "Lucia", "Elena", "Flor", "Gladys", "Nelly"),
        ("Teodoro", "Wilber", "Juan Carlos", "Edwin", "Hugo", "Percy", "Alberto"),
        ("Alexis", "Cruz", "Ariel"),
        ("Grupo Las Palmeras", "Banco Comunal Santa Rosa", "Grupo Virgen de la Candelaria"),
        ("Cusco", "Huancayo", "Puno", "Ayacucho", "Arequipa", "Cajamarca"),
        ("potato", "quinoa", "coffee", "maize"),
        "PEN",
    ),
    PartnerSpec(
        "Bayanihan Rural Bank", "PH", "3.5", CurrencyLossLiability.NONE, 0.04, 0.10,
        ("Maricel", "Jocelyn", "Rowena", "Analyn", "Lorna", "Marites", "Cherry", "Divina"),
        ("Rodel", "Jun", "Arnel", "Ronaldo", "Efren", "Dante"),
        ("Kim", "Jo", "Sam"),
        ("Samahang Kababaihan Group", "Bagong Pag-asa Group", "Masigasig Vendors Group"),
        ("Bacolod", "Iloilo", "Dumaguete", "Tacloban", "Cebu City"),
        ("rice", "sugarcane", "corn", "banana"),
        "PHP",
    ),
    PartnerSpec(
        "Semilla Maya Microfinanzas", "GT", "3.0", CurrencyLossLiability.SHARED, 0.06, 0.12,
        ("Ana Maria", "Olga", "Marta", "Sandra", "Rosalinda", "Ixchel", "Candelaria"),
        ("Santos", "Julio", "Mario", "Domingo", "Abelino", "Esteban"),
        ("Guadalupe", "Trinidad", "Cruz"),
        ("Grupo Mujeres Emprendedoras", "Grupo Ixoq Ajchak", "Grupo Nuevo Amanecer"),
        ("Quetzaltenango", "Solola", "Chimaltenango", "Coban", "Huehuetenango"),
        ("coffee", "maize", "black bean", "cardamom"),
        "GTQ",
    ),
    PartnerSpec(
        "Sunrise Credit Cambodia", "KH", "2.5", CurrencyLossLiability.LENDER, 0.08, 0.14,
        ("Sokha", "Sreymom", "Chanthou", "Sreyneang", "Bopha", "Kalliyan"),
        ("Sovann", "Vuthy", "Rithy", "Sopheak", "Piseth"),
        ("Dara", "Vanna", "Sophal"),
        ("Phum Thmey Village Bank", "Prey Veng Women's Group", "Kampot Pepper Growers"),
        ("Battambang", "Siem Reap", "Kampong Cham", "Takeo", "Kampot"),
        ("rice", "cassava", "pepper", "mango"),
        "KHR",
    ),
    PartnerSpec(
        "Adom Savings and Loans", "GH", "2.0", CurrencyLossLiability.SHARED, 0.11, 0.16,
        ("Abena", "Akosua", "Ama", "Efua", "Adwoa", "Yaa", "Esi"),
        ("Kwame", "Kofi", "Kwabena", "Yaw", "Kojo", "Kweku"),
        ("Nana", "Elikem", "Sena"),
        ("Nyame Bekyere Group", "Obaapa Traders Group", "Adehye Market Women"),
        ("Kumasi", "Tamale", "Takoradi", "Ho", "Cape Coast"),
        ("cocoa", "cassava", "yam", "plantain"),
        "GHS",
    ),
    PartnerSpec(
        "Imkon Microcredit", "TJ", "1.5", CurrencyLossLiability.LENDER, 0.15, 0.20,
        ("Gulnora", "Mavluda", "Zarina", "Nigora", "Dilorom", "Shahnoza"),
        ("Farhod", "Rustam", "Jamshed", "Bahrom", "Sherali"),
        ("Oydin", "Nur", "Mehr"),
        ("Rohi Nav Group", "Zanoni Fayzobod Group", "Bogi Sabz Growers"),
        ("Khujand", "Kulob", "Bokhtar", "Istaravshan", "Panjakent"),
        ("apricot", "cotton", "potato", "grape"),
        "TJS",
    ),
)  # fmt: skip

# Uses per sector, Kiva style ("to buy ..."); {their} and {crop} are filled in per loan.
USES: dict[Sector, tuple[str, ...]] = {
    Sector.AGRICULTURE: (
        "to buy fertilizer and {crop} seed for the planting season",
        "to buy a dairy cow and sell milk to neighbours",
        "to rent another plot of land and plant {crop}",
        "to install drip irrigation on {their} {crop} farm",
    ),
    Sector.ARTS: (
        "to buy yarn and natural dyes for {their} weaving",
        "to buy clay and glazes for {their} pottery workshop",
        "to buy beads and silver wire for handmade jewelry",
    ),
    Sector.CLOTHING: (
        "to buy fabric and thread for {their} tailoring shop",
        "to buy a second sewing machine and take on an apprentice",
        "to buy bales of second-hand clothes to sell at the market",
    ),
    Sector.CONSTRUCTION: (
        "to buy cement and iron sheets for {their} building business",
        "to buy tools for {their} masonry work",
        "to buy timber for {their} carpentry workshop",
    ),
    Sector.EDUCATION: (
        "to pay school fees for {their} children",
        "to buy desks and books for {their} small school",
        "to pay for a nursing course",
    ),
    Sector.ENTERTAINMENT: (
        "to buy a sound system to rent out for weddings",
        "to buy a projector and screen for a village cinema",
        "to buy new instruments for {their} band",
    ),
    Sector.FOOD: (
        "to buy flour, sugar and oil for {their} bakery",
        "to stock {their} food stall with {crop} and spices",
        "to buy a chest freezer for {their} fish business",
    ),
    Sector.HEALTH: (
        "to buy equipment for {their} community clinic",
        "to stock {their} pharmacy with basic medicines",
        "to buy a water filter for {their} household",
    ),
    Sector.HOUSING: (
        "to replace the leaking roof of {their} house",
        "to connect {their} home to clean piped water",
        "to build a latrine and a rainwater tank",
    ),
    Sector.MANUFACTURING: (
        "to buy raw materials for {their} soap-making business",
        "to buy a welding machine for {their} metal workshop",
        "to buy a grinding mill for {crop}",
    ),
    Sector.PERSONAL_USE: (
        "to install a solar home system",
        "to buy a clean cookstove that uses less firewood",
        "to pay for a household water connection",
    ),
    Sector.RETAIL: (
        "to restock {their} general store",
        "to buy phone credit and accessories to sell",
        "to add more goods to {their} roadside kiosk",
    ),
    Sector.SERVICES: (
        "to buy a new chair and clippers for {their} barbershop",
        "to buy hair dryers for {their} beauty salon",
        "to buy a generator for {their} phone-charging service",
    ),
    Sector.TRANSPORTATION: (
        "to make a down payment on a motorbike taxi",
        "to repair the engine of {their} minibus",
        "to buy a cargo tricycle for deliveries",
    ),
    Sector.WHOLESALE: (
        "to buy {crop} in bulk and resell it to shops",
        "to buy sacks of rice and sugar to supply local stores",
        "to buy stock for {their} wholesale business",
    ),
}

ACTIVITY: dict[Sector, str] = {
    Sector.AGRICULTURE: "farming",
    Sector.ARTS: "crafts",
    Sector.CLOTHING: "tailoring and selling clothes",
    Sector.CONSTRUCTION: "building",
    Sector.EDUCATION: "looking after a family and a small business",
    Sector.ENTERTAINMENT: "running events",
    Sector.FOOD: "selling food",
    Sector.HEALTH: "health care",
    Sector.HOUSING: "running a small business from home",
    Sector.MANUFACTURING: "making goods to sell",
    Sector.PERSONAL_USE: "running a small business from home",
    Sector.RETAIL: "running a shop",
    Sector.SERVICES: "serving customers",
    Sector.TRANSPORTATION: "transport",
    Sector.WHOLESALE: "trading",
}

CLOSING: dict[Sector, str] = {
    Sector.EDUCATION: "Schooling comes first in this family.",
    Sector.HEALTH: "Good health keeps the whole family working.",
    Sector.HOUSING: "A safe, dry home protects the family's health and savings.",
    Sector.PERSONAL_USE: "It will save the household money every month.",
}

# Sectors whose loans run longer (and the rest shorter), as on Kiva.
LONG_SECTORS = {Sector.HOUSING, Sector.EDUCATION, Sector.CONSTRUCTION, Sector.TRANSPORTATION, Sector.PERSONAL_USE}
SHORT_TERMS = (6, 6, 8, 8, 9, 10, 10, 12, 12, 12, 14)
LONG_TERMS = (10, 12, 12, 14, 14, 16, 18, 20, 24, 24)

LENDER_FIRST = (
    "Maya", "Tom", "Aiko", "Lars", "Priya", "Daniel", "Sofia", "Kenji", "Amara", "Lucas", "Ingrid", "Omar",
    "Chloe", "Mateo", "Hannah", "Ravi", "Elena", "Jonas", "Fatima", "Noah", "Grace", "Pierre", "Mei", "Samuel",
    "Olga", "Diego", "Leila", "Ben", "Anika", "Tariq",
)  # fmt: skip
LENDER_LAST = (
    "Lindqvist", "Okafor", "Tanaka", "Berg", "Raman", "Schmidt", "Rossi", "Mori", "Diallo", "Ferreira",
    "Haugen", "Haddad", "Martin", "Garcia", "Weber", "Iyer", "Petrova", "Keller", "Benali", "Clarke",
    "Nguyen", "Dubois", "Chen", "Mensah", "Novak", "Alvarez", "Karimi", "Walsh", "Jansen", "Aziz",
)  # fmt: skip

# Share sizes lenders pick, in cents, and how often.
SHARE_SIZES = (2500, 5000, 10000, 15000, 20000, 25000, 50000, 100000)
SHARE_WEIGHTS = (14, 14, 20, 10, 12, 12, 12, 6)


def _cents(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


# --------------------------------------------------------------------------- plan


@dataclass
class LoanPlan:
    index: int
    partner: int
    listing: Listing
    amount: int
    listed: timedelta  # offset from the start of the simulated year
    lend_target: int  # what lenders will have lent when fundraising stops (the amount, when it fills)
    fill_within: timedelta
    fate: str  # "good", "late", "prepay" or "default"
    loan_id: int = 0
    funded: int = 0
    lenders: set[int] = field(default_factory=set)


@dataclass
class Simulation:
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
    events: list[tuple[timedelta, int, Callable[[], Any]]] = field(default_factory=list)
    keys: itertools.count = field(default_factory=lambda: itertools.count(1))
    order: itertools.count = field(default_factory=lambda: itertools.count())

    def at(self, offset: timedelta, action: Callable[[], Any]) -> None:
        """Schedule `action` at `offset` into the year; anything at or after its end never happens."""
        if self.start + offset < self.end:
            heapq.heappush(self.events, (offset, next(self.order), action))

    def now(self, offset: timedelta) -> datetime:
        return self.start + offset

    def key(self, kind: str) -> str:
        return f"demo-{kind}-{next(self.keys)}"


def _plan_loan(rng: random.Random, index: int, listed: timedelta, sector: Sector, gender: Gender) -> LoanPlan:
    partner_index = rng.randrange(len(PARTNERS))
    spec = PARTNERS[partner_index]
    crop = rng.choice(spec.crops)
    if gender is Gender.MIXED_GROUP:
        name, their = rng.choice(spec.groups), "their"
    elif gender is Gender.FEMALE:
        name, their = rng.choice(spec.female), "her"
    elif gender is Gender.MALE:
        name, their = rng.choice(spec.male), "his"
    else:
        name, their = rng.choice(spec.neutral), "their"
    use = rng.choice(USES[sector]).format(their=their, crop=crop)
    town = rng.choice(spec.towns)
    closing = CLOSING.get(sector, "The extra income will go to the family.")
    if gender is Gender.MIXED_GROUP:
        description = (
            f"The members of {name} live in and around {town}, {country_name(spec.country)}, and meet every "
            f"week to save together. They work in {ACTIVITY[sector]}. This loan is {use}. {closing}"
        )
    else:
        pronoun = {Gender.FEMALE: "She has", Gender.MALE: "He has"}.get(gender, "They have")
        description = (
            f"{name} lives in {town}, {country_name(spec.country)}. {pronoun} been {ACTIVITY[sector]} for "
            f"{rng.randint(2, 25)} years. This loan is {use}. {closing}"
        )

    # Amounts: mostly small, a few large; groups borrow more. Multiples of 25.00, 100.00 to 5,000.00.
    bucket = rng.choices(((100, 600), (600, 1500), (1500, 3000), (3000, 5000)), (58, 30, 9, 3))[0]
    dollars = rng.randint(*bucket) * (2 if gender is Gender.MIXED_GROUP else 1)
    amount = min(500_000, max(10_000, round(dollars * 100 / 2500) * 2500))
    term = rng.choice(LONG_TERMS if sector in LONG_SECTORS else SHORT_TERMS)
    liability = spec.liability if rng.random() < 0.85 else CurrencyLossLiability.NONE

    # Fundraising: most loans fill, in hours to weeks; some never do and expire.
    left = timedelta(days=SIM_DAYS) - listed  # from listing to the end of the year
    fill_within = timedelta(hours=rng.choice((3, 8, 20, 40, 72, 120, 200, 300, 450, 600)))
    expires = rng.random() < 0.11
    if timedelta(days=FRESH_DAYS) < left < timedelta(days=LISTING_DAYS):
        # Too old to be left open at the end, too young to have expired by then: it fills in time.
        expires = False
        fill_within = min(fill_within, left - timedelta(hours=2))
    if expires:
        lend_target = round(amount * rng.uniform(0.15, 0.8) / 2500) * 2500
        fill_within = timedelta(days=LISTING_DAYS - 1)
    else:
        lend_target = amount
    roll = rng.random()
    if roll < spec.default_odds:
        fate = "default"
    elif roll < spec.default_odds + spec.late_odds:
        fate = "late"
    elif roll < spec.default_odds + spec.late_odds + 0.1:
        fate = "prepay"
    else:
        fate = "good"
    listing = Listing(
        name=name,
        use=use,
        description=description,
        country=spec.country,
        sector=sector,
        gender=gender,
        amount=_cents(amount),
        term_months=term,
        currency=spec.currency,
        currency_loss_liability=liability,
    )
    return LoanPlan(index, partner_index, listing, amount, listed, lend_target, fill_within, fate)


def _plans(rng: random.Random) -> list[LoanPlan]:
    # Every sector and gender appears; the rest follow Kiva-like weights.
    sectors = list(Sector) * 3
    sectors += rng.choices(list(Sector), (16, 3, 7, 3, 4, 1, 16, 3, 4, 3, 4, 16, 8, 5, 7), k=LOAN_COUNT - len(sectors))
    rng.shuffle(sectors)
    genders = [Gender.NONBINARY] * 5 + [Gender.MIXED_GROUP] * 5
    genders += rng.choices(list(Gender), (64, 24, 2, 10), k=LOAN_COUNT - len(genders))
    rng.shuffle(genders)
    # Listings grow over the year, as a young marketplace's do, and the last weeks are busiest.
    minutes = [SIM_DAYS * 24 * 60 * rng.random() ** 0.6 for _ in range(LOAN_COUNT - RECENT_LOANS)]
    minutes += [(SIM_DAYS - RECENT_DAYS * rng.random()) * 24 * 60 for _ in range(RECENT_LOANS)]
    offsets = sorted(timedelta(minutes=min(round(m), (SIM_DAYS * 24 - 6) * 60)) for m in minutes)
    return [_plan_loan(rng, i, offsets[i], sectors[i], genders[i]) for i in range(LOAN_COUNT)]


# --------------------------------------------------------------------------- running it


def _join_event(sim: Simulation, index: int, offset: timedelta) -> Callable[[], Any]:
    async def run() -> None:
        sim.joined.append(index)
        sim.balances[sim.lenders[index]] = 0
        first = 300_000 if index == 0 else sim.rng.choice((5000, 10000, 25000, 50000, 100000, 200000))
        await _deposit(sim, index, first, offset)

    return run


def _save_search_event(sim: Simulation, offset: timedelta) -> Callable[[], Any]:
    async def run() -> None:
        sectors, genders = [Sector.AGRICULTURE, Sector.FOOD], [Gender.FEMALE, Gender.MIXED_GROUP]
        wanted = LoanFilter.build(sectors=sectors, genders=genders)
        await save_search(sim.lenders[0], "Women farmers and food sellers", wanted, True, sim.now(offset))

    return run


def _withdraw_event(sim: Simulation, offset: timedelta) -> Callable[[], Any]:
    async def run() -> None:
        rich = [i for i in sim.joined if i and sim.balances[sim.lenders[i]] >= 10000]
        if rich:
            index = sim.rng.choice(rich)
            lender_id = sim.lenders[index]
            amount = sim.balances[lender_id] // 2 // 100 * 100
            await withdraw(lender_id, _cents(amount), sim.key("withdraw"), sim.now(offset))
            sim.balances[lender_id] -= amount

    return run


async def _deposit(sim: Simulation, index: int, amount: int, offset: timedelta) -> None:
    lender_id = sim.lenders[index]
    await deposit(lender_id, _cents(amount), sim.key("deposit"), sim.now(offset))
    sim.balances[lender_id] = sim.balances.get(lender_id, 0) + amount


async def _refresh_balances(sim: Simulation, offset: timedelta) -> None:
    """Each simulated midnight: read balances back (repayments and refunds came in), expire overdue loans."""
    await expire_loans(sim.now(offset))
    rows = await Account.filter(kind=AccountKind.LENDER).values_list("lender_id", "balance_cents")
    sim.balances = {lender_id: balance for lender_id, balance in rows if lender_id in sim.balances}


def _pick_lender(sim: Simulation, plan: LoanPlan, amount: int) -> tuple[int, bool]:
    """A lender for `amount` of `plan`, and whether they must top up their credit first."""
    fresh = [i for i in sim.joined if sim.lenders[i] not in plan.lenders]
    pool = fresh or sim.joined
    able = [i for i in pool if sim.balances[sim.lenders[i]] >= amount]
    if able and sim.rng.random() < 0.9:
        return sim.rng.choices(able, [sim.weights[i] for i in able])[0], False
    return sim.rng.choices(pool, [sim.weights[i] for i in pool])[0], True


def _lend_event(sim: Simulation, plan: LoanPlan, amount: int, offset: timedelta) -> Callable[[], Any]:
    async def run() -> None:
        index, top_up = _pick_lender(sim, plan, amount)
        lender_id = sim.lenders[index]
        if top_up or sim.balances[lender_id] < amount:
            await _deposit(sim, index, max(amount, sim.rng.choice((10000, 25000, 50000, 100000))), offset)
        await lend(lender_id, plan.loan_id, _cents(amount), sim.key("lend"), sim.now(offset))
        sim.balances[lender_id] -= amount
        plan.lenders.add(lender_id)
        plan.funded += amount
        if plan.funded == plan.amount:
            _schedule_repayments(sim, plan, offset)

    return run


def _list_event(sim: Simulation, plan: LoanPlan) -> Callable[[], Any]:
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
        times = sorted(sim.rng.uniform(1, span) for _ in chunks[:-1]) + [span]
        for chunk, minutes in zip(chunks, times, strict=True):
            offset = plan.listed + timedelta(minutes=round(minutes))
            sim.at(offset, _lend_event(sim, plan, chunk, offset))

    return run


def _repay_event(sim: Simulation, plan: LoanPlan, amount: int, offset: timedelta) -> Callable[[], Any]:
    async def run() -> None:
        liability = plan.listing.currency_loss_liability
        loss = None
        # Exchange rates move: partners report a loss on some repayments (borne as the loan's liability says).
        if sim.rng.random() < (0.35 if liability is not CurrencyLossLiability.NONE else 0.1):
            loss = _cents(max(1, amount * sim.rng.randint(2, 18) // 100))
        await post_repayment(sim.operator, plan.loan_id, _cents(amount), loss, sim.key("repay"), sim.now(offset))

    return run


def _default_event(sim: Simulation, plan: LoanPlan, offset: timedelta) -> Callable[[], Any]:
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
        parts = parts[: month - 1] + [sum(parts[month - 1 :])]
        paid_on = paid_on[:month]
    elif plan.fate == "default":
        # Pays some instalments, then nothing; written off three to five months after the first one missed.
        paying = rng.randint(0, term // 2)
        written_off = paid_on[paying] + timedelta(days=rng.randint(90, 150))
        sim.at(written_off, _default_event(sim, plan, written_off))
        parts, paid_on = parts[:paying], paid_on[:paying]
    for part, day in zip(parts, paid_on, strict=True):
        sim.at(day, _repay_event(sim, plan, part, day))


# --------------------------------------------------------------------------- entry point


async def seed_demo(*, now: datetime | None = None) -> str:
    """Fill an empty database with a year of demo marketplace activity; return a summary to print.

    Does nothing, and says so, when the database already has partners.
    Otherwise it creates 7 field partners in 7 countries, 72 lenders and 306
    loans over every sector, gender and status by simulating a year that ends
    at the start of the current UTC day (of `now`'s day, when given): loans
    listed, lent to, funded, repaid month by month (some with currency loss,
    some late, some early), written off and expired. All of it goes through
    the domain functions, in one transaction: the ledger balances, and a
    failure leaves nothing behind. The content is the same on every run; only
    the dates follow the calendar. Finally it issues a lender, a partner and
    an admin token and returns them with example GraphQL operations to paste
    into GraphiQL.
    """
    if await Partner.exists():
        return (
            "The database already has partners: demo data not seeded.\n"
            "To seed afresh, start from an empty database: with the default SQLite file, stop the server,\n"
            "delete lendgraph.sqlite3* and run `make run` again."
        )
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sim = Simulation(rng=random.Random(SEED), start=end - timedelta(days=SIM_DAYS), end=end)
    async with in_transaction():
        tokens, found = await _simulate(sim)
    return await _summary(sim, tokens, found)


async def _simulate(sim: Simulation) -> tuple[dict[str, str], dict[str, Any]]:
    rng = sim.rng
    admin_token = await issue_token(Role.ADMIN, name="demo admin")
    sim.operator = await authenticate(admin_token)
    for spec in PARTNERS:
        sim.partners.append(await create_partner(spec.name, spec.country, spec.rating, sim.start))

    # Lenders join over the first months; a few lend a lot, most a little. The first is the demo lender.
    names = rng.sample([(f, l) for f in LENDER_FIRST for l in LENDER_LAST], LENDER_COUNT)
    for index, (first, last) in enumerate(names):
        joined = timedelta(days=0 if index < 12 else round(150 * (index / LENDER_COUNT) ** 2), hours=index % 12)
        email = f"{first}.{last}.{index}@example.org".lower()
        lender, _ = await register_lender(f"{first} {last}", email, sim.now(joined))
        sim.lenders.append(lender.id)
        sim.weights.append(6.0 if index == 0 else rng.lognormvariate(0, 0.8))
        sim.at(joined, _join_event(sim, index, joined))

    sim.plans = _plans(rng)
    for plan in sim.plans:
        sim.at(plan.listed, _list_event(sim, plan))
    for day in range(1, SIM_DAYS):
        offset = timedelta(days=day)
        sim.at(offset, lambda offset=offset: _refresh_balances(sim, offset))
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

    demo_lender = sim.lenders[0]
    balance = (await Account.get(lender_id=demo_lender)).balance_cents
    if balance < DEMO_LENDER_MIN_CREDIT:
        await deposit(demo_lender, _cents(DEMO_LENDER_MIN_CREDIT), sim.key("deposit"), sim.end - timedelta(hours=1))
    found = await _example_loans(sim)
    tokens = {
        "lender": await issue_token(Role.LENDER, lender_id=demo_lender, name="demo"),
        "partner": await issue_token(Role.PARTNER, partner_id=found["partner"].id, name="demo"),
        "admin": admin_token,
    }
    return tokens, found


async def _example_loans(sim: Simulation) -> dict[str, Any]:
    """The loans the printed examples use: one to lend to, one to repay, and its partner."""
    fundraising = await Loan.filter(status=LoanStatus.FUNDRAISING).order_by("-expires_at", "id")
    to_lend = next(loan for loan in fundraising if loan.amount_cents - loan.funded_cents >= 10000)
    repaying = await Loan.filter(status=LoanStatus.REPAYING).order_by("id")
    # The loan with the most left to repay; its partner is the demo partner.
    to_repay = max(repaying, key=lambda loan: (loan.amount_cents - loan.repaid_cents, -loan.id))
    partner = next(p for p in sim.partners if p.id == to_repay.partner_id)
    return {"lend": to_lend, "repay": to_repay, "partner": partner}


# --------------------------------------------------------------------------- what it prints


def global_id(type_name: str, ident: int) -> str:
    """The Relay global id the API gives an object (base64 of "Type:id")."""
    return b64encode(f"{type_name}:{ident}".encode()).decode()


BROWSE = """query Browse {
  loans(
    filter: {
      statuses: [FUNDRAISING]
      sectors: [AGRICULTURE, FOOD, RETAIL]
      genders: [FEMALE, MIXED_GROUP]
      riskRatingMin: "2.5"
    }
    sort: EXPIRING_SOON
    first: 5
  ) {
    totalCount
    edges {
      node {
        id name use sector gender amount remainingAmount lenderCount expiresAt
        country { isoCode name }
        partner { name riskRating defaultRate arrearsRate }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

MY_PORTFOLIO = """query MyPortfolio {
  me {
    displayName
    balance
    portfolio {
      stats {
        loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate
        bySector { key loanCount lent outstanding }
      }
      shares(first: 5) {
        totalCount
        edges { node { amount repaidAmount currencyLoss loan { name status country { name } } } }
      }
    }
  }
}"""

LEND = """mutation Lend($input: LendInput!) {
  lend(input: $input) {
    __typename
    ... on LendSuccess { loan { name fundedAmount remainingAmount status } share { amount } lender { balance } }
    ... on InsufficientCredit { needed available }
    ... on ExceedsRemaining { remaining }
    ... on UserError { code message }
  }
}"""

REPAY = """mutation Repay($input: PostRepaymentInput!) {
  postRepayment(input: $input) {
    __typename
    ... on PostRepaymentSuccess { amount lendersCredited loan { name status repaidAmount } }
    ... on UserError { code message }
  }
}"""


@dataclass(frozen=True)
class Example:
    title: str
    role: str  # whose token to send: "lender", "partner", or "" for none
    query: str
    variables: dict[str, Any] | None = None


def examples(lend_loan_id: int, repay_loan_id: int) -> list[Example]:
    """The example operations the summary prints (and the README shows), for these loans."""
    return [
        Example("Browse fundraising loans, soonest to expire first (no token needed)", "", BROWSE),
        Example("The demo lender's balance and portfolio", "lender", MY_PORTFOLIO),
        Example(
            "Lend 25.00 to a fundraising loan as the demo lender",
            "lender",
            LEND,
            {"input": {"loanId": global_id("Loan", lend_loan_id), "amount": "25.00", "idempotencyKey": "try-lend-1"}},
        ),
        Example(
            "Post a repayment as the demo partner",
            "partner",
            REPAY,
            {
                "input": {
                    "loanId": global_id("Loan", repay_loan_id),
                    "amount": EXAMPLE_REPAYMENT,
                    "idempotencyKey": "try-repay-1",
                }
            },
        ),
    ]


async def _summary(sim: Simulation, tokens: dict[str, str], found: dict[str, Any]) -> str:
    statuses = Counter(await Loan.all().values_list("status", flat=True))
    demo_lender = await Lender.get(id=sim.lenders[0])
    partner: Partner = found["partner"]
    lines = [
        f"Seeded demo data: a year of lending up to {sim.end:%Y-%m-%d %H:%M} UTC.",
        f"  partners     {await Partner.all().count()}",
        f"  lenders      {await Lender.all().count()}",
        f"  loans        {sum(statuses.values())}: "
        + ", ".join(f"{s.value} {statuses.get(s.value, 0)}" for s in LoanStatus),
        f"  shares       {await Share.all().count()}",
        f"  repayments   {await Repayment.all().count()}",
        "",
        "Tokens (shown once; send as the HTTP header Authorization: Bearer <token>):",
        f"  lender  ({demo_lender.display_name}):  {tokens['lender']}",
        f"  partner ({partner.name}):  {tokens['partner']}",
        f"  admin:  {tokens['admin']}",
        "",
        "GraphiQL: http://127.0.0.1:8000/graphql -- paste an operation, its variables, and under",
        "Headers the JSON shown with it.",
    ]
    for number, example in enumerate(examples(found["lend"].id, found["repay"].id), 1):
        lines += ["", f"# {number}. {example.title}", example.query]
        if example.variables:
            lines += ["# Variables:", json.dumps(example.variables)]
        if example.role:
            lines += ["# Headers:", json.dumps({"Authorization": f"Bearer {tokens[example.role]}"})]
    return "\n".join(lines)
