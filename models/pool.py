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
(an HTTP request's execution, graph/http.py) the first connection taken is
kept instead, and the block's statements all run on it, one at a time: a
statement that comes while another of the block runs (two fields read at
once) waits for it, rather than take a second connection while keeping the
first; blocks that each kept one and waited for a second would otherwise
wait for each other once the pool ran dry, until the pool's timeout. The
connection returns to the pool when the block ends, or earlier by
`let_go()` (before waiting for something other than the database, so that a
waiting request holds no connection).

A connection given back, by a block or by a statement outside any, stays
checked out of asyncpg's pool: it goes to the task that has waited longest
for one, or waits in a list for the next statement (BoundedPool._acquire);
asyncpg's acquire and release cost as much as the statement. One that
failed or was closed goes back to asyncpg. With
`max_inactive_connection_lifetime` set none stays, for asyncpg closes only
those idle in its pool.

A connection is kept only if it is open, outside a transaction, and given
back after a statement that succeeded, by a task not being cancelled (a
statement that failed or timed out may still be running): asyncpg's own
release then tidies it up. One the server closes while it is kept (a
restart) goes back to asyncpg, and the next statement takes another.

models/db.py names this module as the engine of PostgreSQL URLs.
"""

import asyncio
import collections
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from typing import Any

import asyncpg

from models.tortoise_internals import AsyncpgDBClient, TransactionContextPooled, TransactionWrapper, get_connections

log = logging.getLogger(__name__)
ACQUIRE_TIMEOUT = 30.0  # seconds; above the longest wait bench P6's thousands of concurrent calls see


class PoolExhausted(ConnectionError):
    """No pooled connection came free in time: the database is saturated, try again shortly."""


class Held:
    """The connection one `holding()` block keeps, and runs its statements on one at a time."""

    __slots__ = ("busy", "connection", "freed", "open", "pool")

    def __init__(self) -> None:
        self.connection: Any = None
        self.pool: BoundedPool | None = None  # the pool `connection` came from
        self.busy: asyncio.Task[Any] | None = None  # the task whose statement runs on it
        self.open = True  # the block has not ended
        self.freed: asyncio.Event | None = None  # set when it is no longer busy, made when a statement waits

    def free(self) -> None:
        self.busy = None
        self.wake()

    def wake(self) -> None:
        """Let the statements waiting for the connection look again."""
        if self.freed is not None:
            self.freed.set()
            self.freed = None

    async def give_back(self) -> None:
        """Return the kept connection to its pool, if it is not in use."""
        connection, pool = self.connection, self.pool
        if connection is not None and pool is not None and self.busy is None:
            self.connection = None
            await pool.give_back(connection)


_held: ContextVar[Held | None] = ContextVar("lendgraph_held_connection", default=None)


@contextlib.asynccontextmanager
async def holding() -> AsyncIterator[None]:
    """Run the block's statements on one pooled connection, one at a time (see above)."""
    held = Held()
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.open = False  # a statement still running on it (a task the block left behind) gives it back
        held.wake()  # and statements waiting for it take one from the pool
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
    which runs a `holding()` block's statements on the connection it keeps, and which lends the
    connections it took from asyncpg's pool itself (see `_acquire`)."""

    def __init__(self, pool: asyncpg.Pool, seconds: float, *, keep_idle: bool = True) -> None:
        self._pool, self._seconds = pool, seconds
        # Connections taken from asyncpg's pool, idle here until the next statement takes one; None: none
        # are kept, and asyncpg's pool alone lends them.
        self._idle: list[Any] | None = [] if keep_idle else None
        # Tasks waiting for a connection, first come first served: one given back goes to the first (None
        # when one went back to asyncpg's pool instead, where the task may now take one).
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._out = 0  # connections taken from asyncpg's pool, in use or idle here
        self._max = pool.get_max_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def get_idle_size(self) -> int:
        return int(self._pool.get_idle_size()) + len(self._idle or ())

    async def expire_connections(self) -> None:
        await self._flush()
        await self._pool.expire_connections()

    async def close(self) -> None:
        await self._flush()
        self._idle = None  # closing: nothing is kept any more, and the waiting tasks ask asyncpg's pool
        while self._waiters:
            _hand(self._waiters.popleft(), None)
        await self._pool.close()

    def terminate(self) -> None:
        self._idle = None  # asyncpg ends every connection, those idle here too
        self._pool.terminate()

    async def _flush(self) -> None:
        """Give every connection idle here back to asyncpg's pool."""
        while self._idle:
            await self._return(self._idle.pop())

    async def acquire(self) -> Any:
        held = _held.get()
        if held is None or not held.open:
            return await self._acquire()
        task = asyncio.current_task()
        if held.busy is not None:
            if held.busy is task:  # its own statement runs on it (a connection set aside): never wait for itself
                return await self._acquire()
            await self._wait(held)
            if not held.open:
                return await self._acquire()
        held.busy = task
        connection = held.connection
        if connection is not None and _open(connection):
            return connection
        try:
            if connection is not None:  # the server closed it while it was kept
                held.connection = None
                await self.give_back(connection)
            held.connection, held.pool = await self._acquire(), self
        except BaseException:
            held.free()
            raise
        return held.connection

    async def _wait(self, held: Held) -> None:
        """Wait until no other statement of the block runs on its connection, as long as for the pool."""
        try:
            async with asyncio.timeout(self._seconds):
                while held.busy is not None and held.open:
                    if held.freed is None:
                        held.freed = asyncio.Event()
                    await held.freed.wait()
        except TimeoutError as error:
            raise PoolExhausted(f"the request's connection did not come free within {self._seconds} s") from error

    async def _acquire(self) -> Any:
        """A connection idle here; else one from asyncpg's pool while fewer than its size are out; else the
        first given back, within `seconds`.

        asyncpg's acquire and release cost a statement more than the driver's own work for it (a timeout
        on every acquire, a task to shield every release): the connections stay checked out of asyncpg's
        pool once taken, lent and given back here with a list's pop and append, or handed straight to
        the task that has waited longest. Only one that failed or was closed goes back to asyncpg.
        """
        idle = self._idle
        if idle is None:
            return await self._from_asyncpg()
        while True:
            while idle:
                connection = idle.pop()
                if _open(connection):
                    return connection
                await self._return(connection)  # the server closed it while it was idle here
            if self._out < self._max:
                self._out += 1
                try:
                    return await self._from_asyncpg()
                except BaseException:
                    self._out -= 1
                    raise
            connection = await self._turn()
            if connection is not None:
                return connection

    async def _from_asyncpg(self) -> Any:
        try:
            return await self._pool.acquire(timeout=self._seconds)
        except TimeoutError as error:
            raise PoolExhausted(f"no database connection came free within {self._seconds} s") from error

    async def _turn(self) -> Any:
        """Wait for a connection given back (or None: one went back to asyncpg's pool) at most `seconds`."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        timer = loop.call_later(self._seconds, _expire, waiter, self._seconds)
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed one as the task was cancelled: it goes to the next (or back to asyncpg, if closing).
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None and waiter.result() is not None:
                await self._put_back(waiter.result(), keepable=True)
            raise
        finally:
            timer.cancel()

    def _keep(self, connection: Any) -> None:
        """Hand a connection to the task that has waited longest, or keep it idle here."""
        while self._waiters:
            if _hand(self._waiters.popleft(), connection):
                return
        if self._idle is not None:
            self._idle.append(connection)

    async def _return(self, connection: Any) -> None:
        """Give a connection back to asyncpg's pool; the task that has waited longest may take one there."""
        self._out -= 1
        try:
            await self._pool.release(connection)
        finally:
            while self._waiters:
                if _hand(self._waiters.popleft(), None):
                    break

    async def _put_back(self, connection: Any, keepable: bool) -> None:
        if self._idle is None:
            await self._pool.release(connection)
        elif keepable:
            self._keep(connection)
        else:
            await self._return(connection)

    async def release(self, connection: Any, **kwargs: Any) -> None:
        held = _held.get()
        if held is not None and held.connection is connection:
            keep = held.open and _keepable(connection)
            if not keep:
                held.connection = None
            held.free()
            if keep:
                return
        await self._put_back(connection, _keepable(connection))

    async def give_back(self, connection: Any) -> None:
        """Return a connection a block kept. asyncpg's release of one the server closed may fail; the
        connection is then asyncpg's to clean up, and the request's answer stands."""
        try:
            await self._put_back(connection, _keepable(connection))
        except (asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
            log.warning("giving a kept database connection back failed: %s", error)


def _hand(waiter: "asyncio.Future[Any]", connection: Any) -> bool:
    """Give a waiting task `connection`; False if it no longer waits (cancelled, or its time ran out)."""
    if waiter.done():
        return False
    waiter.set_result(connection)
    return True


def _expire(waiter: "asyncio.Future[Any]", seconds: float) -> None:
    if not waiter.done():
        waiter.set_exception(PoolExhausted(f"no database connection came free within {seconds} s"))


class _Transaction(TransactionContextPooled):
    """tortoise's transaction on a pooled connection, which gives the connection back when BEGIN fails (a
    connection the server closed, a cancelled request): tortoise keeps it, and leaves the task's statements
    going to the transaction that never began."""

    async def __aenter__(self) -> Any:
        try:
            return await super().__aenter__()
        except BaseException:
            connection = self.client._connection
            if connection is not None:  # taken, then BEGIN failed
                get_connections().reset(self.token)
                await self.client._parent._pool.release(connection)
            raise


class BoundedAsyncpgClient(AsyncpgDBClient):
    """tortoise's asyncpg client, with a BoundedPool."""

    def __init__(self, *args: Any, acquire_timeout: float | str = ACQUIRE_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = float(acquire_timeout)

    async def create_pool(self, **kwargs: Any) -> Any:
        # Connections idle in asyncpg's pool alone can be closed after `max_inactive_connection_lifetime`.
        keep_idle = not kwargs.get("max_inactive_connection_lifetime")
        return BoundedPool(await super().create_pool(**kwargs), self.acquire_timeout, keep_idle=keep_idle)

    def _in_transaction(self) -> Any:
        return _Transaction(TransactionWrapper(self), self._pool_init_lock)

    async def fetch(self, sql: str, values: Sequence[Any]) -> list[Any]:
        """The rows of one statement run outside any transaction, as the driver gives them, its errors the
        driver's: a hot statement of our own SQL without tortoise's wrappers (its error translation, its
        connection context, the copy of every row into a dict), a tenth of a small request's CPU."""
        self.log.debug("%s: %s", sql, values)  # tortoise's query log, as for its own statements
        pool = self._pool
        if pool is None:  # the process's first statement: tortoise makes the pool
            async with self.acquire_connection() as connection:
                return list(await connection.fetch(sql, *values))
        connection = await pool.acquire()
        try:
            rows = await connection.fetch(sql, *values)
        except BaseException:
            await pool.release(connection)  # here, not in `finally`: the release sees the failure (_keepable)
            raise
        await pool.release(connection)
        return list(rows)


client_class = BoundedAsyncpgClient  # what tortoise reads from an engine module
