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

from tests.e2e.server import run_cli, served
from tests.faults import load
from tests.faults.cluster import Cluster
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import BROWSE, Books, Follower, Retrying

pytestmark = pytest.mark.e2e

BOUND = 90  # seconds for the whole test: a hang fails it


async def test_a_postgresql_restart_under_mixed_load(cluster: Cluster, database_url, redis_server):
    with served(database_url, env={**SERVER_ENV, "BROADCAST_URL": redis_server.url}) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=30) as http:
            world = await load.arrange(http, server.base, database_url)
            client = Retrying(http, server.base)
            ws_url = server.base.replace("http://", "ws://") + "/graphql"
            followers = [Follower(ws_url, loan) for loan in world.loans * 2]
            following = [asyncio.create_task(f.run()) for f in followers]
            restarted = asyncio.Event()

            async def browser() -> None:
                while True:
                    await client.data(BROWSE)

            lending = [
                asyncio.create_task(load.lend_in_rounds(client, name, token, world.loans, restarted))
                for name, token in world.tokens.items()
            ]
            browsing = asyncio.create_task(browser())
            await asyncio.sleep(1.0)  # the load is under way
            await asyncio.to_thread(cluster.restart, 1.0)
            restarted.set()
            rounds = dict(zip(world.tokens, await asyncio.gather(*lending), strict=True))
            browsing.cancel()

            assert await load.books_of(database_url, world.ids) == {
                name: Books(balance_cents=0, deposits=n, shares=n) for name, n in rounds.items()
            }
            expected = {loan: await load.progress_ids(database_url, loan) for loan in world.loans}
            assert sum(map(len, expected.values())) == len(world.loans) + sum(rounds.values())  # listings, lends
            await load.covered(followers, expected, within=30)
            for follow in following:
                follow.cancel()
            for follower in followers:
                assert follower.ids == expected[follower.loan_id], (follower.ids, follower.errors)
            # The same process serves on.
            assert server.process.poll() is None
            assert (await client.data(BROWSE))["loans"]["totalCount"] == len(world.loans)
            print(f"answers by status: {dict(client.seen.statuses)}; reconnects: {[f.reconnects for f in followers]}")
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
