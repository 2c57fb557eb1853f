"""P4 - saved-search matching: which of 100,000 saved searches does a new listing alert?

lendgraph: `lending.searches.matching_searches(loan, risk_tenths)`, the call
`list_loan` makes inside its transaction: candidates by index lookup
(`SearchAnchor` keys from `LoanFilter.index_keys()`), then
`LoanFilter.matches` on each alerting candidate.

Baseline: a linear scan with the same predicate: load every saved search
(`SavedSearch.all()`), keep the alerting ones whose `LoanFilter` matches.
Both must return the same set of searches for every loan. The scan is also
timed with the filters already parsed and in memory (no database at all):
the best any scan can do.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tortoise import Tortoise

from bench.common import Stopwatch, Table, median, ms, percentile, ratio
from lending import matching
from lending.countries import COUNTRIES
from lending.filters import LoanFilter, loan_index_keys
from lending.searches import matching_searches
from models import (
    Gender,
    Lender,
    Loan,
    LoanStatus,
    SavedSearch,
    SearchAnchor,
    Sector,
    db,
)

T = TypeVar("T")

BATCH = 5000
SEARCHES_PER_LENDER = 40  # under MAX_SEARCHES_PER_LENDER (50)
WORDS = [
    "water",
    "solar",
    "school",
    "farm",
    "cows",
    "sewing",
    "bakery",
    "taxi",
    "rice",
    "coffee",
    "fishing",
    "goats",
    "pigs",
    "shop",
    "tailoring",
    "housing",
    "seeds",
    "fertilizer",
    "motorcycle",
    "fruit",
    "vegetables",
    "beauty",
    "salon",
    "clinic",
    "books",
    "uniforms",
    "milk",
    "chickens",
    "repair",
    "phone",
]


def _weighted_countries(rng: random.Random) -> tuple[list[str], list[float]]:
    """A few countries list most loans (as on Kiva): Zipf-like weights over every known country."""
    codes = sorted(COUNTRIES)
    rng.shuffle(codes)
    return codes, [1 / (rank + 1) for rank in range(len(codes))]


def random_filter(rng: random.Random, countries: tuple[list[str], list[float]]) -> LoanFilter:
    """A realistic mix: most searches name countries or sectors; some only a gender, keywords or a risk range."""
    codes, weights = countries

    def some_countries() -> list[str]:
        return sorted(set(rng.choices(codes, weights, k=rng.choice((1, 1, 1, 2, 3)))))

    def some_sectors() -> list[Sector]:
        return rng.sample(list(Sector), rng.choice((1, 1, 2, 3)))

    def some_genders() -> list[Gender]:
        return rng.choices(
            [[Gender.FEMALE], [Gender.MALE], [Gender.FEMALE, Gender.MIXED_GROUP], [Gender.NONBINARY]],
            weights=[6, 2, 2, 1],
        )[0]

    def maybe(probability: float, value: Callable[[], T]) -> T | None:
        return value() if rng.random() < probability else None

    def risk() -> dict[str, Any]:
        if rng.random() < 0.3:
            low = rng.choice(range(5, 45, 5))
            return {"risk_rating_min": str(low / 10), "risk_rating_max": str(rng.choice(range(low, 55, 5)) / 10)}
        return {}

    pick = rng.random()
    options: dict[str, Any] = {}
    if pick < 0.45:
        options = {
            "countries": some_countries(),
            "sectors": maybe(0.3, some_sectors),
            "genders": maybe(0.2, some_genders),
            "keywords": maybe(0.1, lambda: rng.sample(WORDS, 1)),
        }
    elif pick < 0.72:
        options = {"sectors": some_sectors(), "genders": maybe(0.3, some_genders)}
    elif pick < 0.87:
        options = {"genders": some_genders(), "max_term_months": maybe(0.3, lambda: rng.choice((6, 12, 18, 24)))}
    elif pick < 0.95:
        options = {"keywords": rng.sample(WORDS, rng.choice((1, 1, 2)))}
    elif pick < 0.99:
        options = {"max_term_months": rng.choice((6, 12, 18, 24))}
    return LoanFilter.build(**{k: v for k, v in options.items() if v is not None}, **risk())


@dataclass
class Arranged:
    lenders: int
    anchors: int
    keys: Counter[str]  # index rows by kind of key (country, sector, gender, any)
    seconds: float


async def arrange(searches: int, rng: random.Random) -> Arranged:
    """Lenders and `searches` saved searches with their index rows, inserted with bulk_create in batches."""
    now = datetime.now(UTC)
    watch = Stopwatch()
    lenders = -(-searches // SEARCHES_PER_LENDER)
    await Lender.bulk_create(
        [
            Lender(display_name=f"Searcher {i}", email=f"searcher{i}@example.org", created_at=now)
            for i in range(lenders)
        ],
        batch_size=BATCH,
    )
    lender_ids = await Lender.filter(email__startswith="searcher").order_by("id").values_list("id", flat=True)
    countries = _weighted_countries(rng)
    filters = [random_filter(rng, countries) for _ in range(searches)]
    alerts = [rng.random() < 0.85 for _ in range(searches)]
    for start in range(0, searches, BATCH):
        await SavedSearch.bulk_create(
            [
                SavedSearch(
                    lender_id=lender_ids[i // SEARCHES_PER_LENDER],
                    name=f"search {i}",
                    criteria=filters[i].to_json(),
                    alert=alerts[i],
                    created_at=now,
                )
                for i in range(start, min(start + BATCH, searches))
            ]
        )
    # Each search's anchors, from its stored criteria, as save_search files them.
    anchors = []
    for search_id, criteria in await SavedSearch.all().order_by("id").values_list("id", "criteria"):
        anchors += [SearchAnchor(search_id=search_id, key=key) for key in LoanFilter.from_json(criteria).index_keys()]
    await SearchAnchor.bulk_create(anchors, batch_size=BATCH * 2)
    connection = Tortoise.get_connection("default")
    await connection.execute_script("ANALYZE")  # fresh statistics, as autovacuum would have them by now
    keys = Counter(a.key.split(":")[0] for a in anchors)
    return Arranged(lenders, len(anchors), keys, watch.seconds)


def new_loans(count: int, rng: random.Random) -> list[tuple[Loan, int]]:
    """Listings as partners post them (unsaved: matching reads only the loan's fields), with partner risk."""
    codes, weights = _weighted_countries(random.Random(rng.random()))
    now = datetime.now(UTC)
    loans = []
    for i in range(count):
        words = rng.sample(WORDS, 2)
        loan = Loan(
            id=10_000_000 + i,
            partner_id=1,
            name=f"Borrower {i}",
            use=f"to buy {words[0]} for her {words[1]} business",
            description=f"She has run her {words[1]} business for six years.",
            country_code=rng.choices(codes, weights)[0],
            sector=rng.choice(list(Sector)),
            gender=rng.choices(list(Gender), weights=[7, 2, 0.2, 1])[0],
            amount_cents=2500 * rng.randint(4, 200),
            term_months=rng.choice((6, 8, 12, 14, 18, 24, 36)),
            status=LoanStatus.FUNDRAISING,
            listed_at=now,
            expires_at=now + timedelta(days=30),
        )
        loans.append((loan, rng.choice(range(5, 55, 5))))
    return loans


async def scan(loan: Loan, risk_tenths: int) -> list[SavedSearch]:
    """The baseline: every saved search, the same predicate."""
    return [
        s
        for s in await SavedSearch.all().order_by("id")
        if s.alert and LoanFilter.from_json(s.criteria).matches(loan, risk_tenths)
    ]


@dataclass
class Steps:
    """Where the indexed path spends its time (the steps of matching_searches, replayed one by one)."""

    lookup: float
    load: float
    test: float
    candidates: int
    alerting: int


async def steps(loan: Loan, risk_tenths: int) -> Steps:
    watch = Stopwatch()
    ids = await SearchAnchor.filter(key__in=loan_index_keys(loan)).distinct().values_list("search_id", flat=True)
    lookup = watch.seconds
    watch = Stopwatch()
    # As matching_searches does it: the index lookup as a subquery (its time includes the lookup again).
    candidates = (
        await SavedSearch.filter(id__in=matching.candidates(SearchAnchor, "search_id", loan), alert=True)
        .order_by("id")
        .values_list("id", "lender_id", "name", "criteria")
    )
    load = watch.seconds
    watch = Stopwatch()
    [row for row in candidates if LoanFilter.from_json(row[3]).matches(loan, risk_tenths)]
    return Steps(lookup, load, watch.seconds, len(ids), len(candidates))


async def run(database_url: str, *, searches: int, loans: int, scan_loans: int) -> str:
    """Arrange, time both paths, check they agree, print the table; return the one-line summary."""
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    rng = random.Random(4)
    scan_loans = min(scan_loans, loans)
    await db.connect(database_url)
    try:
        arranged = await arrange(searches, rng)
        keys = ", ".join(f"{k} {n}" for k, n in arranged.keys.most_common())
        print(
            f"  arranged on {backend}: {searches} saved searches of {arranged.lenders} lenders, "
            f"{arranged.anchors} index rows ({keys}) in {arranged.seconds:.1f} s"
        )
        listings = new_loans(loans, rng)
        await matching_searches(*listings[0])  # warm: statement caches, index pages in shared buffers
        index_times, found = [], []
        for loan, risk in listings:
            watch = Stopwatch()
            result = await matching_searches(loan, risk)
            index_times.append(watch.seconds)
            found.append({s.id for s in result})
        breakdown = [await steps(loan, risk) for loan, risk in listings[:3]]
        candidates = [
            len(await SearchAnchor.filter(key__in=loan_index_keys(loan)).distinct().values_list("search_id", flat=True))
            for loan, _ in listings
        ]

        scan_times, mismatches = [], []
        for n, (loan, risk) in enumerate(listings[:scan_loans]):
            watch = Stopwatch()
            expected = {s.id for s in await scan(loan, risk)}
            scan_times.append(watch.seconds)
            if expected != found[n]:
                mismatches.append((n, len(expected - found[n]), len(found[n] - expected)))
        # Every loan checked against the scan, with the filters parsed once: also the floor of any scan.
        watch = Stopwatch()
        every = [(s.id, s.alert, LoanFilter.from_json(s.criteria)) for s in await SavedSearch.all().order_by("id")]
        preload = watch.seconds
        memory_times = []
        for n, (loan, risk) in enumerate(listings):
            watch = Stopwatch()
            expected = {i for i, alert, f in every if alert and f.matches(loan, risk)}
            memory_times.append(watch.seconds)
            if expected != found[n] and n >= scan_loans:
                mismatches.append((n, len(expected - found[n]), len(found[n] - expected)))
    finally:
        await db.disconnect()

    matched = [len(f) for f in found]
    table = Table(["path", "loans", "min ms", "median ms", "p90 ms", "searches read", "matched", "time / index"])
    table.add(
        "lendgraph index (matching_searches)",
        loans,
        ms(min(index_times)),
        ms(median(index_times)),
        ms(percentile(index_times, 0.9)),
        f"{median(candidates):.0f} (median)",
        f"{median(matched):.0f}",
        "1.0x",
    )
    table.add(
        "scan: load all, LoanFilter.matches",
        scan_loans,
        ms(min(scan_times)),
        ms(median(scan_times)),
        ms(percentile(scan_times, 0.9)),
        searches,
        f"{median(matched[:scan_loans]):.0f}",
        ratio(median(scan_times), median(index_times)),
    )
    table.add(
        "scan: filters in memory, matches only",
        loans,
        ms(min(memory_times)),
        ms(median(memory_times)),
        ms(percentile(memory_times, 0.9)),
        searches,
        f"{median(matched):.0f}",
        ratio(median(memory_times), median(index_times)),
    )
    print(table.render())
    print(
        f"  candidates from the index per loan: min {min(candidates)}, median {median(candidates):.0f}, "
        f"max {max(candidates)} of {searches} ({median(candidates) / searches:.0%}); matched median "
        f"{median(matched):.0f} ({median(matched) / max(1, median(candidates)):.1%} of candidates)"
    )
    print(
        f"  index path, median of {len(breakdown)} loans per step: anchor lookup "
        f"{ms(median([b.lookup for b in breakdown])):.1f} ms, "
        f"load {median([b.alerting for b in breakdown]):.0f} alerting candidates "
        f"{ms(median([b.load for b in breakdown])):.1f} ms, from_json + matches "
        f"{ms(median([b.test for b in breakdown])):.1f} ms; the scan's one-off load and parse {ms(preload):.0f} ms"
    )
    same = "same set for every loan" if not mismatches else f"MISMATCH on {len(mismatches)} loans {mismatches[:3]}"
    print(f"  index vs scan: {same} ({scan_loans} loans against the full scan, {loans} against the in-memory scan)")
    assert not mismatches, f"matching_searches and the scan disagree: {mismatches[:5]}"
    return (
        f"P4 matching ({backend}, {searches} searches): index {ms(median(index_times)):.0f} ms median "
        f"(min {ms(min(index_times)):.0f}), {median(candidates):.0f} candidates ({median(candidates) / searches:.0%}) "
        f"-> {median(matched):.0f} matches; scan {ms(median(scan_times)):.0f} ms -> ratio index/scan "
        f"{median(index_times) / median(scan_times):.2f}x "
        f"(scan {ratio(median(scan_times), median(index_times))} slower; "
        f"the in-memory scan is {ratio(median(memory_times), median(index_times))} of the index time)"
    )
