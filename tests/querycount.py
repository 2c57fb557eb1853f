"""Count the SQL statements the application sends, by listening to Tortoise's query log.

`count_round_trips` counts on PostgreSQL what reaches the server instead, at
the driver: BEGIN and COMMIT too, and the reset the pool sends when it takes
a connection back.

Tortoise logs every statement it executes on the `tortoise.db_client` logger at
DEBUG level (SQLite and asyncpg alike). `count_queries` attaches a handler to
that logger for the duration of a `with` block and collects the statements:

    with count_queries() as queries:
        await api.data(QUERY, token=token)
    assert len(queries) == 4, queries.report()
"""

import asyncio
import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asyncpg.connection import Connection

from models import Event
from models.bulk import select_every_column

LOGGER = "tortoise.db_client"
SQL_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class Queries(logging.Handler):
    """A logging handler that keeps the SQL statements it sees, in order."""

    def __init__(self, task: asyncio.Task | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []
        self.task = task

    def emit(self, record: logging.LogRecord) -> None:
        if self.task is not None and _running_task() is not self.task:
            return
        message = record.getMessage().lstrip()
        # Connection set-up and tear-down are logged too; only statements count.
        if message.upper().startswith(SQL_VERBS):
            self.statements.append(message)

    def __len__(self) -> int:
        return len(self.statements)

    def without_outbox_polls(self) -> list[str]:
        """The statements but the hub's outbox reads, which a timer makes in the background at any moment.

        A DataLoader's batch runs in a task of its own, so `this_task_only` would miss it.
        """
        # The reader's statement, as subscriptions/horizon.py builds it: derived, so a new column keeps it found.
        outbox_read = select_every_column(Event)
        return [s for s in self.statements if not s.startswith(outbox_read)]

    def selects(self) -> list[str]:
        return [s for s in self.statements if s.upper().startswith(("SELECT", "WITH"))]

    def report(self) -> str:
        """The statements, numbered, for an assertion message."""
        return "\n".join(f"{n:3}. {s[:300]}" for n, s in enumerate(self.statements, 1))


def _running_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return None


@contextmanager
def count_queries(*, this_task_only: bool = False) -> Iterator[Queries]:
    """Collect every SQL statement Tortoise runs inside the block.

    `this_task_only`: only those the running task sends (a request served in-process), not those of
    the app's background tasks (the outbox reader polls on a timer, so their number varies).
    """
    logger = logging.getLogger(LOGGER)
    handler = Queries(_running_task() if this_task_only else None)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    # Keep thousands of DEBUG lines out of pytest's captured log output.
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


# What asyncpg sends as one message to the server and waits for (BEGIN and COMMIT go through execute).
DRIVER_CALLS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")
# The statement asyncpg's pool sends when a connection comes back (Connection.get_reset_query).
POOL_RESET = "pg_advisory_unlock_all"


class RoundTrips:
    """The statements sent through asyncpg, in order: each one a round trip to PostgreSQL."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    @property
    def statements(self) -> list[str]:
        """What the application sent, without the pool's resets."""
        return [sql for sql in self.sent if POOL_RESET not in sql]

    @property
    def resets(self) -> int:
        return len(self.sent) - len(self.statements)

    def report(self) -> str:
        return "\n".join(f"{n:3}. {' '.join(sql.split())[:200]}" for n, sql in enumerate(self.sent, 1))


_counting: contextvars.ContextVar[RoundTrips | None] = contextvars.ContextVar("round_trips", default=None)


@contextmanager
def count_round_trips() -> Iterator[RoundTrips]:
    """Record every statement asyncpg sends to PostgreSQL on behalf of the code inside the block.

    The tasks a request starts inherit the block's context and count; the
    app's background tasks (the outbox hub polling), started before it, do not.
    """
    trips = RoundTrips()
    originals = {name: getattr(Connection, name) for name in DRIVER_CALLS}

    def counting(name: str) -> Any:
        original = originals[name]

        async def call(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            if _counting.get() is trips:
                trips.sent.append(query)
            return await original(self, query, *args, **kwargs)

        return call

    for name in DRIVER_CALLS:
        setattr(Connection, name, counting(name))
    token = _counting.set(trips)
    try:
        yield trips
    finally:
        _counting.reset(token)
        for name, original in originals.items():
            setattr(Connection, name, original)
