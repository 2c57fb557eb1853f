"""P3's workload: the partners' countries, who subscribes to what, and the mutations the driver sends.

Both paths get the same: make_specs draws the subscriber mix and make_schedule the listings and lends,
each from the run's one seeded random.
"""

import json
import random
from dataclasses import dataclass
from typing import Any

# Partners, one per country (a partner lists loans in its own country only), with their risk ratings.
COUNTRIES = {"KE": "4.0", "UG": "3.5", "PE": "3.0", "PH": "4.5", "KH": "2.5", "GT": "3.0"}
SECTORS = [
    "AGRICULTURE",
    "ARTS",
    "CLOTHING",
    "CONSTRUCTION",
    "EDUCATION",
    "ENTERTAINMENT",
    "FOOD",
    "HEALTH",
    "HOUSING",
    "MANUFACTURING",
    "PERSONAL_USE",
    "RETAIL",
    "SERVICES",
    "TRANSPORTATION",
    "WHOLESALE",
]
GENDERS = ["FEMALE", "MALE", "NONBINARY", "MIXED_GROUP"]

LISTED_QUERY = """subscription Listed($filter: LoanFilter) { loanListed(filter: $filter) { eventId occurredAt loan {
  id name use country { isoCode name } sector gender amount fundedAmount remainingAmount termMonths status listedAt
  partner { name riskRating } } } }"""
PROGRESS_QUERY = """subscription Progress($loanId: ID!) { loanProgress(loanId: $loanId) { eventId occurredAt kind
  amountAdded fundedAmount remainingAmount lenderCount status loan { id name } } }"""


@dataclass(frozen=True)
class Spec:
    """One subscriber: a loanListed filter, or the progress of one hot loan."""

    countries: tuple[str, ...] | None = None
    sectors: tuple[str, ...] | None = None
    genders: tuple[str, ...] | None = None
    hot: int | None = None  # index of the hot loan for loanProgress

    def wants(self, country: str, sector: str, gender: str) -> bool:
        """The bench's own reading of the filter (countries AND sectors AND genders, each any-of)."""
        return (
            self.hot is None
            and (self.countries is None or country in self.countries)
            and (self.sectors is None or sector in self.sectors)
            and (self.genders is None or gender in self.genders)
        )

    def subscribe(self, hot_ids: list[str]) -> str:
        if self.hot is not None:
            payload = {"query": PROGRESS_QUERY, "variables": {"loanId": hot_ids[self.hot]}}
        else:
            wanted = {
                k: list(v)
                for k, v in (("countries", self.countries), ("sectors", self.sectors), ("genders", self.genders))
                if v
            }
            payload = {"query": LISTED_QUERY, "variables": {"filter": wanted} if wanted else {}}
        return json.dumps({"id": "1", "type": "subscribe", "payload": payload})


def make_specs(count: int, hot_loans: int, rng: random.Random) -> list[Spec]:
    """A mix: 80% loanListed (5% unfiltered, the rest by country, sector, both, or gender and country)."""
    countries = list(COUNTRIES)
    specs = []
    for i in range(count):
        if hot_loans and i % 5 == 4:  # every fifth follows a hot loan
            specs.append(Spec(hot=(i // 5) % hot_loans))
            continue
        pick = rng.random()
        some_countries = tuple(sorted(rng.sample(countries, rng.choice((1, 1, 2)))))
        some_sectors = tuple(sorted(rng.sample(SECTORS, rng.choice((1, 2, 3)))))
        if pick < 0.05:
            specs.append(Spec())
        elif pick < 0.45:
            specs.append(Spec(countries=some_countries))
        elif pick < 0.75:
            specs.append(Spec(sectors=some_sectors))
        elif pick < 0.90:
            specs.append(Spec(countries=some_countries, sectors=some_sectors))
        else:
            specs.append(Spec(countries=some_countries, genders=tuple(sorted(rng.sample(GENDERS, 2)))))
    return specs


@dataclass
class Mutation:
    """One mutation of the schedule: what it sends, whose token, what its events carry, and when it ran."""

    what: str  # "list" or "lend"
    variables: dict[str, Any]
    token: str
    country: str = ""
    sector: str = ""
    gender: str = ""
    hot: int | None = None  # for a lend, the index of its hot loan
    funded_after: int = 0  # cents, for a lend
    loan_id: int | None = None  # filled in for a listing once it answered
    sent: float = 0.0
    answered: float = 0.0
    committed: float = 0.0  # when its Redis announce arrived (sent < committed < answered); else `answered`
    typename: str = ""


def listing(i: int, country: str, sector: str, gender: str, amount: str) -> dict[str, Any]:
    """A ListLoanInput."""
    return {
        "name": f"Borrower {i:03d}",
        "use": "to buy more stock for her market stall and grow her trade",
        "countryIsoCode": country,
        "sector": sector,
        "gender": gender,
        "amount": amount,
        "termMonths": 12,
    }


def make_schedule(
    listings: int,
    hot_loans: int,
    shares: int,
    partner_tokens: dict[str, str],
    lenders: list[str],
    hot_ids: list[str],
    rng: random.Random,
) -> list[Mutation]:
    """Listings and lends interleaved evenly; the lends of each hot loan in order."""
    lists = []
    for i in range(listings):
        country = list(COUNTRIES)[i % len(COUNTRIES)]
        sector, gender = rng.choice(SECTORS), rng.choice(GENDERS[:2] if i % 3 else GENDERS)
        amount = f"{25 * rng.randint(8, 80)}.00"
        lists.append(
            Mutation(
                "list",
                {"input": listing(i, country, sector, gender, amount)},
                partner_tokens[country],
                country,
                sector,
                gender,
            )
        )
    lends = [
        Mutation(
            "lend",
            {"input": {"loanId": hot_ids[h], "amount": "25.00", "idempotencyKey": f"hot-{h}-{k}"}},
            lenders[k],
            hot=h,
            funded_after=2500 * (k + 1),
        )
        for k in range(shares)
        for h in range(hot_loans)
    ]
    total = len(lists) + len(lends)
    order: list[Mutation] = []
    li = ei = 0
    for slot in range(total):  # spread the listings evenly among the lends
        if li < len(lists) and (ei >= len(lends) or (slot + 1) * len(lists) / total >= li + 1):
            order.append(lists[li])
            li += 1
        else:
            order.append(lends[ei])
            ei += 1
    return order
