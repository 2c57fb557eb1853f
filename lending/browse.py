"""The `loans` list as SQL of its own: a page of loans with their partners, and the count.

Browsing is most of what visitors do, and every browse had its query built
by the ORM (filters resolved, joins planned, SQL rendered) at a CPU cost
above the database's own for running it. Here each clause of a LoanFilter
(lending.filters, the one definition of what a filter means) becomes one
SQL condition written directly, with every value a bind parameter. On
PostgreSQL the text depends only on the status clause and the order (see
_where), so the driver prepares a handful of texts once per connection.
"""

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from tortoise import Tortoise

from lending.filters import TEXT_FIELDS, Clause, LoanFilter, keyword_sql
from lending.paging import Order, Page, SortValue, check_first, cursor_values, page_of
from models import Loan, Partner
from models.bulk import columns_as
from models.tortoise_internals import row_reader

PARTNER_PREFIX = "partner."  # how the page's partner columns are named (tortoise's select_related does the same)
# A sort key that is not a column: the amount still to raise.
EXPRESSIONS = {"remaining_cents": '(l."amount_cents" - l."funded_cents")'}


class Parameters:
    """Bind parameters, numbered: `$n` on PostgreSQL, `?n` on SQLite (so one may be named twice)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"{'$' if self.postgres else '?'}{len(self.values)}"

    def one_of(self, column: str, wanted: Sequence[Any]) -> str:
        """`column` is one of `wanted`: one array parameter on PostgreSQL, one per value on SQLite."""
        if self.postgres:
            return f"{column} = ANY({self.add(list(wanted))}::text[])"
        return f"{column} IN ({', '.join(self.add(value) for value in wanted)})"


COMPARISONS = {"gte": ">=", "lte": "<="}
# The clauses a filter may lack that PostgreSQL's text names all the same (see _where); a status
# stays a clause of the text's own, so that its indexes (status, listed_at / expires_at) serve.
OPTIONAL = (
    ("country_code", "in"),
    ("sector", "in"),
    ("gender", "in"),
    ("partner__risk_tenths", "gte"),
    ("partner__risk_tenths", "lte"),
    ("term_months", "lte"),
)


def _column(field: str) -> str:
    return 'p."risk_tenths"' if field == "partner__risk_tenths" else f'l."{field}"'


def _plain(values: Sequence[Any]) -> list[Any]:
    return [v.value if isinstance(v, Enum) else v for v in values]


def _condition(clause: Clause, parameters: Parameters) -> str:
    if clause.field == "text":
        word = parameters.add(clause.value)
        return "(" + " OR ".join(keyword_sql(f'l."{field}"', word, parameters.postgres) for field in TEXT_FIELDS) + ")"
    if clause.op == "in":
        return parameters.one_of(_column(clause.field), _plain(clause.value))
    return f"{_column(clause.field)} {COMPARISONS[clause.op]} {parameters.add(clause.value)}"


def _optional(field: str, op: str, value: Any, parameters: Parameters) -> str:
    """A clause's condition on PostgreSQL that every loan passes when `value` is None (the filter lacks it)."""
    if op == "in":
        wanted = f"{parameters.add(None if value is None else _plain(value))}::text[]"
        return f"({wanted} IS NULL OR {_column(field)} = ANY({wanted}))"
    bound = f"{parameters.add(value)}::int"
    return f"({bound} IS NULL OR {_column(field)} {COMPARISONS[op]} {bound})"


