"""Transactions that outlast the database's transient failures.

PostgreSQL may abort a transaction to break a deadlock or a serialization
conflict (SQLSTATE class 40). It has then rolled back everything, so running
the transaction again is safe, and it usually succeeds at once. The lock
order of lending.ledger rules out deadlocks among lendgraph's own
transactions; this is the net for the rest (an operator's session, a
statement that locks more than it seems to).

A failure that outlasts the retries reaches the API as a retryable error
(HTTP 503 with Retry-After; see graph/pipeline.py), never as an internal
one.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from tortoise.transactions import in_transaction

from models.db import rolled_back

T = TypeVar("T")
ATTEMPTS = 4
BACKOFF_SECONDS = 0.01  # doubled at each attempt, with jitter so that the rivals do not meet again
_unit: ContextVar[object | None] = ContextVar("atomic_unit", default=None)


def current_unit() -> object | None:
    """A token for the `atomic` block running now (None outside any): lending.ledger keeps its locks by it."""
    return _unit.get()


async def atomic(work: Callable[[], Awaitable[T]], *, retry_if: Callable[[BaseException], bool] = rolled_back) -> T:
    """Run `work` in one transaction; run it again, up to ATTEMPTS times, when `retry_if(error)`.

    By default only a transaction the database rolled back is run again: a
    lost connection may have lost the COMMIT's answer, not the COMMIT, and
    only work that is idempotent by itself (lending.idempotency) may be
    retried then. Must not be called inside another transaction: a savepoint
    cannot be retried once the transaction around it has aborted.
    """

    async def in_one_transaction() -> T:
        async with in_transaction():
            unit = _unit.set(object())
            try:
                return await work()
            finally:
                _unit.reset(unit)

    return await retried(in_one_transaction, retry_if=retry_if)


async def retried(work: Callable[[], Awaitable[T]], *, retry_if: Callable[[BaseException], bool] = rolled_back) -> T:
    """Await `work()` again, up to ATTEMPTS times in all, while it fails with an error `retry_if` accepts.

    `work` is one transaction: `atomic`'s, or a single statement sent outside
    any (which PostgreSQL runs as a transaction of its own).
    """
    attempt = 1
    while True:
        try:
            return await work()
        except Exception as error:
            if attempt >= ATTEMPTS or not retry_if(error):
                raise
        await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))
        attempt += 1
