"""lending.filters: a LoanFilter means one thing in SQL (`loan_query`: autoLendPreview, auto-lending's
candidates; lending.browse: the `loans` query's pages and count) and in Python (`LoanFilter.matches`:
auto-lending a listed loan, saved-search alerts, `loanListed`), on SQLite and on PostgreSQL, for any text
the API accepts."""

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.browse import loan_count, loan_page
from lending.errors import InvalidInput
from lending.filters import LOAN_ORDERS, LoanFilter, loan_query
from lending.paging import Order
from models import Gender, Loan, LoanStatus, Partner, Sector, db
from tests import services

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RISKS = (5, 15, 25, 35, 50)  # the partners' stars, in tenths
COUNTRIES = ("KE", "PE", "PH")
SECTORS = (Sector.AGRICULTURE, Sector.FOOD, Sector.RETAIL)
TERMS = (6, 12, 24)

# Letters whose case differs between Python's str.lower, SQLite (ASCII only) and PostgreSQL (the locale):
# accented capitals, sharp s and its capital, Turkish dotted and dotless i, the three sigmas, long s,
# the Kelvin sign, a ligature, a titlecase digraph and a combining dot; then LIKE's wildcards and escape.
TRICKY = "éÉßẞİıΣσςſ\u212aﬁǅ\u0307" + "%_\\"
PLAIN = "aAiIkKsSeE"
ALPHABET = TRICKY + PLAIN + " "
WORDS = ("stock", "STOCK", "Kenya", "kenya", "École", "ÉCOLE", "straße", "STRASSE", "İstanbul", "ΟΔΟΣ", "οδός",
         "100%", "a_b", "c\\d", "Kelvin", "\u212aelvin")  # fmt: skip

piece = st.one_of(st.sampled_from(WORDS), st.text(ALPHABET, min_size=1, max_size=5))
# As the API stores text: stripped; a description may hold line breaks and tabs, the others may not.
one_line = st.lists(piece, min_size=1, max_size=4).map(" ".join).map(str.strip).filter(bool)
multiline = st.lists(st.one_of(piece, st.sampled_from(("\n", "\t"))), max_size=5).map(" ".join).map(str.strip)


@st.composite
def loans(draw: st.DrawFn) -> list[dict]:
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": one_line,
                    "use": one_line,
                    "description": multiline,
                    "risk": st.sampled_from(RISKS),
                    "country_code": st.sampled_from(COUNTRIES),
                    "sector": st.sampled_from(SECTORS),
                    "gender": st.sampled_from(list(Gender)),
                    "status": st.sampled_from(list(LoanStatus)),
                    "term_months": st.sampled_from(TERMS),
                }
            ),
            min_size=1,
            max_size=5,
        )
    )


@st.composite
def keyword_for(draw: st.DrawFn, rows: list[dict]) -> str:
    """A keyword that a loan's text may or may not hold: from a field, across two fields, or made up."""
    row = draw(st.sampled_from(rows))
    name, use, description = row["name"], row["use"], row["description"]
    cut = st.integers(min_value=0, max_value=12)
    head, tail = draw(cut), draw(cut)
    field = draw(st.sampled_from((name, use, description)))
    start = draw(st.integers(min_value=0, max_value=max(0, len(field) - 1)))
    inside = field[start : start + 1 + head]
    word = draw(
        st.sampled_from(
            (
                inside,  # inside one field
                inside,
                inside,
                name[-1 - tail :] + " " + use[: 1 + head],  # across name and use, as " ".join(...) would read
                use[-1 - tail :] + " " + description[: 1 + head],  # across use and description
                draw(piece),
                draw(st.text(ALPHABET, min_size=1, max_size=3)),
            )
        )
    )
    changes: tuple[Callable[[str], str], ...] = (str, str, str, str.upper, str.lower, str.swapcase, str.casefold)
    return draw(st.sampled_from(changes))(word)[:50]


def accepted(keyword: str) -> bool:
    """Whether the API takes this keyword (a line break, say, it refuses)."""
    try:
        return bool(LoanFilter.build(keywords=[keyword]).keywords)
    except InvalidInput:
        return False


@st.composite
def filters(draw: st.DrawFn, rows: list[dict]) -> LoanFilter:
    """A filter as the API builds it: keywords, often alone, or with every other dimension."""
    keywords = [word for word in draw(st.lists(keyword_for(rows), max_size=2)) if accepted(word)]
    if draw(st.booleans()):
        return LoanFilter.build(keywords=keywords)

    def some(values: Sequence[Any]) -> list[Any]:
        return draw(st.lists(st.sampled_from(values), unique=True, max_size=2))

    def stars(tenths: int | None) -> str | None:
        return None if tenths is None else str(tenths / 10)

    low, high = sorted(draw(st.lists(st.sampled_from(RISKS), min_size=2, max_size=2)))
    return LoanFilter.build(
        keywords=keywords,
        countries=some((*COUNTRIES, "US")),
        sectors=some((*SECTORS, Sector.HEALTH)),
        genders=some(list(Gender)),
        risk_rating_min=stars(draw(st.sampled_from((low, None)))),
        risk_rating_max=stars(draw(st.sampled_from((high, None)))),
        statuses=some(list(LoanStatus)),
        max_term_months=draw(st.none() | st.sampled_from((1, 6, 12, 24))),
    )


@pytest.fixture
async def partners(database_url: str) -> AsyncIterator[dict[int, int]]:
    """Connected to a database of our own, with one partner per risk rating: {risk tenths: partner id}."""
    if database_url.startswith("postgres"):
        await services.reset_pg(database_url)
    await db.connect(database_url)
    try:
        made = {}
        for tenths in RISKS:
            partner = await Partner.create(name=f"P{tenths}", country_code="KE", risk_tenths=tenths, created_at=NOW)
            made[tenths] = partner.id
        yield made
    finally:
        await db.disconnect()


