"""The parts of tortoise that models/ and lending/ need and tortoise does not publish, in one place.

tortoise's documented API (tortoise.Tortoise, models, fields, expressions'
Q, F and Subquery, functions, transactions, exceptions, querysets and the
migrations) does not reach a clause of our own SQL nor tortoise's caches, so
the names below come from modules and signatures a tortoise release may
change without notice. models/ and lending/ use them through here only, and
tests/test_dependency_internals.py checks each against the installed tortoise,
naming the module of ours to adapt when an upgrade moves one.
"""

from typing import Any, TypeVar

# pypika-tortoise is the SQL builder tortoise compiles queries with (a dependency of tortoise, not
# of lendgraph): lending/filters.py builds its keyword clause (INSTR, STRPOS) from its terms.
from pypika_tortoise.terms import Criterion, Function
from tortoise import Tortoise

# tortoise's client for PostgreSQL: models/pool.py subclasses it to give it a pool whose wait is bounded.
from tortoise.backends.asyncpg import AsyncpgDBClient

# A database URL as the connection settings tortoise makes of it (engine and credentials): models/db.py
# adds an asyncpg pool setting that a URL cannot carry.
from tortoise.backends.base.config_generator import expand_db_url

# tortoise caches compiled INSERTs by connection name, not by dialect: models/db.py clears the cache
# before it connects, since a process may reconnect to another kind of database (the tests do).
from tortoise.backends.base.executor import EXECUTOR_CACHE

# A clause tortoise has no lookup for (lending/filters.py): a Q subclass whose `resolve` turns the
# query's ResolveContext (the model and its table) into a QueryModifier (the WHERE criterion).
from tortoise.expressions import ResolveContext
from tortoise.models import Model
from tortoise.query_utils import QueryModifier

__all__ = [
    "EXECUTOR_CACHE",
    "AsyncpgDBClient",
    "Criterion",
    "Function",
    "QueryModifier",
    "ResolveContext",
    "expand_db_url",
    "init_for_every_task",
    "instance_from_row",
]


M = TypeVar("M", bound=Model)


def instance_from_row(model: type[M], row: dict[str, Any], extra: tuple[str, ...] = ()) -> M:
    """A `model` instance from a row read by SQL of our own (every column, by its column name), as
    tortoise makes one for a query of its own; `extra` columns become plain attributes.

    tortoise publishes no constructor for a row read outside its querysets (Model(**kwargs) treats the
    values as a new, unsaved row and converts each again); its executors use this classmethod.
    """
    instance = model._init_from_db(**{k: v for k, v in row.items() if k not in extra})
    for name in extra:
        object.__setattr__(instance, name, row[name])
    return instance


async def init_for_every_task(config: dict[str, Any]) -> None:
    """Tortoise.init, with connections that every task reaches, not only the task that opened them.

    The lifespan task connects and request tasks query. tortoise keeps its
    connections per task unless told otherwise by a private keyword (its own
    RegisterTortoise for Starlette and FastAPI passes it the same way).
    """
    await Tortoise.init(config=config, _enable_global_fallback=True)
