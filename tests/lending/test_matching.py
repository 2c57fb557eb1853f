"""lending.matching: the match index answers exactly what LoanFilter.matches and the `loans` query's SQL answer.

Generated filters (as the API builds them, and raw ones as stored JSON could hold: keywords in capitals or
empty, a risk range upside down, terms past the API's bounds) come and go by id, with versions heard in any
order; after each change the index is asked about generated loans, so bitmaps made for a value before a
change are checked too. The same index is then checked against the SQL of `loan_query` on stored loans.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.filters import LoanFilter
from lending.matching import FilterIndex
from models import Gender, Loan, LoanStatus, Sector
from tests.lending.test_filters import (
    COUNTRIES,
    RISKS,
    SECTORS,
    TERMS,
    filters,
    loans,
    partners,
    selected_by_sql,
    store,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
__all__ = ["partners"]  # a fixture of test_filters.py, used here too

raw_word = st.sampled_from(("", "STOCK", "stock", "sto", "ock k", "é", "É", "İ", "%", "a b", "Kenya"))


@st.composite
def raw_filters(draw: st.DrawFn) -> LoanFilter:
    """A LoanFilter made directly, as from_json makes one from any stored JSON: no build() to tidy it."""

    def some(values: Any) -> tuple[Any, ...]:
        return tuple(draw(st.lists(st.sampled_from(values), max_size=3)))

    bound = st.none() | st.integers(min_value=0, max_value=60)
    return LoanFilter(
        countries=some((*COUNTRIES, "US")),
        sectors=some((*SECTORS, Sector.HEALTH)),
        genders=some(list(Gender)),
        risk_min_tenths=draw(bound),
        risk_max_tenths=draw(bound),
        keywords=tuple(draw(st.lists(raw_word, max_size=3))),
        statuses=some(list(LoanStatus)),
        max_term_months=draw(st.none() | st.integers(min_value=-1, max_value=130)),
    )


def as_loan(row: dict[str, Any]) -> Loan:
    fields = {k: v for k, v in row.items() if k != "risk"}
    return Loan(**fields, amount_cents=50_000, listed_at=NOW, expires_at=NOW + timedelta(days=30))


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Puts (an id, a filter or None, a version or None) and questions (a loan, its risk, a status or None)."""
    rows = draw(loans())
    some_filter = st.none() | filters(rows) | raw_filters()
    put = st.tuples(
        st.just("put"),
        st.tuples(
            st.integers(min_value=1, max_value=8), some_filter, st.none() | st.integers(min_value=1, max_value=12)
        ),
    )
    ask = st.tuples(
        st.just("ask"),
        st.tuples(
            st.sampled_from(rows).map(as_loan),
            st.sampled_from((*RISKS, 0, 99)),
            st.none() | st.sampled_from(list(LoanStatus)),
        ),
    )
    return draw(st.lists(st.one_of(put, ask), min_size=1, max_size=30))


@settings(max_examples=400, deadline=None, database=None)
@given(script=steps())
def test_the_index_answers_as_matches_after_every_change(script: list[tuple[str, Any]]) -> None:
    index = FilterIndex()
    held: dict[int, LoanFilter] = {}
    versions: dict[int, int] = {}
    asked = []
    for step, arguments in script:
        if step == "put":
            filter_id, loan_filter, version = arguments
            index.put(filter_id, loan_filter, version)
            if version is not None:
                if version <= versions.get(filter_id, 0):
                    continue  # an older change than one already heard
                versions[filter_id] = version
            held.pop(filter_id, None)
            if loan_filter is not None:
                held[filter_id] = loan_filter
        else:
            loan, risk, status = arguments
            expected = {i for i, f in held.items() if f.matches(loan, risk, status)}
            assert set(index.match(loan, risk, status)) == expected, (loan.__dict__, risk, status, held)
            asked.append(arguments)
        assert index.filters == held
    built = FilterIndex.of(held.items())  # as a process builds it at start: all at once
    for loan, risk, status in asked:
        assert set(built.match(loan, risk, status)) == {i for i, f in held.items() if f.matches(loan, risk, status)}


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_index_answers_as_the_loans_query(partners: dict[int, int], data: st.DataObject) -> None:
    rows = data.draw(loans(), label="loans")
    stored = await store(partners, rows)
    chosen = data.draw(st.lists(filters(rows) | raw_filters(), min_size=1, max_size=6), label="filters")
    index = FilterIndex()
    for filter_id, loan_filter in enumerate(chosen, 1):
        index.put(filter_id, loan_filter)
    passed = {loan.id: index.match(loan, loan.partner.risk_tenths) for loan in stored}
    for filter_id, loan_filter in enumerate(chosen, 1):
        by_index = {loan_id for loan_id, ids in passed.items() if filter_id in ids}
        assert by_index == await selected_by_sql(loan_filter), loan_filter


def test_a_keyword_set_passes_only_when_every_word_is_inside_one_field() -> None:
    index = FilterIndex()
    index.put(1, LoanFilter(keywords=("solar", "kenya")))
    index.put(2, LoanFilter(keywords=("solar",)))
    index.put(3, LoanFilter(keywords=("lar ke",)))  # across two fields: never
    index.put(4, LoanFilter())
    row = {"name": "Amina", "use": "Solar lamps", "description": "She lives in KENYA.", "country_code": "KE"}
    row |= {"sector": Sector.RETAIL, "gender": Gender.FEMALE, "status": LoanStatus.FUNDRAISING, "term_months": 12}
    assert set(index.match(as_loan(row), 25)) == {1, 2, 4}
    assert set(index.match(as_loan(row | {"description": "Nairobi"}), 25)) == {2, 4}
    index.put(2, None)
    assert set(index.match(as_loan(row), 25)) == {1, 4}


def test_long_texts_and_many_words_give_the_same_answer() -> None:
    """Both ways of finding the words in a loan's text (asking each word; looking up every slice) agree."""
    row = {"name": "w0001 and w2999", "use": "x" * 10 + "w0500", "description": "w1234" + " pad" * 3000}
    row |= {"country_code": "KE", "sector": Sector.FOOD, "gender": Gender.MALE}
    row |= {"status": LoanStatus.FUNDRAISING, "term_months": TERMS[0]}
    for count in (3, 3000):  # few words, much text: each word asked; many words: every slice looked up
        chosen = {n: LoanFilter(keywords=(f"w{n:04d}", "w")) for n in (1, 2, 500, 1234, 2999)}
        chosen |= {n: LoanFilter(keywords=(f"w{n:04d}",)) for n in range(count)}
        index = FilterIndex()
        for filter_id, loan_filter in chosen.items():
            index.put(filter_id, loan_filter)
        for text in (row, row | {"description": "w1234"}):
            loan = as_loan(text)
            assert set(index.match(loan, 25)) == {i for i, f in chosen.items() if f.matches(loan, 25)}
