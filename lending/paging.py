"""Keyset pagination: stable pages over any ordered queryset.

A cursor names the last row seen by its sort key values, so a page never
skips or repeats rows when others are inserted meanwhile (unlike offsets).
"""

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeAlias, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from lending.errors import InvalidInput
from models.bulk import one_of, select_rows

T = TypeVar("T")
M = TypeVar("M", bound=Model)
SortValue: TypeAlias = datetime | int  # a sort key's value, as a cursor holds it
MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False
    is_time: bool = False

    def parse(self, value: object) -> SortValue:
        """A cursor value back in the field's type; InvalidInput if it is not one."""
        if self.is_time and isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        if not self.is_time and isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidInput("The cursor is malformed.", "after")


@dataclass(frozen=True)
class Order:
    """A named total order: its last key must be unique (the primary key)."""

    name: str
    keys: tuple[SortKey, ...]

    def __post_init__(self) -> None:
        if json.dumps(self.name) != f'"{self.name}"':  # encode_cursor writes the name as it is
            raise ValueError(f"an order's name is plain text: {self.name!r}")

    def order_by(self) -> list[str]:
        return [("-" if k.descending else "") + k.field for k in self.keys]


@dataclass
class Page(Generic[T]):
    items: list[T]
    order: Order
    has_next: bool
    has_previous: bool

    def cursor(self, index: int) -> str:
        """The cursor of the item at `index` (negative from the end), made when asked for: most reads of a
        page show none but its last."""
        item = self.items[index]
        return encode_cursor(self.order, [getattr(item, key.field) for key in self.order.keys])


def encode_cursor(order: Order, values: Sequence[object]) -> str:
    """The cursor of a row whose sort key values are `values`: `["<order name>", [values]]` in JSON (times in
    ISO 8601), in URL-safe base64. The JSON of integers and times is written here as json.dumps writes it:
    a page of 100 edges may show every one, and json.dumps cost most of such a page's cursors."""
    parts = []
    for value in values:
        if type(value) is int:
            parts.append(str(value))
        elif type(value) is datetime:
            parts.append(f'"{value.isoformat()}"')  # digits, "-", ":", "T", "." and "+": nothing to escape
        else:
            plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
            return _urlsafe_base64(json.dumps([order.name, plain]).encode())
    return _urlsafe_base64(f'["{order.name}", [{", ".join(parts)}]]'.encode())


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _urlsafe_base64(data: bytes) -> str:
    """base64.urlsafe_b64encode, without its two wrappers' calls (a page makes a cursor for every row)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).decode()


def decode_cursor(order: Order, cursor: str) -> list[object]:
    try:
        name, values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise InvalidInput("The cursor is malformed.", "after") from None
    if name != order.name or not isinstance(values, list) or len(values) != len(order.keys):
        raise InvalidInput("The cursor belongs to another list or sort order.", "after")
    return values


def _after(order: Order, values: Sequence[SortValue]) -> Q:
    """Rows strictly after `values` in `order`: (k1 > v1) or (k1 = v1 and k2 > v2) ..."""
    condition: Q | None = None
    for index in reversed(range(len(order.keys))):
        key = order.keys[index]
        beyond = _where(f"{key.field}__{'lt' if key.descending else 'gt'}", values[index])
        condition = beyond if condition is None else beyond | (_where(key.field, values[index]) & condition)
    assert condition is not None
    return condition


def _where(lookup: str, value: SortValue) -> Q:
    # join_type given by name, so that the type checker knows the lookup cannot stand for it.
    return Q(join_type=Q.AND, **{lookup: value})


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be 0 to {MAX_PAGE}.", "first")
    return first


def cursor_values(order: Order, cursor: str) -> list[SortValue]:
    """The sort key values a cursor of `order` names; InvalidInput if it is not one of its cursors."""
    return [key.parse(v) for key, v in zip(order.keys, decode_cursor(order, cursor), strict=True)]


async def page(query: QuerySet[M], order: Order, first: int | None, after: str | None) -> Page[M]:
    """One page of `query` in `order`: `first` rows after the `after` cursor."""
    size = check_first(first)
    if after is not None:
        query = query.filter(_after(order, cursor_values(order, after)))
    rows = await query.order_by(*order.order_by()).limit(size + 1)
    return page_of(rows, order, size, has_previous=after is not None)


async def first_pages(
    model: type[M], group: str, ids: Iterable[int], order: Order, first: int | None
) -> dict[int, Page[M]]:
    """The first page of each group of rows (those whose `group` column is one of `ids`), in one query.

    The rows of each group are numbered in `order` (ROW_NUMBER, in SQLite and PostgreSQL alike) and
    one row past the page is kept, to tell whether another page follows. So a page of loans that
    each show their first lenders costs one query, not one per loan.
    """
    size = check_first(first)
    wanted = sorted({int(i) for i in ids})
    pages: dict[int, list[M]] = {i: [] for i in wanted}
    if wanted:
        columns = model._meta.fields_db_projection
        by = ", ".join(f'"{columns[k.field]}" {"DESC" if k.descending else "ASC"}' for k in order.keys)
        column = columns[group]
        condition, values = one_of(column, wanted, 1)
        rows: list[M] = await select_rows(
            model,
            f'SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "{column}" ORDER BY {by}) AS page_row '
            f'FROM "{model._meta.db_table}" WHERE {condition}) numbered '
            f'WHERE page_row <= {size + 1} ORDER BY "{column}", page_row',
            values,
        )
        for row in rows:
            pages[getattr(row, group)].append(row)
    return {i: page_of(rows, order, size, has_previous=False) for i, rows in pages.items()}


def page_of(rows: list[T], order: Order, size: int, *, has_previous: bool) -> Page[T]:
    """The page of `rows` read in `order` with one row past `size` when another page follows."""
    return Page(items=rows[:size], order=order, has_next=len(rows) > size, has_previous=has_previous)
