"""Database configuration, start-up and migrations."""

import os
from collections.abc import Iterator
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.migrations.api import migrate as run_migrations

from models.pool import PoolExhausted
from models.tortoise_internals import EXECUTOR_CACHE, expand_db_url, init_for_every_task

APP_LABEL = "lendgraph"
MODEL_MODULES = [
    "models.partners",
    "models.lenders",
    "models.loans",
    "models.ledger",
    "models.outbox",
    "models.searches",
    "models.notifications",
    "models.autolend",
]
DEFAULT_DATABASE_URL = "sqlite://lendgraph.sqlite3"


async def keep_session(connection: asyncpg.Connection) -> None:
    """Ready a pooled PostgreSQL connection for its next user: nothing to undo.

    asyncpg itself rolls back a transaction left open before calling this.
    Its default reset (RESET ALL, UNLISTEN *, CLOSE ALL and
    pg_advisory_unlock_all()) costs a round trip at every release, and
    tortoise releases after every statement run outside a transaction: a
    third of a lend's round trips. lendgraph changes no session setting and
    listens on no channel; the one session lock it takes (the auto-lend
    sweep's) it releases itself.
    """


def connection_settings(database_url: str) -> dict[str, Any]:
    """Tortoise's settings for the database at `database_url`: pooled connections kept open and as they
    are, and a bounded wait for one (models/pool.py)."""
    settings: dict[str, Any] = expand_db_url(database_url)
    if settings["engine"] == "tortoise.backends.asyncpg":
        credentials = settings["credentials"]
        credentials["reset"] = keep_session
        # asyncpg closes a connection idle for 300 s by default; the next burst opens it again and prepares
        # every statement anew, and each such burst leaves the worker's memory at a new high-water mark. The
        # pool is bounded (maxsize), so its connections stay open: `?max_inactive_connection_lifetime=`
        # (seconds) gives idle connections an end again.
        credentials["max_inactive_connection_lifetime"] = float(credentials.get("max_inactive_connection_lifetime", 0))
        if on_this_machine(credentials.get("host")) and "ssl" not in credentials and not os.environ.get("PGSSLMODE"):
            # asyncpg's default ("prefer") asks a server for TLS at every connection and every query
            # cancellation: a round trip for nothing on loopback, and a cancellation torn down mid-ask
            # leaves a future whose error nobody reads (asyncpg's TLSUpgradeProto), logged as an error.
            credentials["ssl"] = False
        settings["engine"] = "models.pool"  # the same client, whose wait for a pooled connection is bounded
    return settings


def on_this_machine(host: str | None) -> bool:
    """Whether PostgreSQL at `host` is reached over loopback or a Unix socket, where TLS protects nothing."""
    return host is None or host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_settings(database_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# How many times this process has connected: what lending/ledger.py reads once per connection
# (the world accounts' ids) is read again after a reconnect, which may reach another database.
connections_opened = 0


async def connect(database_url: str) -> None:
    global connections_opened
    connections_opened += 1
    # Tortoise caches compiled INSERTs by connection name, not by dialect: a process that
    # reconnects to another kind of database (the test suite does) must start afresh.
    EXECUTOR_CACHE.clear()
    # Request tasks reach the connections opened in the lifespan task.
    await init_for_every_task(tortoise_config(database_url))


async def disconnect() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply every committed migration to the database at `database_url`."""
    await run_migrations(config=tortoise_config(database_url))


# Read by the `tortoise` command line (`make migrations`), not by the application.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))


# SQLSTATE classes that mean "try again later", not "this request is wrong": PostgreSQL aborted the
# transaction (40: deadlock, serialization failure), the connection failed (08), the server is out
# of resources (53: too many connections) or shutting down or starting (57P01-57P03).
_TRANSIENT_SQLSTATES = ("40", "08", "53", "57P01", "57P02", "57P03")


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and the errors it wraps (tortoise wraps asyncpg's), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(error: BaseException) -> bool:
    """Whether `error` is a database failure that the same request may not meet a moment later."""
    for cause in causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
            return True
        if isinstance(cause, (ConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError)):
            return True
        if isinstance(cause, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(cause):
            return True
        # A pooled connection that the server ended (a restart) between two uses, whose end asyncpg has
        # not noticed yet: its protocol still waits for the answer that never came, and refuses the next
        # statement with this. Seen on the first requests after a PostgreSQL restart (tests/faults).
        if isinstance(cause, asyncpg.exceptions.InternalClientError) and "cannot switch to state" in str(cause):
            return True
    return False


def may_run_again(error: BaseException) -> bool:
    """Whether work idempotent by itself (a money mutation, by its key) should run again at once after
    `error`: a transient failure, but not a pool with no connection free, where running again would
    only wait as long again (the client gets the retryable 503 at once instead)."""
    return is_transient(error) and not any(isinstance(cause, PoolExhausted) for cause in causes(error))


def rolled_back(error: BaseException) -> bool:
    """Whether PostgreSQL aborted the transaction and rolled it back (SQLSTATE class 40): safe to run again."""
    return any(str(getattr(cause, "sqlstate", "")).startswith("40") for cause in causes(error))
