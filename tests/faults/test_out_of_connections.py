"""PostgreSQL out of connections: clients get the typed retryable 503 at once, not a hang.

Another client of the database holds every connection the server allows
(max_connections reached). The server's pool keeps one connection of its
own, and a burst of concurrent requests needs more: PostgreSQL refuses them
("too many clients"). Every request must end within a bounded time as a
success or the typed 503; once the connections are given back, each deposit
retried by its key succeeds, and moved money once.
"""

import asyncio
import contextlib

import asyncpg
import httpx
import pytest

from tests.e2e.server import run_cli, served
from tests.faults import load
from tests.faults.cluster import Cluster
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import BROWSE, Books, Retrying, assert_unavailable, graphql_json, waiting_on_locks
from tests.polling import until

pytestmark = pytest.mark.e2e

BOUND = 60  # seconds for the whole test: a hang fails it
ANSWER_WITHIN = 10  # seconds for each request while the connections are taken
BURST = 12


async def deposit(http: httpx.AsyncClient, base: str, token: str, key: str) -> httpx.Response:
    """One deposit of 25.00, answered as it comes (no retry)."""
    variables = {"input": {"amount": "25.00", "idempotencyKey": key}}
    return await http.post(
        f"{base}/graphql",
        json={"query": load.DEPOSIT, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


async def take_every_connection(url: str, stack: contextlib.AsyncExitStack) -> int:
    """Open connections until PostgreSQL refuses one; they stay open until `stack` closes."""
    taken = 0
    while True:
        try:
            connection = await asyncpg.connect(url.split("?")[0].replace("postgres://", "postgresql://", 1))
        except asyncpg.exceptions.TooManyConnectionsError:
            return taken
        stack.push_async_callback(connection.close)
        taken += 1


async def test_out_of_connections_is_a_prompt_typed_503(cluster: Cluster, database_url):
    # A pool of up to 5 that keeps 1 open: the burst needs connections it does not have.
    url = f"{database_url}?minsize=1&maxsize=5"
    with served(url, env=SERVER_ENV) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=ANSWER_WITHIN) as http:
            world = await load.arrange(http, server.base, database_url, loans=1, lenders=BURST)
            client = Retrying(http, server.base)

            async with contextlib.AsyncExitStack() as held:
                taken = await take_every_connection(database_url, held)
                # Concurrent: each request needs a connection at the same moment. A request that hung
                # would fail with httpx's ReadTimeout after ANSWER_WITHIN seconds.
                answers = await asyncio.gather(
                    *(deposit(http, server.base, token, f"{name}-burst") for name, token in world.tokens.items()),
                    *(http.post(f"{server.base}/graphql", json={"query": BROWSE}) for _ in range(BURST)),
                )
            statuses = [answer.status_code for answer in answers]
            for answer in answers:
                body = graphql_json(answer)
                if answer.status_code != 200:
                    assert_unavailable(answer, body)
                else:
                    assert not body.get("errors"), body
            assert 503 in statuses, statuses

            # The connections are back: every deposit, sent again with its key, succeeds, once.
            for name, token in world.tokens.items():
                variables = {"input": {"amount": "25.00", "idempotencyKey": f"{name}-burst"}}
                await client.money("deposit", load.DEPOSIT, variables, token)
            assert await load.books_of(database_url, world.ids) == {
                name: Books(balance_cents=2500, deposits=1, shares=0) for name in world.tokens
            }
            print(f"{taken} connections taken; statuses of the burst: {sorted(statuses)}")
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"


async def test_a_pool_whose_connections_are_all_busy_answers_a_prompt_typed_503(database_url):
    # A pool of 2, both held by deposits that wait for a row lock another session holds.
    url = f"{database_url}?minsize=1&maxsize=2&acquire_timeout=1"
    with served(url, env=SERVER_ENV) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=ANSWER_WITHIN) as http:
            world = await load.arrange(http, server.base, database_url, loans=1, lenders=2)
            (ada, ada_token), (bob, bob_token) = world.tokens.items()
            client = Retrying(http, server.base)
            async with load.database(database_url) as blocker, blocker.transaction():
                await blocker.execute("SELECT 1 FROM account WHERE lender_id = $1 FOR UPDATE", world.ids[ada])
                held = [asyncio.create_task(deposit(http, server.base, ada_token, f"held-{n}")) for n in range(2)]
                await until(lambda: waiting_on_locks(database_url, 2), "both pooled connections to wait", within=20)
                # Nothing free in the pool: a read and a deposit of another lender, answered without a hang.
                answers = [
                    await http.post(f"{server.base}/graphql", json={"query": BROWSE}),
                    await deposit(http, server.base, bob_token, "bob"),
                ]
                for answer in answers:
                    assert_unavailable(answer, graphql_json(answer))
            # The lock is released: the held deposits finish, and Bob's, sent again, succeeds.
            assert [answer.status_code for answer in await asyncio.gather(*held)] == [200, 200]
            await client.money(
                "deposit", load.DEPOSIT, {"input": {"amount": "25.00", "idempotencyKey": "bob"}}, bob_token
            )
            assert await load.books_of(database_url, world.ids) == {
                ada: Books(balance_cents=5000, deposits=2, shares=0),
                bob: Books(balance_cents=2500, deposits=1, shares=0),
            }
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
