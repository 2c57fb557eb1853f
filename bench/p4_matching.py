"""P4 - saved-search matching: which of 100,000 (or 1,000,000) saved searches does a new listing alert?

lendgraph: the match index (lending.matching.FilterIndex, a roaring bitmap
per attribute value after Whang et al., "Indexing Boolean Expressions",
VLDB 2009), `index.match(loan, risk_tenths)`; and at sizes whose rows are
inserted, `lending.searches.matching_searches(loan, risk_tenths)`, the call
`list_loan` makes inside its transaction: the index's answer, then the
matched searches' lenders and names read by id.

Baseline: a linear scan with the same predicate, the filters already parsed
and in memory (no database at all): the best any scan can do. At sizes
whose rows are inserted, also the scan that loads every saved search
(`SavedSearch.all()`) first. Every path must return the same set of
searches for every loan checked.

Up to IN_DATABASE searches are inserted as rows and the index is built from
them as a serving process builds it (lending.matchers); above that (the
1,000,000 size) inserting the rows would take most of the run, so the index
is built directly from the generated LoanFilters and only the index and the
in-memory scan are timed. The output says which.
"""

import gc
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tortoise import Tortoise

from bench.common import Stopwatch, Table, median, ms, percentile, ratio
from lending import matchers
from lending.countries import COUNTRIES
from lending.filters import LoanFilter
from lending.matching import FilterIndex
from lending.searches import matching_searches
from models import (
    Gender,
    Lender,
    Loan,
    LoanStatus,
    SavedSearch,
    Sector,
    db,
)

T = TypeVar("T")

BATCH = 5000
IN_DATABASE = 200_000  # searches inserted as rows up to this many; above, the index is built in memory
INDEX_LOANS = 200  # listings the index is timed on (the first `loans` of them checked against the scans)
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
    """The searches as the scans read them (id, alerting, filter), and the index of the alerting ones."""

    searches: list[tuple[int, bool, LoanFilter]]
    index: FilterIndex
    how: str  # what was arranged, for the output
    lender_of: dict[int, int]  # each search's lender (rows only)


def generate(searches: int, rng: random.Random) -> tuple[list[LoanFilter], list[bool]]:
    """The searches' filters (alike ones shared, as a serving process shares them) and whether each alerts."""
    countries = _weighted_countries(rng)
    interned: dict[LoanFilter, LoanFilter] = {}
    filters = [interned.setdefault(f, f) for f in (random_filter(rng, countries) for _ in range(searches))]
    return filters, [rng.random() < 0.85 for _ in range(searches)]


async def insert(searches: int, rng: random.Random) -> Arranged:
    """Lenders and `searches` saved searches, inserted with bulk_create in batches; the index built from the rows."""
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
    filters, alerts = generate(searches, rng)
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
    await Tortoise.get_connection("default").execute_script("ANALYZE")  # fresh statistics, as autovacuum keeps
    inserted = watch.seconds
    watch = Stopwatch()
    index = await matchers.SEARCHES.build()
    built = watch.seconds
    rows = await SavedSearch.all().order_by("id").values_list("id", "alert", "criteria", "lender_id")
    every = [(i, alert, LoanFilter.from_json(criteria)) for i, alert, criteria, _ in rows]
    how = (
        f"{searches:,} saved searches of {lenders:,} lenders inserted in {inserted:.1f} s; "
        f"index of the {len(index):,} alerting ones built from their rows (lending.matchers) in {built:.1f} s"
    )
    return Arranged(every, index, how, {i: lender for i, _, _, lender in rows})


def in_memory(searches: int, rng: random.Random) -> Arranged:
    """`searches` generated filters and the index built from them directly: no rows."""
    filters, alerts = generate(searches, rng)
    every = [(i, alert, f) for i, (alert, f) in enumerate(zip(alerts, filters, strict=True), 1)]
    watch = Stopwatch()
    index = FilterIndex.of((i, f) for i, alert, f in every if alert)  # as lending.matchers builds one from rows
    how = (
        f"{searches:,} saved searches generated in memory, NO ROWS (inserting them would take most of the run); "
        f"index of the {len(index):,} alerting ones built from the LoanFilters directly in {watch.seconds:.1f} s"
    )
    return Arranged(every, index, how, {})


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


async def scan(loan: Loan, risk_tenths: int) -> set[int]:
    """The baseline that reads the database: every saved search, the same predicate."""
    return {
        s.id
        for s in await SavedSearch.all().order_by("id")
        if s.alert and LoanFilter.from_json(s.criteria).matches(loan, risk_tenths)
    }


@dataclass
class Timed:
    """One path's time per listing, and what it found for each listing it was asked about."""

    times: list[float]
    found: list[set[int]]


