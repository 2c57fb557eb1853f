"""How models.pool.BoundedPool lends the connections it took from asyncpg's pool, on a stand-in for that
pool whose connections are plain objects: who gets a connection given back, in which order, and what
becomes of one handed to a task that is cancelled or out of time meanwhile."""

import asyncio
from typing import Any

import pytest

from models.pool import BoundedPool, PoolExhausted


class Connection:
    def __init__(self, number: int) -> None:
        self.number, self.closed = number, False

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return False


class AsyncpgPool:
    """asyncpg's pool as BoundedPool uses it: `size` connections, each lent to one borrower at a time."""

    def __init__(self, size: int) -> None:
        self.free = [Connection(n) for n in range(size)]
        self.size, self.acquired = size, 0
        self.released: list[int] = []

    def get_max_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return len(self.free)

    async def acquire(self, timeout: float) -> Connection:  # noqa: ASYNC109 (asyncpg's signature)
        assert self.free, "BoundedPool asked asyncpg for more connections than its size"
        self.acquired += 1
        return self.free.pop()

    async def release(self, connection: Connection) -> None:
        self.released.append(connection.number)
        self.free.append(connection)

    def terminate(self) -> None:
        self.terminated = True

    async def close(self) -> None:
        assert len(self.free) == self.size, "closed with connections still lent"


def pool_of(size: int, seconds: float = 5.0) -> tuple[BoundedPool, AsyncpgPool]:
    asyncpg_pool = AsyncpgPool(size)
    return BoundedPool(asyncpg_pool, seconds), asyncpg_pool  # type: ignore[arg-type]


async def waiting(pool: BoundedPool, count: int) -> list[asyncio.Task[Any]]:
    """`count` tasks waiting for a connection, in that order."""
    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(pool.acquire()))
        await asyncio.sleep(0)
    return tasks


async def test_connections_once_taken_are_lent_again_without_asyncpg():
    pool, asyncpg_pool = pool_of(2)
    first = await pool.acquire()
    await pool.release(first)
    for _ in range(5):
        again = await pool.acquire()
        assert again is first
        await pool.release(again)
    assert (asyncpg_pool.acquired, asyncpg_pool.released) == (1, [])
    assert pool.get_idle_size() == 2  # one idle in asyncpg's pool, one idle here


async def test_a_connection_given_back_goes_to_the_task_that_waited_longest():
    pool, asyncpg_pool = pool_of(1)
    held = await pool.acquire()
    tasks = await waiting(pool, 3)
    order = []
    for _ in tasks:
        await pool.release(held)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=1)
        [task] = [t for t in done if t not in order]
        order.append(task)
        held = task.result()
    assert order == tasks
    assert asyncpg_pool.acquired == 1


async def test_a_connection_handed_to_a_task_cancelled_meanwhile_goes_to_the_next():
    pool, _ = pool_of(1)
    held = await pool.acquire()
    first, second = await waiting(pool, 2)
    await pool.release(held)  # handed to `first`, which has not run since
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) is held


async def test_a_connection_handed_to_a_task_cancelled_as_the_pool_ends_goes_back_to_asyncpg():
    pool, asyncpg_pool = pool_of(1)
    held = await pool.acquire()
    [task] = await waiting(pool, 1)
    await pool.release(held)  # handed to `task`, which has not run since
    task.cancel()
    pool.terminate()  # nothing is kept here any more
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncpg_pool.released == [held.number]


async def test_a_task_out_of_time_gets_pool_exhausted_and_is_skipped():
    pool, _ = pool_of(1, seconds=0.05)
    held = await pool.acquire()
    [late] = await waiting(pool, 1)
    with pytest.raises(PoolExhausted):
        await late
    [next_one] = await waiting(pool, 1)
    await pool.release(held)
    assert await asyncio.wait_for(next_one, 1) is held


async def test_a_connection_that_failed_goes_back_to_asyncpg_and_a_waiting_task_takes_another_there():
    pool, asyncpg_pool = pool_of(1)
    held = await pool.acquire()
    [task] = await waiting(pool, 1)
    try:
        raise ConnectionError("the statement failed")
    except ConnectionError:
        await pool.release(held)  # given back while the failure propagates: not lent again
    assert asyncpg_pool.released == [held.number]
    assert await asyncio.wait_for(task, 1) is held  # asyncpg's pool lends it again, as it would a new one
    assert asyncpg_pool.acquired == 2


async def test_an_idle_connection_the_server_closed_goes_back_to_asyncpg():
    pool, asyncpg_pool = pool_of(1)
    held = await pool.acquire()
    await pool.release(held)
    held.closed = True
    again = await pool.acquire()
    assert asyncpg_pool.released == [held.number] and again is held and asyncpg_pool.acquired == 2


async def test_closing_gives_every_connection_back_to_asyncpg():
    pool, asyncpg_pool = pool_of(2)
    a, b = await pool.acquire(), await pool.acquire()
    await pool.release(a)
    await pool.release(b)
    assert asyncpg_pool.released == []  # both idle here
    await pool.close()  # the stand-in refuses to close while one is lent
    assert sorted(asyncpg_pool.released) == [0, 1]
