"""One pooled connection per HTTP request (models/pool.py): its statements take the connection it keeps, one at
a time, and every connection goes back to the pool."""

import asyncio
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from models.pool import holding, let_go
from tests.api import Api, partner_token
from tests.conftest import serve
from tests.polling import until

pytestmark = pytest.mark.usefixtures("pg_url")

SEARCH = {"countries": ["KE"]}


def the_pool() -> Any:
    """models.pool.BoundedPool: its idle connections are asyncpg's idle ones and those it keeps itself."""
    return Tortoise.get_connection("default")._pool


async def backend_pid(sleep: float = 0) -> int:
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT pg_backend_pid() AS pid, pg_sleep($1)", [sleep]
    )
    return int(rows[0]["pid"])


async def terminated(pg_url: str, pid: int) -> None:
    """End the session `pid` from the server's side, as a restart would, and let the pool learn of it."""
    other = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1).split("?")[0])
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()
    await asyncio.sleep(0.2)


def all_idle() -> bool:
    pool = the_pool()
    return bool(pool.get_idle_size() == pool.get_size())


async def test_a_lend_reads_its_token_and_lends_on_one_pooled_connection(pg_url, clock, monkeypatch):
    async with serve(pg_url, clock) as api:
        _, token = await api.funded_lender("100.00")
        loan = await api.loan_id(await partner_token())
        pool = the_pool()
        counts = Counter(pool, monkeypatch)
        lent = await api.lend(token, loan, "25.00")
        assert lent["__typename"] == "LendSuccess", lent
        assert lent["lender"]["balance"] == "75.00"
        assert lent["loan"]["fundedAmount"] == "25.00"
        # The token read, then the lend: one connection taken, given back once.
        assert (counts.taken, counts.given_back) == (1, 1)
        await until(all_idle, "every connection back in the pool")  # the hub's read may still be running