async def store(partners: dict[int, int], rows: list[dict]) -> list[Loan]:
    """Replace every loan with `rows`, and read them back as the engine would."""
    await Loan.all().delete()
    await Loan.bulk_create(
        [
            Loan(
                partner_id=partners[row["risk"]],
                **{k: v for k, v in row.items() if k != "risk"},
                # Ties and differences in every sort key, so that pages cross both.
                amount_cents=50_000 + 2_500 * (i % 3),
                funded_cents=2_500 * (i % 4),
                listed_at=NOW - timedelta(minutes=i % 2),
                expires_at=NOW + timedelta(days=30 - i % 3),
            )
            for i, row in enumerate(rows)
        ]
    )
    return await Loan.all().select_related("partner")


async def selected_by_sql(loan_filter: LoanFilter) -> set[int]:
    return set(await loan_query(loan_filter).values_list("id", flat=True))


def selected_by_python(loan_filter: LoanFilter, stored: list[Loan]) -> set[int]:
    return {loan.id for loan in stored if loan_filter.matches(loan, loan.partner.risk_tenths)}


async def browsed(loan_filter: LoanFilter, order: Order) -> list[Loan]:
    """Every loan the `loans` query shows, page after page (three at a time, so that cursors are crossed)."""
    seen: list[Loan] = []
    after = None
    while True:
        found, partners = await loan_page(loan_filter, order, 3, after)
        assert {p.id for p in partners} == {loan.partner_id for loan in found.items}
        seen += found.items
        if not found.has_next:
            return seen
        after = found.cursor(-1)


def in_order(loans: list[Loan], order: Order) -> list[int]:
    def value(loan: Loan, field: str) -> Any:
        return loan.amount_cents - loan.funded_cents if field == "remaining_cents" else getattr(loan, field)

    ordered = loans
    for key in reversed(order.keys):  # a stable sort per key, the last key first
        ordered = sorted(ordered, key=lambda loan, f=key.field: value(loan, f), reverse=key.descending)
    return [loan.id for loan in ordered]


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    # The database is connected once per test; each example replaces every loan in it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_sql_and_python_select_the_same_loans(partners: dict[int, int], data: st.DataObject) -> None:
    rows = data.draw(loans(), label="loans")
    stored = await store(partners, rows)
    for loan_filter in data.draw(st.lists(filters(rows), min_size=1, max_size=4), label="filters"):
        expected = selected_by_python(loan_filter, stored)
        assert await selected_by_sql(loan_filter) == expected, loan_filter
        order = data.draw(st.sampled_from(list(LOAN_ORDERS.values())), label="order")
        shown = await browsed(loan_filter, order)
        assert [loan.id for loan in shown] == in_order([loan for loan in stored if loan.id in expected], order)
        assert await loan_count(loan_filter) == len(expected)


# (keyword as typed, name, use, description, whether it matches): the definition, by example.
EXAMPLES = [
    ("stock kenya", "Amina", "to buy more stock", "Kenya, Kisumu: she sells fabric.", False),  # never across fields
    ("amina to", "Amina", "to buy more stock", "", False),
    ("STOCK KENYA", "Wanjiru", "to restock Kenyan tea", "", True),  # ASCII letters in any case
    ("kenya", "Baraka", "to buy a cow", "Born in\nKENYA", True),
    ("École", "ÉCOLE", "fees", "", True),  # "ÉCOLE" is "École" once its ASCII letters are folded
    ("École", "école", "fees", "", False),  # other letters match only as they are
    ("straße", "STRASSE", "a shop", "", False),
    ("istanbul", "İstanbul", "a shop", "", False),
    ("ὀδός", "ὈΔΌΣ", "a road", "", False),
    ("\u212aelvin", "Kelvin", "a lab", "", False),  # the Kelvin sign is not the letter K
    ("100%", "Rosa", "100% solar", "", True),  # "%", "_" and "\" are characters like any other
    ("1%0", "Rosa", "100% solar", "", False),
    ("a_b", "Rosa", "axb", "", False),
    ("c\\d", "Rosa", "c\\d and more", "", True),
    ("c\\d", "Rosa", "cd", "", False),
]


@pytest.mark.parametrize(("keyword", "name", "use", "description", "expected"), EXAMPLES)
async def test_a_keyword_matches_inside_one_field_folding_only_ascii_letters(
    partners: dict[int, int], keyword: str, name: str, use: str, description: str, expected: bool
) -> None:
    plain: dict[str, Any] = {"risk": 25, "country_code": "KE", "sector": Sector.FOOD, "gender": Gender.FEMALE}
    row = plain | {"status": LoanStatus.FUNDRAISING, "term_months": 12}
    row |= {"name": name, "use": use, "description": description}
    stored = await store(partners, [row])
    loan_filter = LoanFilter.build(keywords=[keyword])
    assert selected_by_python(loan_filter, stored) == ({stored[0].id} if expected else set())
    assert await selected_by_sql(loan_filter) == selected_by_python(loan_filter, stored)


def test_build_folds_the_ascii_letters_of_keywords_and_nothing_else() -> None:
    built_filter = LoanFilter.build(keywords=["  Stock KENYA ", "ÉCOLE", "İstanbul", "", "ΟΔΟΣ"])
    assert built_filter.keywords == ("stock kenya", "École", "İstanbul", "ΟΔΟΣ")
    assert LoanFilter.from_json(built_filter.to_json()) == built_filter
