"""Set-based statements: many rows written by one statement, whatever their number.

`with_rows` runs a statement that reads its rows from a table `v` given
in a WITH clause: on PostgreSQL one array per column, unnested (so the
number of bind parameters does not grow with the rows); on SQLite a VALUES
list, split only past SQLite's limit on bind parameters. The statement
itself is the same SQL on both (UPDATE ... FROM v, INSERT ... SELECT FROM v).

`select_rows` is the other side: a plain SELECT of a model's rows, for
readers on hot paths that would otherwise build the same query with the ORM
at every call. Its values are bind parameters, never written into the text:
on PostgreSQL the driver prepares each distinct text once per connection and
keeps at most a hundred, so a text that changed with its values cost a
round trip and a parse and plan on the server at every call, and pushed the
other statements out of the cache.
"""

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from tortoise import Tortoise
from tortoise.models import Model

from models.pool import BoundedAsyncpgClient

SQLITE_MAX_VARIABLES = 32_766  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32
M = TypeVar("M", bound=Model)
_PARAMETER = re.compile(r"\$\d+")


@functools.lru_cache(maxsize=256)
def _for_sqlite(sql: str) -> str:
    """A statement's text with SQLite's `?` in place of PostgreSQL's `$n`: worked out once per text, for the
    hot reads send the same few texts at every request."""
    return _PARAMETER.sub("?", sql)


def _on_postgres() -> bool:
    return Tortoise.get_connection("default").capabilities.dialect == "postgres"


async def with_rows(sql: str, columns: dict[str, str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Run `WITH v(<columns>) AS (<rows>) <sql>` and return what it returns (its RETURNING rows).

    `columns` maps each column of `v` to its PostgreSQL type (`jsonb` values
    are given as JSON text). `sql` takes no bind parameters of its own: every
    value comes through `v`. Nothing runs for no rows.
    """
    if not rows:
        return []
    connection = Tortoise.get_connection("default")
    names = ", ".join(columns)
    if _on_postgres():
        arrays = ", ".join(
            f"${n}::{'text' if kind == 'jsonb' else kind}[]" for n, kind in enumerate(columns.values(), 1)
        )
        picked = ", ".join(f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in columns.items())
        cte = f"WITH v({names}) AS (SELECT {picked} FROM unnest({arrays}) AS u({names})) "
        params = [[row[i] for row in rows] for i in range(len(columns))]
        return list(await connection.execute_query_dict(cte + sql, params))
    found: list[dict[str, Any]] = []
    per_statement = SQLITE_MAX_VARIABLES // len(columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        cte = f"WITH v({names}) AS (VALUES {', '.join([one] * len(chunk))}) "
        found += await connection.execute_query_dict(cte + sql, [value for row in chunk for value in row])
    return found


def _columns(model: type[Model]) -> list[str]:
    """Every column the ORM reads of `model`. Until Tortoise.init the model's foreign keys have no column
    yet (tortoise adds `loan_id` and the like when it connects): SQL built from the columns before then,
    at import time say, would silently read none, so that is refused."""
    meta = model._meta
    if any(meta.fields_map[name].source_field is None for name in meta.fk_fields):
        raise RuntimeError(f"{model.__name__}'s columns are read before Tortoise.init: build its SQL at first use")
    return list(meta.fields_db_projection.values())


@functools.cache
def select_every_column(model: type[Model]) -> str:
    """`SELECT <every column the ORM reads> FROM <table>`: derived, so a new field is read too."""
    columns = ", ".join(f'"{column}"' for column in _columns(model))
    return f'SELECT {columns} FROM "{model._meta.db_table}"'


def columns_as(model: type[Model], table: str, prefix: str = "") -> str:
    """Every column the ORM reads of `model`, from the table aliased `table`, each named `prefix` + its name:
    for a join that reads a second model's row beside the first (models.tortoise_internals.instance_from_row
    with that `prefix` makes its instance)."""
    return ", ".join(f'{table}."{column}" AS "{prefix}{column}"' for column in _columns(model))


async def select_rows(model: type[M], sql: str, values: Sequence[Any] = ()) -> list[M]:
    """The `model` instances `sql` reads, its values bound as `$1`, `$2`... in the order they appear.

    `sql` names every column the model has (start it with `select_every_column(model)`). On SQLite
    each `$n` becomes `?`, so there each parameter is written once and in order.
    """
    connection = Tortoise.get_connection("default")
    if not _on_postgres():
        sql = _for_sqlite(sql)
    found: list[M] = await connection.executor_class(model=model, db=connection).execute_select(sql, list(values))
    return found


async def select_values(sql: str, values: Sequence[Any] = ()) -> Sequence[Mapping[str, Any]]:
    """The rows `sql` reads, as the driver hands them over (each a read-only mapping of its columns' raw
    values; no dict is made per row), its values bound as in `select_rows`: for a hot read of a few
    columns, or a page read column by column, that needs no ORM query."""
    connection = Tortoise.get_connection("default")
    if isinstance(connection, BoundedAsyncpgClient):  # PostgreSQL, outside any transaction: on the driver
        return await connection.fetch(sql, values)
    if not _on_postgres():
        sql = _for_sqlite(sql)
    _, rows = await connection.execute_query(sql, list(values))
    return rows


def one_of(column: str, ids: Iterable[int], parameter: int, table: str = "") -> tuple[str, list[Any]]:
    """A condition `column` (of the table or alias `table`, if given) is one of `ids`, and its values: one
    array parameter (`$parameter`) on PostgreSQL, the same text for any number of ids; the ids written into
    the text on SQLite, where no statement crosses a network and no array type exists."""
    wanted = [int(i) for i in ids]  # ints only: on SQLite they are written into the statement
    name = f'{table}."{column}"' if table else f'"{column}"'
    if _on_postgres():
        return f"{name} = ANY(${parameter}::bigint[])", [wanted]
    return f"{name} IN ({', '.join(map(str, wanted))})", []
