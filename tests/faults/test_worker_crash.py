"""A worker of `lendgraph serve --workers 2` SIGKILLed while clients deposit, lend and subscribe.

Clients send each money call again with its idempotency key when the
connection drops or the answer is the retryable 503; subscribers whose socket
dies open a new one with `after` set to the last event id they received.
uvicorn replaces the dead worker; each key has moved money exactly once, and
each subscriber has every event of its loan exactly once.
"""

import asyncio
import os
import signal

import httpx
import pytest

from bench.p3_fanout.processes import sockets, uvicorn_workers
from tests.e2e.server import run_cli, served
from tests.faults import load
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import Books, Follower, Retrying
from tests.polling import until

pytestmark = pytest.mark.e2e

BOUND = 90  # seconds for the whole test: a hang fails it


async def test_a_killed_worker_is_replaced_and_clients_that_retry_lose_nothing(database_url, redis_server):
    env = {**SERVER_ENV, "BROADCAST_URL": redis_server.url}
    with served(database_url, env=env, workers=2) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=30) as http:
            world = await load.arrange(http, server.base, database_url)
            client = Retrying(http, server.base, through_transport=True)
            ws_url = server.base.replace("http://", "ws://") + "/graphql"
            followers = [Follower(ws_url, loan) for loan in world.loans * 4]
            following = [asyncio.create_task(f.run()) for f in followers]
            # Each subscriber is connected once it has the listing.
            await until(lambda: all(f.ids for f in followers), "every subscriber to connect", within=30)
            killed = asyncio.Event()
            lending = [
                asyncio.create_task(load.lend_in_rounds(client, name, token, world.loans, killed))
                for name, token in world.tokens.items()
            ]
            await asyncio.sleep(1.0)  # the load is under way
            workers = uvicorn_workers(server.process.pid)
            assert len(workers) == 2, workers
            victim = max(workers, key=sockets)  # the one holding more sockets: more subscribers
            os.kill(victim, signal.SIGKILL)
            killed.set()
            await until(
                lambda: victim not in (now := uvicorn_workers(server.process.pid)) and len(now) == 2,
                "uvicorn to replace the killed worker",
                within=30,
                every=0.1,
            )
            rounds = dict(zip(world.tokens, await asyncio.gather(*lending), strict=True))

            assert await load.books_of(database_url, world.ids) == {
                name: Books(balance_cents=0, deposits=n, shares=n) for name, n in rounds.items()
            }
            expected = {loan: await load.progress_ids(database_url, loan) for loan in world.loans}
            assert sum(map(len, expected.values())) == len(world.loans) + sum(rounds.values())
            await load.covered(followers, expected, within=30)
            for follow in following:
                follow.cancel()
            for follower in followers:
                assert follower.ids == expected[follower.loan_id], (follower.ids, follower.errors)
            print(
                f"answers by status: {dict(client.seen.statuses)}; dropped: {client.seen.transport_errors}; "
                f"reconnects: {[f.reconnects for f in followers]}"
            )
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
