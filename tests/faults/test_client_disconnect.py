"""A client that disconnects in the middle of a money mutation leaves all of it or none of it.

First a deposit held inside its transaction (another session holds a row
lock it needs) whose client goes away before the lock is released; then lends
and deposits whose clients hang up after a random moment, from before the
request is read to after the answer. Once the server is idle, every key has
either all of its writes (idempotency record, transfer, share, event) or
none; sent again with the same key, each moves money exactly once.
"""

import asyncio
import contextlib
import random

import httpx
import pytest

from tests.e2e.server import run_cli, served
from tests.faults import load
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import Books, Retrying
from tests.polling import until

pytestmark = pytest.mark.e2e

BOUND = 60  # seconds for the whole test: a hang fails it
CUTS = 24
MAX_CUT = 0.6  # seconds: the latest hang-up; from before the request is read to after the answer


def call(n: int, loan: str) -> tuple[str, str, dict]:
    """The n-th call cut short: a lend of 25.00 or a deposit of 25.00, by turns, each with its own key."""
    if n % 2:
        return "lend", load.LEND, {"input": {"loanId": loan, "amount": "25.00", "idempotencyKey": f"lend-{n}"}}
    return "deposit", load.DEPOSIT, {"input": {"amount": "25.00", "idempotencyKey": f"deposit-{n}"}}


async def hang_up_after(base: str, query: str, variables: dict, token: str, seconds: float) -> None:
    """Send the request on a connection of its own and close that connection after `seconds`."""
    async with httpx.AsyncClient(timeout=30) as http:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await http.post(
                    f"{base}/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )


async def idle(database_url: str) -> bool:
    """No session of the server is running a statement or holding a transaction open."""
    async with load.database(database_url) as connection:
        busy = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'"
        )
    return busy == 0


async def writes_by_kind(database_url: str) -> dict[str, int]:
    """Per kind of write a deposit or a lend makes: how many rows there are."""
    async with load.database(database_url) as connection:
        row = await connection.fetchrow(
            """SELECT
                 (SELECT count(*) FROM idempotency_key WHERE operation = 'deposit') AS deposit_keys,
                 (SELECT count(*) FROM transfer WHERE kind = 'DEPOSIT') AS deposits,
                 (SELECT count(*) FROM idempotency_key WHERE operation = 'lend') AS lend_keys,
                 (SELECT count(*) FROM transfer WHERE kind = 'LOAN_SHARE') AS shares,
                 (SELECT count(*) FROM event WHERE kind = 'SHARE_ADDED') AS share_events"""
        )
    return dict(row)


async def test_a_client_that_hangs_up_mid_mutation_leaves_all_or_nothing(database_url):
    with served(database_url, env=SERVER_ENV) as server:
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=30) as http:
            world = await load.arrange(http, server.base, database_url, loans=1, lenders=2)
            [loan] = world.loans
            client = Retrying(http, server.base)
            (ada, ada_token), (bob, bob_token) = world.tokens.items()

            # 1. A deposit waiting inside the database when its client goes away.
            held = {"input": {"amount": "25.00", "idempotencyKey": "held"}}
            async with load.database(database_url) as blocker, blocker.transaction():
                await blocker.execute("SELECT 1 FROM account WHERE lender_id = $1 FOR UPDATE", world.ids[ada])
                request = asyncio.create_task(hang_up_after(server.base, load.DEPOSIT, held, ada_token, 30))

                await until(
                    lambda: load.waiting_on_locks(database_url),
                    "the deposit to wait for the lock",
                    within=20,
                    every=0.05,
                )
                request.cancel()  # the client hangs up
                await asyncio.gather(request, return_exceptions=True)
            # The lock is released (rollback): the server finishes or abandons the deposit.

            # 2. Lends and deposits cut at random moments.
            rng = random.Random(13)
            funds = {"input": {"amount": "1000.00", "idempotencyKey": "funds"}}
            await client.money("deposit", load.DEPOSIT, funds, bob_token)
            calls = [call(n, loan) for n in range(CUTS)]
            await asyncio.gather(
                *(
                    hang_up_after(server.base, query, variables, bob_token, rng.uniform(0, MAX_CUT))
                    for _, query, variables in calls
                )
            )
            await until(lambda: idle(database_url), "the server to finish what it was doing", within=20, every=0.1)

            # All or nothing: as many keys as transfers (and share events), whatever the count.
            writes = await writes_by_kind(database_url)
            assert writes["deposit_keys"] == writes["deposits"], writes
            assert writes["lend_keys"] == writes["shares"] == writes["share_events"], writes
            assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"

            # Sent again with their keys, every call moves money exactly once.
            await client.money("deposit", load.DEPOSIT, held, ada_token)
            for field_name, query, variables in calls:
                await client.money(field_name, query, variables, bob_token)
            half = CUTS // 2
            assert await load.books_of(database_url, world.ids) == {
                ada: Books(balance_cents=2500, deposits=1, shares=0),
                bob: Books(balance_cents=100_000, deposits=1 + half, shares=half),
            }
            print(f"writes found after the hang-ups: {writes}")
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