class Counter:
    """Counts the connections the current task (which runs the in-process requests) takes from the pool
    (from those it keeps, or from asyncpg's) and gives back; the hub reads the outbox in a task of its own."""

    def __init__(self, pool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.taken = self.given_back = 0
        task = asyncio.current_task()
        take, put_back = pool._acquire, pool._put_back

        async def counted_take() -> Any:
            self.taken += asyncio.current_task() is task
            return await take()

        async def counted_put_back(*args: Any) -> None:
            self.given_back += asyncio.current_task() is task
            await put_back(*args)

        monkeypatch.setattr(pool, "_acquire", counted_take)
        monkeypatch.setattr(pool, "_put_back", counted_put_back)


async def test_a_block_keeps_one_connection_and_runs_statements_at_once_on_it_in_turn(pg_url, clock):
    async with serve(pg_url, clock):
        async with holding():
            kept = await backend_pid()
            assert await backend_pid() == kept
            # Two at once: both on the kept connection, the second once the first is done.
            pids = await asyncio.gather(backend_pid(0.05), backend_pid(0.05), backend_pid())
            assert pids == [kept] * 3
            assert the_pool().get_idle_size() == the_pool().get_size() - 1
            assert await backend_pid() == kept
            async with in_transaction() as transaction:  # a transaction runs on it too, and ends first
                _, rows = await transaction.execute_query("SELECT pg_backend_pid() AS pid")
                assert rows[0]["pid"] == kept
            assert await backend_pid() == kept
            assert the_pool().get_idle_size() == the_pool().get_size() - 1
            await let_go()  # given back before a wait: the next statement takes one from the pool again
            assert all_idle()
            await backend_pid()
        assert all_idle()


async def test_blocks_reading_two_things_at_once_do_not_wait_for_each_other(pg_url, clock):
    # Two connections, both kept by a block, and each block then reads two things at once. Had the second
    # read of each waited for a connection of the pool, each block would wait for the other's: PoolExhausted
    # after the two seconds, for both.
    async with serve(f"{pg_url}&minsize=2&maxsize=2&acquire_timeout=2", clock):
        both_kept = asyncio.Barrier(2)

        async def block() -> tuple[int, list[int]]:
            async with holding():
                kept = await backend_pid()
                await both_kept.wait()
                return kept, await asyncio.gather(backend_pid(0.05), backend_pid(0.05))

        answers = await asyncio.gather(block(), block())
        assert [pids for _, pids in answers] == [[kept, kept] for kept, _ in answers]
        assert len({kept for kept, _ in answers}) == 2
        await until(all_idle, "every connection back in the pool")  # the hub's read may still be running


async def test_a_transaction_whose_begin_fails_gives_its_connection_back(pg_url, clock, monkeypatch):
    # As after a PostgreSQL restart, on a connection whose end asyncpg has not noticed yet (tests/faults).
    begin = asyncpg.transaction.Transaction.start
    failing = [asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")]

    async def start(transaction: Any) -> None:
        if failing:
            raise failing.pop()
        await begin(transaction)

    async with serve(pg_url, clock):
        async with holding():
            kept = await backend_pid()
            monkeypatch.setattr(asyncpg.transaction.Transaction, "start", start)
            with pytest.raises(asyncpg.InternalClientError, match="another operation"):
                async with in_transaction():
                    pytest.fail("the transaction began")
            # Not kept: a statement that failed may leave it in any state. (The hub's read may be running.)
            await until(all_idle, "every connection back in the pool")
            # The task's statements no longer go to the transaction that never began: a new one begins, on
            # a connection of the pool, and so does a statement outside it.
            async with in_transaction() as transaction:
                _, rows = await transaction.execute_query("SELECT pg_current_xact_id()::text AS xact")
                assert rows[0]["xact"]
            assert isinstance(await backend_pid(), int)
            assert kept > 0
        assert all_idle()


async def test_a_cancelled_statement_gives_its_connection_back_to_the_pool(pg_url, clock):
    async with serve(pg_url, clock):
        async with holding():
            kept = await backend_pid()
            slow = asyncio.create_task(backend_pid(10))
            await asyncio.sleep(0.1)
            slow.cancel()
            await asyncio.gather(slow, return_exceptions=True)
            # Not kept while its statement may still be being cancelled: the next one runs, on any connection.
            assert isinstance(await backend_pid(), int)
            assert kept > 0
        assert all_idle()


async def test_a_connection_is_not_kept_after_a_statement_that_failed(pg_url, clock):
    async with serve(pg_url, clock):
        async with holding():
            await backend_pid()
            assert the_pool().get_idle_size() == the_pool().get_size() - 1  # kept
            with pytest.raises(OperationalError):
                await Tortoise.get_connection("default").execute_query("SELECT 1 / 0")
            assert all_idle()  # given back through asyncpg's release, which waits for whatever still runs
            assert isinstance(await backend_pid(), int)
        assert all_idle()


async def test_a_kept_connection_the_server_closes_is_replaced(pg_url, clock):
    async with serve(pg_url, clock):
        async with holding():
            kept = await backend_pid()
            await terminated(pg_url, kept)
            assert await backend_pid() != kept  # on another connection, not "released back to the pool"
            assert isinstance(await backend_pid(), int)
        await until(all_idle, "every connection back in the pool")


async def test_a_task_that_outlives_its_block_gives_its_connection_back(pg_url, clock):
    async with serve(pg_url, clock):
        async with holding():
            await backend_pid()
            late = asyncio.create_task(backend_pid(0.2))  # started in the block, runs after it
            await asyncio.sleep(0.05)
        await late
        assert all_idle()


async def test_requests_waiting_for_a_turn_hold_no_connection(pg_url, clock):
    # Two connections, one operation at a time, a short wait for a connection. Had the lenders' requests
    # kept the connection of their token reads while waiting for a turn, the anonymous reads (which read
    # no token) would find none when their turn came: 503 after two seconds.
    url = f"{pg_url}&minsize=1&maxsize=2&acquire_timeout=2"
    async with serve(url, clock, max_concurrent_operations=1, max_query_seconds=30) as api:
        lenders = [await api.funded_lender("50.00", name=f"Lender{i}") for i in range(8)]
        loan = await api.loan_id(await partner_token())

        async def busy(token: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
            return await api.lend(token, loan, "25.00"), await api.save_search(token, f"Kenya {n}", SEARCH)

        answers, pages = await asyncio.gather(
            asyncio.gather(*(busy(token, n) for n, (_, token) in enumerate(lenders))),
            asyncio.gather(*(fundraising(api, loan) for _ in range(8))),
        )
        assert set(pages) <= {f"{25 * n}.00" for n in range(len(lenders) + 1)}, pages
        assert [(lent["__typename"], saved["__typename"]) for lent, saved in answers] == [
            ("LendSuccess", "SaveSearchSuccess")
        ] * len(lenders)
        assert (await fundraising(api, loan)) == "200.00"
        assert all_idle()


async def fundraising(api: Api, loan: str) -> str:
    data = await api.data("query($id: ID!) { loan(id: $id) { fundedAmount } }", {"id": loan})
    return str(data["loan"]["fundedAmount"])


async def test_a_connection_given_back_while_a_statement_waits_for_one_goes_to_it(pg_url, clock):
    # One connection: kept by a block while another statement waits. Had the block's end kept it idle for
    # the next taker instead of handing it on, the waiting statement would get PoolExhausted after 2 s.
    async with serve(f"{pg_url}&minsize=1&maxsize=1&acquire_timeout=2", clock):
        kept = asyncio.Event()

        async def block() -> int:
            async with holding():
                try:
                    pid = await backend_pid()
                finally:
                    kept.set()  # a failure shows below, when the block is awaited
                await asyncio.sleep(0.3)
                return pid

        blocking = asyncio.create_task(block())
        await kept.wait()
        assert await backend_pid() == await blocking
        assert all_idle()


async def test_an_idle_connection_the_server_closes_is_replaced(pg_url, clock):
    async with serve(pg_url, clock):
        idle = await backend_pid()  # given back, and kept idle by the pool
        assert await backend_pid() == idle
        await terminated(pg_url, idle)
        assert await backend_pid() != idle
        await until(all_idle, "every connection back in the pool")


async def test_with_an_idle_lifetime_connections_go_back_to_asyncpg_s_pool(pg_url, clock):
    # asyncpg closes connections idle past the lifetime only in its own pool: none may idle elsewhere.
    async with serve(f"{pg_url}&max_inactive_connection_lifetime=60", clock):
        await backend_pid()
        async with holding():
            await backend_pid()
        asyncpg_pool = the_pool()._pool
        in_asyncpg_s_pool = "every connection idle in asyncpg's pool"
        await until(lambda: asyncpg_pool.get_idle_size() == asyncpg_pool.get_size(), in_asyncpg_s_pool)
