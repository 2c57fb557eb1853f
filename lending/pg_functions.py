"""The PostgreSQL functions kept beside the code that calls them (lending/*.sql).

`lendgraph migrate` (lending.ledger.prepare_database) installs them after the
migrations, each file with CREATE OR REPLACE, so a database always runs the
functions of the code that calls them. On SQLite the same rules run in Python.
"""

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any, TypeVar

from tortoise import Tortoise
from tortoise.fields import DatetimeField
from tortoise.models import Model

from lending.errors import InsufficientCredit
from lending.transactions import current_unit, retried
from models.bulk import select_values
from models.db import causes, may_run_again
from models.tortoise_internals import instance_from_row

M = TypeVar("M", bound=Model)
# The SQLSTATEs the money functions raise; either way the function's transaction rolled back.
DUPLICATE_COMMITTED = "LG001"  # a concurrent duplicate of the request stored the key first
CREDIT_SPENT = "LG002"  # the credit went between the read and the lock; DETAIL: what remained

FILES = (
    "lend.sql",  # lending.funding: a lend in one round trip
    "credit.sql",  # lending.accounts: a deposit or withdrawal in one round trip
)


def source(name: str) -> str:
    """The SQL of one of FILES."""
    return resources.files("lending").joinpath(name).read_text(encoding="utf-8")


async def install() -> None:
    """Create or replace every function on the connected database, if it is PostgreSQL."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "postgres":
        return
    for name in FILES:
        await connection.execute_script(source(name))


def on_postgres() -> bool:
    """Whether the connected database runs these functions (on SQLite the rules run in Python)."""
    return Tortoise.get_connection("default").capabilities.dialect == "postgres"


async def call(statement: str, arguments: Sequence[Any], *, needed: int) -> dict[str, Any]:
    """One call of a money function, outside any transaction (one round trip): its JSON answer.

    Runs again on the database's transient failures (the request's key makes
    that safe), and once more when a concurrent duplicate of the request
    stored the key first: the second call finds it and answers the stored
    result. Credit spent between the function's read and its lock is
    InsufficientCredit for `needed` cents.
    """
    if current_unit() is not None:
        raise RuntimeError("a money function runs as a transaction of its own, not inside transactions.atomic")

    async def once() -> dict[str, Any]:
        rows = await select_values(statement, arguments)
        answer = rows[0]["answer"]
        return dict(json.loads(answer) if isinstance(answer, str) else answer)

    for _ in range(2):
        try:
            return await retried(once, retry_if=may_run_again)
        except Exception as error:
            sqlstate, detail = raised(error)
            if sqlstate == DUPLICATE_COMMITTED:
                continue
            if sqlstate == CREDIT_SPENT:
                raise InsufficientCredit(needed=needed, available=int(detail or 0)) from None
            raise
    raise RuntimeError(f"{statement} found its key stored twice by concurrent requests")


def as_model(model: type[M], row: dict[str, Any] | None) -> M | None:
    """A row a function returned as JSON (column: value), as the model's instance: a stored row, each value
    converted by its field as the ORM converts what it reads. JSON carries times as ISO 8601 text, which
    `datetime.fromisoformat` reads in a tenth of a microsecond (tortoise's parser took six, a third of
    what a lend's answer cost to read)."""
    if row is None:
        return None
    times = _time_columns(model)
    return instance_from_row(
        model,
        {name: datetime.fromisoformat(value) if name in times and value else value for name, value in row.items()},
    )


@functools.cache
def _time_columns(model: type[Model]) -> frozenset[str]:
    return frozenset(
        field.source_field or name for name, field in model._meta.fields_map.items() if isinstance(field, DatetimeField)
    )


def raised(error: BaseException) -> tuple[str | None, str | None]:
    """The SQLSTATE and DETAIL of the database error behind `error`, if one is."""
    for cause in causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate, getattr(cause, "detail", None)
    return None, None