def _where(loan_filter: LoanFilter | None, parameters: Parameters) -> list[str]:
    """The filter's conditions.

    On PostgreSQL the text names every clause a filter may have, with a NULL parameter (or no
    keywords) where the filter lacks one, so one text serves every filter of a status and order.
    asyncpg prepares each text once per connection and keeps a hundred: with a text per shape of
    filter (well over a hundred), those caches, and the workers' memory, filled for half an hour.
    SQLite keeps no prepared statements: there the text holds the filter's own clauses.
    """
    clauses = loan_filter.uncached_clauses() if loan_filter else ()
    if not parameters.postgres:
        return [_condition(clause, parameters) for clause in clauses]
    given = {(clause.field, clause.op): clause.value for clause in clauses if clause.field != "text"}
    found = [_condition(Clause("status", "in", given["status", "in"]), parameters)] if ("status", "in") in given else []
    found += [_optional(field, op, given.get((field, op)), parameters) for field, op in OPTIONAL]
    words = f"{parameters.add([clause.value for clause in clauses if clause.field == 'text'])}::text[]"
    matches = " OR ".join(keyword_sql(f'l."{field}"', "k.word", True) for field in TEXT_FIELDS)
    found.append(f"NOT EXISTS (SELECT 1 FROM unnest({words}) AS k(word) WHERE NOT ({matches}))")
    return found


def _key(field: str) -> str:
    return EXPRESSIONS.get(field) or f'l."{field}"'


def _db_value(field: str, value: SortValue) -> Any:
    # Times as the ORM writes them (on SQLite, text compared as text).
    return Loan._meta.fields_map[field].to_db_value(value, Loan) if isinstance(value, datetime) else value


def _after(order: Order, values: Sequence[SortValue], parameters: Parameters) -> str:
    """Rows strictly after `values` in `order`: (k1 > v1) or (k1 = v1 and (k2 > v2 ...))."""
    condition = ""
    for index in reversed(range(len(order.keys))):
        key = order.keys[index]
        value = parameters.add(_db_value(key.field, values[index]))
        beyond = f"{_key(key.field)} {'<' if key.descending else '>'} {value}"
        if condition:
            beyond = f"({beyond} OR ({_key(key.field)} = {value} AND {condition}))"
        condition = beyond
    return condition


async def loan_page(
    loan_filter: LoanFilter | None, order: Order, first: int | None, after: str | None
) -> tuple[Page[Loan], list[Partner]]:
    """One page of the loans passing `loan_filter` in `order`, and the partners of its loans, in one query."""
    size = check_first(first)
    connection = Tortoise.get_connection("default")
    parameters = Parameters(connection.capabilities.dialect == "postgres")
    conditions = _where(loan_filter, parameters)
    if after is not None:
        conditions.append(_after(order, cursor_values(order, after), parameters))
    by = ", ".join(f"{_key(k.field)} {'DESC' if k.descending else 'ASC'}" for k in order.keys)
    sql = (
        f"SELECT {columns_as(Loan, 'l')}, {columns_as(Partner, 'p', PARTNER_PREFIX)}, "
        f'{EXPRESSIONS["remaining_cents"]} AS "remaining_cents" '
        'FROM "loan" l JOIN "partner" p ON p."id" = l."partner_id"'
    )
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += f" ORDER BY {by} LIMIT {parameters.add(size + 1)}"
    _, rows = await connection.execute_query(sql, parameters.values)  # records: no dict made per row
    loans: list[Loan] = []
    partners: dict[int, Partner] = {}  # a page's loans share a few partners: one instance each
    read_partner = row_reader(Partner, PARTNER_PREFIX)
    read_loan = row_reader(Loan, extra=("remaining_cents",), related=("partner",))
    for row in rows[:size]:  # the row past the page only tells that one follows
        partner = partners.get(row["partner_id"])
        if partner is None:
            partner = partners[row["partner_id"]] = read_partner(row)
        loans.append(read_loan(row, partner))
    loans.extend(map(row_reader(Loan, extra=("remaining_cents",)), rows[size:]))
    return page_of(loans, order, size, has_previous=after is not None), list(partners.values())


async def loan_count(loan_filter: LoanFilter | None) -> int:
    """How many loans pass `loan_filter`, over all pages."""
    connection = Tortoise.get_connection("default")
    parameters = Parameters(connection.capabilities.dialect == "postgres")
    conditions = _where(loan_filter, parameters)
    # Joined as the page is (a risk clause names the partner); every loan has its partner.
    sql = 'SELECT COUNT(*) AS "n" FROM "loan" l JOIN "partner" p ON p."id" = l."partner_id"'
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    rows = await connection.execute_query_dict(sql, parameters.values)
    return int(rows[0]["n"])
