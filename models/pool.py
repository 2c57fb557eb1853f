"""PostgreSQL's connection pool, whose wait for a free connection is bounded.

asyncpg's pool makes a caller wait for a free connection as long as it
takes: with every connection busy (a burst of requests, statements waiting
on a lock) a request would hang until one is released. Here the wait ends
after `acquire_timeout` seconds with PoolExhausted, which is transient
(models.db.is_transient): the client gets the retryable 503. The setting
comes from the database URL, `?acquire_timeout=` (seconds; 30 by default).
models/db.py names this module as the engine of PostgreSQL URLs.
"""

from typing import Any

import asyncpg

from models.tortoise_internals import AsyncpgDBClient

ACQUIRE_TIMEOUT = 30.0  # seconds; above the longest wait bench P6's thousands of concurrent calls see


class PoolExhausted(ConnectionError):
    """No pooled connection came free in time: the database is saturated, try again shortly."""


class BoundedPool:
    """An asyncpg pool whose `acquire` waits at most `seconds` (tortoise awaits it, never `async with`)."""

    def __init__(self, pool: asyncpg.Pool, seconds: float) -> None:
        self._pool, self._seconds = pool, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def acquire(self) -> Any:
        try:
            return await self._pool.acquire(timeout=self._seconds)
        except TimeoutError as error:
            raise PoolExhausted(f"no database connection came free within {self._seconds} s") from error


class BoundedAsyncpgClient(AsyncpgDBClient):
    """tortoise's asyncpg client, with a BoundedPool."""

    def __init__(self, *args: Any, acquire_timeout: float | str = ACQUIRE_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = float(acquire_timeout)

    async def create_pool(self, **kwargs: Any) -> Any:
        return BoundedPool(await super().create_pool(**kwargs), self.acquire_timeout)


client_class = BoundedAsyncpgClient  # what tortoise reads from an engine module
