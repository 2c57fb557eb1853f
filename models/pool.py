"""PostgreSQL's connection pool: a bounded wait for a connection, and one connection per request.

asyncpg's pool makes a caller wait for a free connection as long as it
takes: with every connection busy (a burst of requests, statements waiting
on a lock) a request would hang until one is released. Here the wait ends
after `acquire_timeout` seconds with PoolExhausted, which is transient
(models.db.is_transient): the client gets the retryable 503. The setting
comes from the database URL, `?acquire_timeout=` (seconds; 30 by default).

tortoise takes a connection from the pool for every statement run outside a
transaction and gives it back after: an HTTP request that reads its token
and then lends queued twice for the pool, behind every request that arrived
in between, and paid asyncpg's acquire and release twice. Within `holding()`
(an HTTP request's execution, graph/http.py) the first connection given back
is kept instead, and the block's next statements take it again; it returns
to the pool when the block ends, or earlier by `let_go()` (before waiting
for something other than the database, so that a waiting request holds no
connection). A statement that runs while the kept one is busy (two fields
read at once) takes another from the pool as before, and gives it back. A
connection is kept only if it is open, outside a transaction, and given back
after a statement that succeeded, by a task not being cancelled (a statement
that failed or timed out may still be running): asyncpg's own release then
tidies it up. One the server closes while it is kept (a restart) asyncpg
takes back itself; the next statement takes another.

models/db.py names this module as the engine of PostgreSQL URLs.
"""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import asyncpg

from models.tortoise_internals import AsyncpgDBClient

ACQUIRE_TIMEOUT = 30.0  # seconds; above the longest wait bench P6's thousands of concurrent calls see


class PoolExhausted(ConnectionError):
    """No pooled connection came free in time: the database is saturated, try again shortly."""


class Held:
    """The connection one `holding()` block keeps between its statements."""

    __slots__ = ("busy", "connection", "open", "pool")

    def __init__(self) -> None:
        self.connection: Any = None
        self.pool: BoundedPool | None = None  # the pool `connection` came from
        self.busy = False  # a statement is running on it
        self.open = True  # the block has not ended

    async def give_back(self) -> None:
        """Return the kept connection to its pool, if it is not in use."""
        connection, pool = self.connection, self.pool
        if connection is not None and pool is not None and not self.busy:
            self.connection = None
            await pool.give_back(connection)


_held: ContextVar[Held | None] = ContextVar("lendgraph_held_connection", default=None)


@contextlib.asynccontextmanager
async def holding() -> AsyncIterator[None]:
    """Run the block's statements on one pooled connection where they run one at a time (see above)."""
    held = Held()
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.open = False  # a statement still running on it (a task the block left behind) gives it back
        await held.give_back()


async def let_go() -> None:
    """Give the current block's kept connection back now: the block is about to wait for something else."""
    held = _held.get()
    if held is not None:
        await held.give_back()


def _open(connection: Any) -> bool:
    """Whether a pooled connection is still ours and open: asyncpg takes back one the server closed (a
    restart), and the proxy we hold then refuses every call."""
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        return False


def _keepable(connection: Any) -> bool:
    """Whether a connection given back may be lent again at once. Not after a failure: tortoise gives a
    connection back while the statement's error (or cancellation) propagates, and a statement that timed
    out or was cancelled may still be running on it; asyncpg's own release waits for it."""
    if sys.exception() is not None:
        return False
    task = asyncio.current_task()
    cancelled = task is not None and task.cancelling() > 0
    return not cancelled and _open(connection) and not connection.is_in_transaction()


class BoundedPool:
    """An asyncpg pool whose `acquire` waits at most `seconds` (tortoise awaits it, never `async with`),
    and which lends a `holding()` block the connection it keeps."""

    def __init__(self, pool: asyncpg.Pool, seconds: float) -> None:
        self._pool, self._seconds = pool, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def acquire(self) -> Any:
        held = _held.get()
        if held is not None and held.open and held.connection is not None and not held.busy:
            if _open(held.connection):
                held.busy = True
                return held.connection
            held.connection = None  # closed while kept: asyncpg has it back already
        try:
            return await self._pool.acquire(timeout=self._seconds)
        except TimeoutError as error:
            raise PoolExhausted(f"no database connection came free within {self._seconds} s") from error

    async def release(self, connection: Any, **kwargs: Any) -> None:
        held = _held.get()
        if held is not None and held.open:
            if held.connection is connection:
                held.busy = False
                if _keepable(connection):
                    return
                held.connection = None
            elif held.connection is None and _keepable(connection):
                held.connection, held.pool = connection, self
                return
        await self._pool.release(connection, **kwargs)

    async def give_back(self, connection: Any) -> None:
        await self._pool.release(connection)


class BoundedAsyncpgClient(AsyncpgDBClient):
    """tortoise's asyncpg client, with a BoundedPool."""

    def __init__(self, *args: Any, acquire_timeout: float | str = ACQUIRE_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = float(acquire_timeout)

    async def create_pool(self, **kwargs: Any) -> Any:
        return BoundedPool(await super().create_pool(**kwargs), self.acquire_timeout)


client_class = BoundedAsyncpgClient  # what tortoise reads from an engine module
