"""Which loans a LoanFilter selects, and in what order.

A filter compiles to a list of clauses. The same clauses become a SQL
condition (the `loans` query) and a Python test of one loan (live listings,
saved searches): one definition, so both always mean the same thing.
"""

import functools
import operator
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

from lending.countries import normalize_country
from lending.errors import InvalidInput
from lending.paging import Order, SortKey
from lending.partners import parse_risk_rating
from lending.text import clean_text
from models import Gender, Loan, LoanStatus, Sector
from models.tortoise_internals import Criterion, Function, QueryModifier, ResolveContext

MAX_KEYWORDS = 10
MAX_TERM_MONTHS = 120  # as a loan's term


@dataclass(frozen=True)
class LoanFilter:
    countries: tuple[str, ...] = ()
    sectors: tuple[Sector, ...] = ()
    genders: tuple[Gender, ...] = ()
    risk_min_tenths: int | None = None
    risk_max_tenths: int | None = None
    keywords: tuple[str, ...] = ()
    statuses: tuple[LoanStatus, ...] = ()
    max_term_months: int | None = None

    @classmethod
    def build(
        cls,
        countries: list[str] | None = None,
        sectors: list[Sector] | None = None,
        genders: list[Gender] | None = None,
        risk_rating_min: Decimal | str | None = None,
        risk_rating_max: Decimal | str | None = None,
        keywords: list[str] | None = None,
        statuses: list[LoanStatus] | None = None,
        max_term_months: int | None = None,
    ) -> "LoanFilter":
        """Validate raw filter input; unknown countries and bad ranges raise InvalidInput."""
        if len(keywords or ()) > MAX_KEYWORDS:
            raise InvalidInput(f"At most {MAX_KEYWORDS} keywords of up to 50 characters.", "keywords")
        cleaned = (fold_case(clean_text(w, "keywords", 50, required=False)) for w in keywords or ())
        words = tuple(w for w in cleaned if w)
        if max_term_months is not None and not 1 <= max_term_months <= MAX_TERM_MONTHS:
            raise InvalidInput(f"maxTermMonths must be 1 to {MAX_TERM_MONTHS}.", "maxTermMonths")
        low = parse_risk_rating(risk_rating_min, "riskRatingMin") if risk_rating_min is not None else None
        high = parse_risk_rating(risk_rating_max, "riskRatingMax") if risk_rating_max is not None else None
        if low is not None and high is not None and low > high:
            raise InvalidInput("riskRatingMin is above riskRatingMax.", "riskRatingMin")
        return cls(
            countries=tuple(sorted({normalize_country(c, "countries") for c in countries or ()})),
            sectors=tuple(sorted(set(sectors or ()))),
            genders=tuple(sorted(set(genders or ()))),
            risk_min_tenths=low,
            risk_max_tenths=high,
            keywords=words,
            statuses=tuple(sorted(set(statuses or ()))),
            max_term_months=max_term_months,
        )

    def to_json(self) -> dict[str, Any]:
        """A plain form for storing (saved searches, auto-lend rules)."""
        return {
            "countries": list(self.countries),
            "sectors": [s.value for s in self.sectors],
            "genders": [g.value for g in self.genders],
            "risk_min_tenths": self.risk_min_tenths,
            "risk_max_tenths": self.risk_max_tenths,
            "keywords": list(self.keywords),
            "statuses": [s.value for s in self.statuses],
            "max_term_months": self.max_term_months,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LoanFilter":
        return cls(
            countries=tuple(data["countries"]),
            sectors=tuple(Sector(s) for s in data["sectors"]),
            genders=tuple(Gender(g) for g in data["genders"]),
            risk_min_tenths=data["risk_min_tenths"],
            risk_max_tenths=data["risk_max_tenths"],
            keywords=tuple(data["keywords"]),
            statuses=tuple(LoanStatus(s) for s in data["statuses"]),
            max_term_months=data["max_term_months"],
        )

    def clauses(self) -> tuple["Clause", ...]:
        """The filter's clauses, remembered for the filters judged again and again (saved searches,
        auto-lend rules, live listings); a filter used once takes `uncached_clauses`."""
        return _clauses(self)

    def uncached_clauses(self) -> tuple["Clause", ...]:
        """The filter's clauses, built anew: for a filter a request uses once (browsing), which kept
        in the cache would only push out the ones used again (4,096 of them filled a worker's
        memory for half an hour of browsing)."""
        found = []
        if self.countries:
            found.append(Clause("country_code", "in", self.countries))
        if self.sectors:
            found.append(Clause("sector", "in", self.sectors))
        if self.genders:
            found.append(Clause("gender", "in", self.genders))
        if self.statuses:
            found.append(Clause("status", "in", self.statuses))
        if self.risk_min_tenths is not None:
            found.append(Clause("partner__risk_tenths", "gte", self.risk_min_tenths))
        if self.risk_max_tenths is not None:
            found.append(Clause("partner__risk_tenths", "lte", self.risk_max_tenths))
        if self.max_term_months is not None:
            found.append(Clause("term_months", "lte", self.max_term_months))
        # Folded here as well, so that a filter made without build() (by hand, from_json) means the same.
        found.extend(Clause("text", "contains", fold_case(word)) for word in self.keywords)
        return tuple(found)

    def as_q(self) -> Q:
        """The filter as a SQL condition on Loan."""
        return Q(*(clause.as_q() for clause in self.uncached_clauses()))

    def matches(self, loan: Loan, risk_tenths: int, status: LoanStatus | None = None) -> bool:
        """Whether one loan (of a partner with `risk_tenths`) passes the filter.

        `status` judges the loan as it was at some moment (a listing, when listed).
        """
        return all(clause.holds(loan, risk_tenths, status) for clause in self.clauses())


@functools.lru_cache(maxsize=4096)
def _clauses(loan_filter: LoanFilter) -> tuple["Clause", ...]:
    # Filters are frozen and hashable: live listings judge thousands of the same few.
    return loan_filter.uncached_clauses()


TEXT_FIELDS = ("name", "use", "description")
_PYTHON_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "in": lambda value, wanted: value in wanted,
    "gte": operator.ge,
    "lte": operator.le,
    "contains": lambda texts, word: any(word in text for text in texts),
}

