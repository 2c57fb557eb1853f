"""The world is sharded: deposits and withdrawals of different lenders never wait on one row (PostgreSQL).

Money outside the platform is spread over `WORLD_SHARDS` world accounts, and a lender's deposits and
withdrawals go through the shard chosen from the lender's id (lending/ledger.py). Many lenders
deposit and withdraw at once and all succeed; while one lender's deposit waits for its locks,
another lender on another shard deposits and withdraws. The choice of shard itself:
tests/lending/test_world_shards.py.
"""

import asyncio
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from lending.ledger import WORLD_SHARDS, check_books, world_account_for_lender
from models import Account, AccountKind
from tests.api import Api, new_key
from tests.pg_sessions import lock_waiters, until_waiting

LENDERS = 100
T = TypeVar("T")

WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) {
  __typename ... on UserError { code message } } }"""


async def withdraw(api: Api, token: str, amount: str) -> str:
    variables = {"input": {"amount": amount, "idempotencyKey": new_key()}}
    return (await api.data(WITHDRAW, variables, token))["withdraw"]["__typename"]


async def test_many_lenders_deposit_and_withdraw_at_once_over_the_shards(pg_api):
    tokens = [
        token for _, token in await asyncio.gather(*(pg_api.funded_lender("100.00", f"L{i}") for i in range(LENDERS)))
    ]

    deposits = [pg_api.deposit(token, "50.00") for token in tokens]
    withdrawals = [withdraw(pg_api, token, "75.00") for token in tokens]
    answers = await asyncio.gather(*deposits, *withdrawals)

    assert [a["__typename"] for a in answers[:LENDERS]] == ["DepositSuccess"] * LENDERS
    assert answers[LENDERS:] == ["WithdrawSuccess"] * LENDERS
    books = await check_books()
    assert books.ok, books.problems
    lenders = dict(await Account.filter(kind=AccountKind.LENDER).values_list("lender_id", "balance_cents"))
    assert set(lenders.values()) == {7500}
    shards = dict(await Account.filter(kind=AccountKind.WORLD).values_list("id", "balance_cents"))
    assert len(shards) == WORLD_SHARDS
    assert sum(shards.values()) == -sum(lenders.values())
    # Each shard holds minus what its own lenders hold, and every shard took part.
    expected: dict[int, int] = defaultdict(int)
    for lender_id, balance in lenders.items():
        expected[await world_account_for_lender(lender_id)] -= balance
    assert {shard: balance for shard, balance in shards.items() if balance} == expected
    assert len(expected) == WORLD_SHARDS


async def without_waiting(holder: asyncpg.Connection, request: Coroutine[Any, Any, T]) -> T:
    """Run `request` to its end while checking it never joins the one session already waiting."""
    task = asyncio.create_task(request)
    while not task.done():
        assert await lock_waiters(holder) == 1, "the request waits for a lock that the held deposit holds"
        await asyncio.sleep(0.02)
    return task.result()


async def test_a_lenders_deposit_does_not_wait_for_another_lenders(pg_api, pg_url):
    _, ada = await pg_api.register("Ada")
    _, bob = await pg_api.funded_lender("100.00", "Bob")
    ada_account = await Account.get(lender__display_name="Ada")
    bob_account = await Account.get(lender__display_name="Bob")
    assert bob_account.lender_id is not None and ada_account.lender_id is not None
    ada_shard = await world_account_for_lender(ada_account.lender_id)
    assert ada_shard != await world_account_for_lender(bob_account.lender_id)

    holder = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1).split("?")[0])
    try:
        # Another session holds Ada's account and shard as her own deposit would.
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(
            "SELECT id FROM account WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE",
            [ada_account.id, ada_shard],
        )
        adas_deposit = asyncio.create_task(pg_api.deposit(ada, "25.00"))
        await until_waiting(holder, "lendgraph_move_credit")  # her deposit reaches the locks and waits

        # Meanwhile Bob, on another shard, deposits and withdraws; each would show as a second waiter.
        bobs_deposit = await without_waiting(holder, pg_api.deposit(bob, "50.00"))
        assert bobs_deposit["__typename"] == "DepositSuccess"
        assert await without_waiting(holder, withdraw(pg_api, bob, "25.00")) == "WithdrawSuccess"
        assert not adas_deposit.done()

        await transaction.rollback()
    finally:
        await holder.close()
    assert (await adas_deposit)["__typename"] == "DepositSuccess"
    assert (await pg_api.balance(ada), await pg_api.balance(bob)) == ("25.00", "125.00")
