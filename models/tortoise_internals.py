"""The parts of tortoise that models/ and lending/ need and tortoise does not publish, in one place.

tortoise's documented API (tortoise.Tortoise, models, fields, expressions'
Q, F and Subquery, functions, transactions, exceptions, querysets and the
migrations) does not reach a clause of our own SQL nor tortoise's caches, so
the names below come from modules and signatures a tortoise release may
change without notice. models/ and lending/ use them through here only, and
tests/test_dependency_internals.py checks each against the installed tortoise,
naming the module of ours to adapt when an upgrade moves one.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

# pypika-tortoise is the SQL builder tortoise compiles queries with (a dependency of tortoise, not
# of lendgraph): lending/filters.py builds its keyword clause (INSTR, STRPOS) from its terms.
from pypika_tortoise.terms import Criterion, Function
from tortoise import Tortoise, timezone

# tortoise's client for PostgreSQL: models/pool.py subclasses it to give it a pool whose wait is bounded.
from tortoise.backends.asyncpg import AsyncpgDBClient

# A transaction on a connection from that pool as tortoise's client makes it (the wrapper of the connection,
# and the context that acquires, begins and releases): models/pool.py makes it give the connection back when
# BEGIN fails, which tortoise 1.1 does not (it keeps the connection, and the task in a transaction never begun).
from tortoise.backends.asyncpg.client import TransactionWrapper
from tortoise.backends.base.client import TransactionContextPooled

# A database URL as the connection settings tortoise makes of it (engine and credentials): models/db.py
# adds an asyncpg pool setting that a URL cannot carry.
from tortoise.backends.base.config_generator import expand_db_url

# tortoise caches compiled INSERTs by connection name, not by dialect: models/db.py clears the cache
# before it connects, since a process may reconnect to another kind of database (the tests do).
from tortoise.backends.base.executor import EXECUTOR_CACHE

# The task's connections by name, where a transaction puts itself while it runs (models/pool.py).
from tortoise.connection import get_connections

# A clause tortoise has no lookup for (lending/filters.py): a Q subclass whose `resolve` turns the
# query's ResolveContext (the model and its table) into a QueryModifier (the WHERE criterion).
from tortoise.expressions import ResolveContext
from tortoise.fields import DatetimeField

# The field class tortoise's CharEnumField makes (CharEnumField is a function): instance_from_row looks a
# stored value up among the enum's members instead of calling the enum class.
from tortoise.fields.data import CharEnumFieldInstance
from tortoise.models import Model
from tortoise.query_utils import QueryModifier

__all__ = [
    "EXECUTOR_CACHE",
    "AsyncpgDBClient",
    "Criterion",
    "Function",
    "QueryModifier",
    "ResolveContext",
    "TransactionContextPooled",
    "TransactionWrapper",
    "expand_db_url",
    "get_connections",
    "init_for_every_task",
    "instance_from_row",
    "read_with",
    "row_reader",
]


M = TypeVar("M", bound=Model)
RELATED_PREFIX = "_"  # tortoise keeps the instance a foreign key `loan` names as `_loan`


# How a row becomes an instance of a model, by model, column prefix, extra columns and related instances: a
# function made once per connection (which columns need converting depends on the database), forgotten when
# tortoise connects again.
_BUILDERS: dict[tuple[type[Model], str, tuple[str, ...], tuple[str, ...]], Callable[..., Any]] = {}


def row_reader(
    model: type[M], prefix: str = "", extra: tuple[str, ...] = (), related: tuple[str, ...] = ()
) -> Callable[..., M]:
    """instance_from_row's function for `model`, `prefix`, `extra` and the foreign keys `related` names, to
    call as `read(row, *related_instances)` for each row of a page."""
    return _BUILDERS.get((model, prefix, extra, related)) or _builder(model, prefix, extra, related)


def _builder(model: type[M], prefix: str, extra: tuple[str, ...], related: tuple[str, ...]) -> Callable[..., M]:
    """A function making an instance of `model` from a row, written out column by column for the model (as
    dataclasses writes a class's `__init__`): tortoise's `_init_from_db` sorts the columns into those whose
    driver value is kept, those the field's type is called on when not null, and those the field's
    `to_python_value` converts; the loops over those lists cost a page of rows as much as the values. The
    commonest conversions are written inline: for every time, tortoise reads USE_TZ from the environment
    and the zone, and for every enum value it calls the enum class (its metaclass's `__call__`)."""
    meta = model._meta
    names: dict[str, Any] = {"new": model.__new__, "model": model}
    entries = [
        "'_partial': False",
        "'_saved_in_db': True",
        f"'_custom_generated_pk': {meta.db_pk_column not in meta.generated_db_fields}",
        "'_await_when_save': {}",
    ]
    for key, name, _ in meta.db_native_fields:
        entries.append(f"{name!r}: row[{prefix + key!r}]")
    for index, (key, name, field) in enumerate(meta.db_default_fields):
        names[f"kind{index}"] = field.field_type
        entries.append(f"{name!r}: None if (v := row[{prefix + key!r}]) is None else kind{index}(v)")
    for index, (key, name, field) in enumerate(meta.db_complex_fields):
        names[f"convert{index}"] = field.to_python_value
        value = f"row[{prefix + key!r}]"
        if type(field) is DatetimeField and timezone.get_use_tz():
            # asyncpg's aware times are in UTC: converted here at once, anything else by the converter.
            names["zone"], names["datetime"], names["utc"] = timezone.get_default_timezone(), datetime, UTC
            value = (
                f"v.astimezone(zone) if type(v := {value}) is datetime and v.tzinfo is utc"
                f" else None if v is None else convert{index}(v)"
            )
        elif isinstance(field, CharEnumFieldInstance):  # a stored member's value, looked up at once
            names[f"members{index}"] = {member.value: member for member in field.enum_type}
            value = f"members{index}[v] if type(v := {value}) is str and v in members{index} else convert{index}(v)"
        else:
            value = f"convert{index}({value})"
        entries.append(f"{name!r}: {value}")
    entries += [f"{name!r}: row[{prefix + name!r}]" for name in extra]
    # Where tortoise's foreign-key setter keeps the instance (it would also set the key, which the row holds,
    # through a `__setattr__` that checks the instance's type, which is known here).
    entries += [f"{RELATED_PREFIX + name!r}: related{index}" for index, name in enumerate(related)]
    body = ",\n        ".join(entries)
    parameters = ", ".join(["row", *(f"related{index}" for index in range(len(related)))])
    source = f"def build({parameters}):\n    instance = new(model)\n"
    source += f"    instance.__dict__.update({{\n        {body}\n    }})\n    return instance\n"
    exec(compile(source, f"<instance of {model.__name__}>", "exec"), names)
    found: Callable[..., M] = names["build"]
    _BUILDERS[model, prefix, extra, related] = found
    return found


def instance_from_row(
    model: type[M],
    row: Mapping[str, Any],
    extra: tuple[str, ...] = (),
    prefix: str = "",
    related: tuple[tuple[str, Model], ...] = (),
) -> M:
    """A `model` instance from a row read by SQL of our own (every column, by its column name after
    `prefix`), as tortoise makes one for a query of its own; `extra` columns become plain attributes;
    `related` (foreign key name, instance) are the instances the row's foreign keys name, read with it.

    tortoise publishes no constructor for a row read outside its querysets (Model(**kwargs) treats the
    values as a new, unsaved row and converts each again). This is its executors' classmethod
    `_init_from_db` unrolled (tests/test_model_rows.py compares the two on every model): a portfolio
    page of a hundred shares with their loans and partners makes three hundred instances, and
    tortoise's own way (its bookkeeping attributes set through the model's `__setattr__`, after the
    columns of each model were picked out of the row) cost more than the query.
    """
    read = row_reader(model, prefix, extra, tuple(name for name, _ in related))
    return read(row, *(other for _, other in related))


def read_with(instance: Model, name: str) -> Model | None:
    """The instance the foreign key `name` of `instance` names, if it was read with it (instance_from_row's
    `related`, tortoise's select_related or fetch_related); None if it was not."""
    found = instance.__dict__.get(RELATED_PREFIX + name)
    return found if isinstance(found, Model) else None


async def init_for_every_task(config: dict[str, Any]) -> None:
    """Tortoise.init, with connections that every task reaches, not only the task that opened them.

    The lifespan task connects and request tasks query. tortoise keeps its
    connections per task unless told otherwise by a private keyword (its own
    RegisterTortoise for Starlette and FastAPI passes it the same way).
    """
    await Tortoise.init(config=config, _enable_global_fallback=True)
    _BUILDERS.clear()  # which columns the driver hands over as they are depends on the database