# A keyword matches when it appears inside the name, the use or the description (never across two
# of them), ignoring the case of the ASCII letters A-Z alone. Wider case folding cannot mean the same
# everywhere: Python's str.lower folds all of Unicode ("İ" becomes two characters), SQLite's LOWER,
# UPPER and LIKE fold ASCII only, and PostgreSQL's follow the database's locale ("É" folds under
# C.UTF-8, "I" lowers to a dotless i, U+0131, under a Turkish one). So every side folds A-Z by an
# explicit table and compares every other character as it is, by code point.
_UPPER, _LOWER = string.ascii_uppercase, string.ascii_lowercase
_ASCII_FOLD = str.maketrans(_UPPER, _LOWER)


def fold_case(text: str) -> str:
    """`text` with the ASCII letters A-Z lowered and every other character as it is."""
    return text.translate(_ASCII_FOLD)


def keyword_sql(column: str, word: str, postgres: bool) -> str:
    """SQL text for "`column`, folded, holds the folded keyword `word` (a bind parameter)": _KeywordQ's
    condition, written out for statements built without the ORM (lending/browse.py)."""
    if postgres:
        return f"STRPOS(TRANSLATE({column}, '{_UPPER}', '{_LOWER}'), {word}) > 0"
    return f"INSTR(LOWER({column}), {word}) > 0"


class _KeywordQ(Q):
    """SQL for "a text field, folded, holds `word`" (already folded).

    A substring search (INSTR, STRPOS), not LIKE: "%", "_" and "\\" in a keyword are plain characters.
    SQLite's built-in LOWER folds ASCII only; PostgreSQL's LOWER would follow the locale, so TRANSLATE.
    """

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    def __bool__(self) -> bool:
        return True

    def __invert__(self) -> "_KeywordQ":
        negated = _KeywordQ(self.word)
        negated._is_negated = not self._is_negated
        return negated

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _KeywordQ) and (other.word, other._is_negated) == (self.word, self._is_negated)

    def resolve(self, resolve_context: ResolveContext) -> QueryModifier:
        dialect = resolve_context.model._meta.db.capabilities.dialect
        columns = resolve_context.model._meta.fields_db_projection
        found: Criterion | None = None
        for field in TEXT_FIELDS:
            column = resolve_context.table[columns[field]]
            if dialect == "sqlite":
                position = Function("INSTR", Function("LOWER", column), self.word)
            elif dialect == "postgres":
                position = Function("STRPOS", Function("TRANSLATE", column, _UPPER, _LOWER), self.word)
            else:
                raise NotImplementedError(f"keyword search on {dialect}")
            found = position > 0 if found is None else found | (position > 0)
        modifier = QueryModifier(where_criterion=found)
        return ~modifier if self._is_negated else modifier


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any

    def as_q(self) -> Q:
        if self.field == "text":
            return _KeywordQ(self.value)
        return Q(**{f"{self.field}__{self.op}": self.value})

    def holds(self, loan: Loan, risk_tenths: int, status: LoanStatus | None = None) -> bool:
        if self.field == "text":
            value: Any = [fold_case(getattr(loan, f)) for f in TEXT_FIELDS]
        elif self.field == "partner__risk_tenths":
            value = risk_tenths
        elif self.field == "status" and status is not None:
            value = status.value
        else:
            value = getattr(loan, self.field)
            value = value.value if isinstance(value, Enum) else value
        wanted = tuple(v.value if isinstance(v, Enum) else v for v in self.value) if self.op == "in" else self.value
        return _PYTHON_OPS[self.op](value, wanted)


class LoanSort(StrEnum):
    NEWEST = "NEWEST"
    EXPIRING_SOON = "EXPIRING_SOON"
    AMOUNT_LEFT = "AMOUNT_LEFT"
    LOAN_AMOUNT = "LOAN_AMOUNT"
    LOAN_AMOUNT_DESC = "LOAN_AMOUNT_DESC"


LOAN_ORDERS = {
    LoanSort.NEWEST: Order("newest", (SortKey("listed_at", True, is_time=True), SortKey("id", True))),
    LoanSort.EXPIRING_SOON: Order("expiring", (SortKey("expires_at", is_time=True), SortKey("id"))),
    LoanSort.AMOUNT_LEFT: Order("left", (SortKey("remaining_cents"), SortKey("id"))),
    LoanSort.LOAN_AMOUNT: Order("amount", (SortKey("amount_cents"), SortKey("id"))),
    LoanSort.LOAN_AMOUNT_DESC: Order("amount_desc", (SortKey("amount_cents", True), SortKey("id", True))),
}
# A loan's shares (its lenders), in the order they joined it.
LOAN_LENDERS = Order("loan_lenders", (SortKey("id"),))


def loan_query(loan_filter: LoanFilter | None) -> QuerySet[Loan]:
    """Loans passing the filter, with `remaining_cents` for sorting by amount left."""
    query = Loan.annotate(remaining_cents=F("amount_cents") - F("funded_cents"))
    return query.filter(loan_filter.as_q()) if loan_filter else query
