"""At most MAX_CONCURRENT_OPERATIONS operations execute at once in a process; the others wait for a
turn, and one that gets none within MAX_QUERY_SECONDS is refused with the retryable 503 before any
of it ran (graph/limits/admission.py)."""

import asyncio

import asyncpg
import pytest

from graph.limits.admission import Admission, Overloaded
from models import Account, IdempotencyKey
from tests.api import new_key
from tests.conftest import serve
from tests.pg_sessions import until_waiting

DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on DepositSuccess { lender { balance } } } }"""


async def test_turns_are_given_in_arrival_order_and_a_wait_is_bounded():
    admission = Admission(1, wait_seconds=0.2)
    order: list[str] = []

    async def run(name: str, hold: float) -> None:
        async with admission.turn():
            order.append(name)
            await asyncio.sleep(hold)

    first = asyncio.create_task(run("first", 0.05))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(run(name, 0)) for name in ("second", "third")]
    await asyncio.gather(first, *waiting)
    assert order == ["first", "second", "third"]

    async with admission.turn():
        with pytest.raises(Overloaded):
            async with admission.turn():
                pass
    async with admission.turn():  # the refused wait left every turn free
        order.append("after")
    assert order[-1] == "after"


async def test_no_limit_lets_every_operation_in():
    admission = Admission(0, wait_seconds=0.01)
    async with admission.turn(), admission.turn(), admission.turn():
        pass


async def test_an_operation_without_a_turn_is_a_retryable_503_and_its_key_moves_money_later_once(pg_url, clock):
    async with serve(pg_url, clock, max_concurrent_operations=1, max_query_seconds=0.5) as api:
        _, ada = await api.register("Ada")
        _, bob = await api.register("Bob")
        ada_account = await Account.get(lender__display_name="Ada")
        holder = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1).split("?")[0])
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute("SELECT 1 FROM account WHERE id = $1 FOR UPDATE", ada_account.id)
            # Ada's deposit takes the one turn and waits for her account.
            adas = asyncio.create_task(api.deposit(ada, "25.00"))
            await until_waiting(holder, "lendgraph_move_credit")

            key = new_key()
            variables = {"input": {"amount": "40.00", "idempotencyKey": key}}
            headers = {"Authorization": f"Bearer {bob}"}
            refused = await api.http.post("/graphql", json={"query": DEPOSIT, "variables": variables}, headers=headers)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) >= 1
            body = refused.json()
            assert body["data"] is None
            [error] = body["errors"]
            assert error["extensions"]["code"] == "UNAVAILABLE"
            assert not await IdempotencyKey.exists(key=key)  # nothing of it ran
            assert not adas.done()
            await transaction.rollback()
        finally:
            await holder.close()
        assert (await adas)["__typename"] == "DepositSuccess"

        # Sent again with its key, Bob's deposit runs now, once.
        for _ in range(2):
            again = await api.http.post("/graphql", json={"query": DEPOSIT, "variables": variables}, headers=headers)
            assert again.json()["data"]["deposit"] == {"__typename": "DepositSuccess", "lender": {"balance": "40.00"}}
        assert (await api.balance(ada), await api.balance(bob)) == ("25.00", "40.00")
