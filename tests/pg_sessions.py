"""What other PostgreSQL sessions of the test's database are doing, seen from a bare connection, and a
session's calls failing as PostgreSQL fails a deadlocked one.

Concurrency tests hold a lock on one connection and need to know that a request
has reached it (it waits) or never does: pg_stat_activity shows both, with no
sleep that guesses. The connection that holds the lock may ask, though inside
its transaction it must first drop the statistics snapshot of its first look.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise

from tests.polling import until


async def lock_waiters(connection: asyncpg.Connection, running: str = "") -> int:
    """How many other sessions of this database wait for a lock (only those whose statement contains `running`)."""
    # Inside a transaction PostgreSQL shows pg_stat_activity as it was at the first look, until told to forget.
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    count: int = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND wait_event_type = 'Lock' AND strpos(query, $1) > 0",
        running,
    )
    return count


async def until_waiting(connection: asyncpg.Connection, running: str) -> None:
    """Return once one session of this database waits for a lock while running a statement containing `running`."""
    await until(lambda: _one_waits(connection, running), f"a session running {running} to wait for a lock")


async def _one_waits(connection: asyncpg.Connection, running: str) -> bool:
    return await lock_waiters(connection, running) == 1


@contextlib.contextmanager
def deadlocking(monkeypatch: pytest.MonkeyPatch, function: str, failures: int) -> Iterator[list[str]]:
    """The first `failures` calls of the SQL function `function` fail as PostgreSQL's deadlock detection
    would fail them; yields the list of the function's calls made."""
    connection = Tortoise.get_connection("default")
    real, calls = connection.fetch, []  # the money functions are sent on the driver (models.pool)

    async def fetch(query: str, values: Any) -> Any:
        if function in query:
            calls.append(query)
            if len(calls) <= failures:
                raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return await real(query, values)

    with monkeypatch.context() as patched:
        patched.setattr(connection, "fetch", fetch)
        yield calls
