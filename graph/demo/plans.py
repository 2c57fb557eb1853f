"""The plan of the demo year: what each of its loans will be, when it is listed, how it fills and how it ends.

Everything is drawn from one seeded random in a fixed order, so a fresh database always gets the same
loans with the same ids; graph/demo/simulation.py carries the plans out.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from graph.demo.world import ACTIVITY, CLOSING, LONG_SECTORS, LONG_TERMS, PARTNERS, SHORT_TERMS, USES
from lending.countries import country_name
from lending.loans import LISTING_DAYS, Listing
from models import CurrencyLossLiability, Gender, Sector

SEED = 20_260_101
SIM_DAYS = 365
LOAN_COUNT = 306
RECENT_LOANS = 36  # of which listed in the last RECENT_DAYS days
RECENT_DAYS = 22
LENDER_COUNT = 72
# A loan still fundraising at the end was listed at most this many days before it,
# so it has at least LISTING_DAYS - FRESH_DAYS days left when the server starts.
FRESH_DAYS = 25


def money(cents: int) -> str:
    """Cents as the amount string the domain's functions take (2500 -> "25.00")."""
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class LoanPlan:
    """One loan of the year: its listing, when it is listed, how it fills, and its fate; then what happened."""

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
        amount=money(amount),
        term_months=term,
        currency=spec.currency,
        currency_loss_liability=liability,
    )
    return LoanPlan(index, partner_index, listing, amount, listed, lend_target, fill_within, fate)


def plan_loans(rng: random.Random) -> list[LoanPlan]:
    """The year's LOAN_COUNT loans, in the order they are listed."""
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
