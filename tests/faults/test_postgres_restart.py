"""PostgreSQL restarted under mixed load: the server rides it out, money moves once, events arrive once.

Lenders deposit and lend in a loop, each call retried by its idempotency key;
a browser reads loans; subscribers follow the loans' progress. Meanwhile the
database is restarted (a fast shutdown, which ends every session, one second
down, started again). Every answer must be GraphQL JSON (a success, or the
typed retryable 503), each key must move money exactly once, each subscriber
must receive every event of its loan exactly once, and the same server
process must serve on afterwards.
"""

import asyncio

import httpx
import pytest

from tests.e2e.client import Client
from tests.e2e.server import run_cli, served
from tests.faults import load
from tests.faults.cluster import Cluster
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import BROWSE, Books, Follower, Retrying

pytestmark = pytest.mark.e2e

LENDERS = 4
ROUNDS_AFTER_RESTART = 3  # each lender's deposit-and-lend rounds once the database is back
BOUND = 90  # seconds for the whole test: a hang fails it


async def test_a_postgresql_restart_under_mixed_load(cluster: Cluster, database_url, redis_server):
    partner = run_cli(
        "create-partner", "--name", "Juhudi Kilimo", "--country", "KE", "--risk-rating", "3.5",
        database_url=database_url,
    ).strip().splitlines()[-1]  # fmt: skip
    with served(database_url, env={**SERVER_ENV, "BROADCAST_URL": redis_server.url}) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=30) as http:
            arrange = Client(http, server.base)
            loans = [await arrange.list_loan(partner, f"Loan {n}", "FOOD", "5000.00") for n in range(2)]
            tokens = {f"lender{n}": await arrange.register(f"Lender{n}") for n in range(LENDERS)}
            client = Retrying(http, server.base)
            ids = {name: await load.lender_id(client, token) for name, token in tokens.items()}
            followers = [Follower(server.base.replace("http://", "ws://") + "/graphql", loan) for loan in loans * 2]
            following = [asyncio.create_task(f.run()) for f in followers]
            restarted = asyncio.Event()

            async def lender(name: str, token: str) -> int:
                rounds = after_restart = 0
                while after_restart < ROUNDS_AFTER_RESTART:
                    deposit = {"amount": "25.00", "idempotencyKey": f"{name}-deposit-{rounds}"}
                    await client.money("deposit", load.DEPOSIT, {"input": deposit}, token)
                    lend = {"loanId": loans[rounds % 2], "amount": "25.00", "idempotencyKey": f"{name}-lend-{rounds}"}
                    await client.money("lend", load.LEND, {"input": lend}, token)
                    rounds += 1
                    after_restart += restarted.is_set()
                return rounds

            async def browser() -> None:
                while True:
                    await client.data(BROWSE)

            lending = [asyncio.create_task(lender(name, token)) for name, token in tokens.items()]
            browsing = asyncio.create_task(browser())
            await asyncio.sleep(1.0)  # the load is under way
            await asyncio.to_thread(cluster.restart, 1.0)
            restarted.set()
            rounds = dict(zip(tokens, await asyncio.gather(*lending), strict=True))
            browsing.cancel()

            assert await load.books_of(database_url, ids) == {
                name: Books(balance_cents=0, deposits=n, shares=n) for name, n in rounds.items()
            }
            expected = {loan: await load.progress_ids(database_url, loan) for loan in loans}
            assert sum(map(len, expected.values())) == 2 + sum(rounds.values())  # the listings and every lend
            await load.covered(followers, expected, within=30)
            for follow in following:
                follow.cancel()
            for follower in followers:
                assert follower.ids == expected[follower.loan_id], (follower.ids, follower.errors)
            # The same process serves on.
            assert server.process.poll() is None
            assert (await client.data(BROWSE))["loans"]["totalCount"] == 2
            print(f"answers by status: {dict(client.seen.statuses)}; reconnects: {[f.reconnects for f in followers]}")
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