def timed_index(index: FilterIndex, listings: list[tuple[Loan, int]]) -> Timed:
    index.match(*listings[0])  # warm: every value's bitmap made once, as a serving process has them
    times, found = [], []
    for loan, risk in listings:
        watch = Stopwatch()
        result = index.match(loan, risk)
        times.append(watch.seconds)
        found.append(set(result))
    return Timed(times, found)


def timed_scan(every: list[tuple[int, bool, LoanFilter]], listings: list[tuple[Loan, int]]) -> Timed:
    times, found = [], []
    for loan, risk in listings:
        watch = Stopwatch()
        found.append({i for i, alert, f in every if alert and f.matches(loan, risk)})
        times.append(watch.seconds)
    return Timed(times, found)


async def timed_async(path: Callable[[Loan, int], Any], listings: list[tuple[Loan, int]]) -> Timed:
    times, found = [], []
    for loan, risk in listings:
        watch = Stopwatch()
        result = await path(loan, risk)
        times.append(watch.seconds)
        found.append({getattr(s, "id", s) for s in result})
    return Timed(times, found)


def first_per_lender(ids: set[int], lender_of: dict[int, int]) -> set[int]:
    first: dict[int, int] = {}
    for search_id in sorted(ids):
        first.setdefault(lender_of[search_id], search_id)
    return set(first.values())


def row(table: Table, name: str, timed: Timed, index: Timed, read: str) -> None:
    table.add(
        name,
        len(timed.times),
        ms(min(timed.times)),
        ms(median(timed.times)),
        ms(percentile(timed.times, 0.9)),
        read,
        f"{median([len(f) for f in timed.found]):.0f}",
        ratio(median(timed.times), median(index.times)),
    )


async def run(database_url: str, *, searches: int, loans: int, scan_loans: int) -> str:
    """Arrange, time the index and the scans, check they agree, print the table; return the one-line summary."""
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    rng = random.Random(4)
    loans = min(loans, INDEX_LOANS)
    scan_loans = min(scan_loans, loans)
    rows = searches <= IN_DATABASE
    await db.connect(database_url)
    try:
        arranged = await insert(searches, rng) if rows else in_memory(searches, rng)
        print(f"  arranged on {backend if rows else 'no database'}: {arranged.how}")
        listings = new_loans(INDEX_LOANS, rng)
        gc.collect()
        index = timed_index(arranged.index, listings)
        end_to_end = None
        if rows:
            await matching_searches(*listings[0])  # warm: statement caches, pages in shared buffers
            end_to_end = await timed_async(matching_searches, listings[:loans])
            database_scan = await timed_async(scan, listings[:scan_loans])
        memory_scan = timed_scan(arranged.searches, listings[:loans])
    finally:
        await db.disconnect()

    mismatches = [n for n, expected in enumerate(memory_scan.found) if expected != index.found[n]]
    if end_to_end is not None:  # matching_searches answers each lender's first match
        firsts = [first_per_lender(expected, arranged.lender_of) for expected in memory_scan.found]
        mismatches += [n for n, expected in enumerate(firsts) if expected != end_to_end.found[n]]
        mismatches += [n for n, expected in enumerate(database_scan.found) if expected != index.found[n]]
    table = Table(["path", "loans", "min ms", "median ms", "p90 ms", "searches read", "matched", "time / index"])
    row(table, "match index (FilterIndex.match)", index, index, "none")
    if end_to_end is not None:
        row(table, "matching_searches: index, each lender's first", end_to_end, index, "1 row per lender")
        row(table, "scan: load all, LoanFilter.matches", database_scan, index, f"{searches}")
    row(table, "scan: filters in memory, matches only", memory_scan, index, f"{searches} (in memory)")
    print(table.render())
    checked = f"{loans} loans against the in-memory scan" + (f", {scan_loans} against the full scan" if rows else "")
    same = "same set for every loan" if not mismatches else f"MISMATCH on loans {sorted(set(mismatches))[:5]}"
    print(f"  index vs scans: {same} ({checked})")
    assert not mismatches, f"the index and the scans disagree on loans {sorted(set(mismatches))[:5]}"
    speedup = median(memory_scan.times) / median(index.times)
    return (
        f"P4 matching ({searches:,} searches, {'rows on ' + backend if rows else 'in memory, no rows'}): index "
        f"{ms(median(index.times)):.2f} ms median (p90 {ms(percentile(index.times, 0.9)):.2f}) over {len(listings)} "
        f"listings, {median([len(f) for f in index.found]):.0f} matches; in-memory scan "
        f"{ms(median(memory_scan.times)):.0f} ms -> index/scan {1 / speedup:.4f} (the scan is {speedup:.0f}x slower)"
        + (f"; matching_searches {ms(median(end_to_end.times)):.1f} ms" if end_to_end is not None else "")
    )
