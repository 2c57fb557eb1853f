"""Count the SQL statements the application sends, by listening to Tortoise's query log.

Tortoise logs every statement it executes on the `tortoise.db_client` logger at
DEBUG level (SQLite and asyncpg alike). `count_queries` attaches a handler to
that logger for the duration of a `with` block and collects the statements:

    with count_queries() as queries:
        await api.data(QUERY, token=token)
    assert len(queries) == 4, queries.report()
"""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

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
