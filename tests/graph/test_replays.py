"""A money mutation retried with its idempotency key answers its first success, whatever happened since.

A client whose request timed out cannot know whether it ran; it sends the
same request again with the same key. By then the loan may have filled,
expired or been repaid, or the credit may be spent: the retry must still
answer the stored success and move nothing. The same key with any other
input is an IdempotencyConflict, on every path, even one that would
otherwise be refused for another reason.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from lending.loans import expire_loans
from models import IdempotencyKey, Transfer
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.snapshot import Snapshot, changes, snapshot

WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) {
  __typename ... on UserError { code message } ... on WithdrawSuccess { transaction { amount } } } }"""


@dataclass
class World:
    api: Api
    clock: FakeClock
    partner: str
    ada: str
    bob: str

    async def snapshot(self) -> Snapshot:
        """Every row, once the lenders' tokens have been seen (a request records when, once a minute)."""
        for token in (self.ada, self.bob):
            await self.api.data("{ me { id } }", token=token)
        return await snapshot()

    async def unchanged_since(self, before: Snapshot) -> None:
        after = await snapshot()
        assert after == before, changes(before, after)

    async def withdraw(self, token: str, amount: str, key: str) -> dict[str, Any]:
        variables = {"input": {"amount": amount, "idempotencyKey": key}}
        return (await self.api.data(WITHDRAW, variables, token))["withdraw"]


@pytest.fixture
async def world(api: Api, clock: FakeClock) -> World:
    partner = await partner_token()
    _, ada = await api.funded_lender("100.00", "Ada")
    _, bob = await api.funded_lender("1000.00", "Bob")
    return World(api, clock, partner, ada, bob)


async def loan_filled_by_bob(w: World, loan_id: str) -> None:
    result = await w.api.lend(w.bob, loan_id, "75.00")
    assert result["__typename"] == "LendSuccess", result


async def loan_expired(w: World, loan_id: str) -> None:
    w.clock.advance(days=31)
    assert await expire_loans(w.clock())


async def loan_repaid(w: World, loan_id: str) -> None:
    await loan_filled_by_bob(w, loan_id)
    assert (await w.api.repay(w.partner, loan_id, "100.00"))["__typename"] == "PostRepaymentSuccess"


async def loan_defaulted(w: World, loan_id: str) -> None:
    await loan_filled_by_bob(w, loan_id)
    mutation = "mutation($id: ID!) { markDefault(input: {loanId: $id}) { __typename } }"
    assert (await w.api.data(mutation, {"id": loan_id}, w.partner))["markDefault"]["__typename"] == "MarkDefaultSuccess"


async def credit_spent(w: World, loan_id: str) -> None:
    assert (await w.withdraw(w.ada, "75.00", "spend-it"))["__typename"] == "WithdrawSuccess"


Since = Callable[[World, str], Awaitable[None]]
WHAT_HAPPENED_SINCE: list[Since] = [loan_filled_by_bob, loan_expired, loan_repaid, loan_defaulted, credit_spent]


@pytest.mark.parametrize("since", WHAT_HAPPENED_SINCE, ids=lambda since: since.__name__)
async def test_a_lend_replayed_after_the_world_changed_answers_its_success_and_moves_nothing(world, since):
    deadline = (world.clock() + timedelta(days=30)).isoformat()
    loan_id = await world.api.loan_id(world.partner, amount="100.00", expiresAt=deadline)
    first = await world.api.lend(world.ada, loan_id, "25.00", key="lend-once")
    assert first["__typename"] == "LendSuccess"
    await since(world, loan_id)
    before = await world.snapshot()

    replay = await world.api.lend(world.ada, loan_id, "25.00", key="lend-once")

    assert replay["__typename"] == "LendSuccess", replay
    assert replay["share"] == {"amount": "25.00"}
    await world.unchanged_since(before)


async def rest_repaid(w: World, loan_id: str) -> None:
    assert (await w.api.repay(w.partner, loan_id, "60.00"))["__typename"] == "PostRepaymentSuccess"


async def defaulted(w: World, loan_id: str) -> None:
    mutation = "mutation($id: ID!) { markDefault(input: {loanId: $id}) { __typename } }"
    assert (await w.api.data(mutation, {"id": loan_id}, w.partner))["markDefault"]["__typename"] == "MarkDefaultSuccess"


@pytest.mark.parametrize("since", [rest_repaid, defaulted], ids=lambda since: since.__name__)
async def test_a_repayment_replayed_after_the_loan_ended_answers_its_success(world, since):
    loan_id = await world.api.loan_id(world.partner, amount="100.00")
    await world.api.lend(world.ada, loan_id, "25.00")
    await loan_filled_by_bob(world, loan_id)
    first = await world.api.repay(world.partner, loan_id, "40.00", key="repay-once")
    assert first["__typename"] == "PostRepaymentSuccess"
    await since(world, loan_id)
    before = await world.snapshot()

    replay = await world.api.repay(world.partner, loan_id, "40.00", key="repay-once")

    assert replay["__typename"] == "PostRepaymentSuccess", replay
    assert replay["amount"] == "40.00"
    await world.unchanged_since(before)


async def test_a_withdrawal_replayed_after_the_credit_is_gone_answers_its_success(world):
    assert (await world.withdraw(world.ada, "60.00", "out-once"))["__typename"] == "WithdrawSuccess"
    assert (await world.withdraw(world.ada, "40.00", "the-rest"))["__typename"] == "WithdrawSuccess"
    before = await world.snapshot()

    replay = await world.withdraw(world.ada, "60.00", "out-once")

    assert replay == {"__typename": "WithdrawSuccess", "transaction": {"amount": "-60.00"}}
    await world.unchanged_since(before)
    assert await world.api.balance(world.ada) == "0.00"


async def test_a_deposit_replayed_after_it_was_lent_and_withdrawn_answers_its_success(world):
    first = await world.api.deposit(world.ada, "30.00", key="in-once")
    loan_id = await world.api.loan_id(world.partner, amount="100.00")
    await world.api.lend(world.ada, loan_id, "100.00")
    await world.withdraw(world.ada, "30.00", "out")
    before = await world.snapshot()

    replay = await world.api.deposit(world.ada, "30.00", key="in-once")

    assert replay["__typename"] == "DepositSuccess"
    assert replay["transaction"] == first["transaction"]
    await world.unchanged_since(before)


async def test_a_key_reused_for_other_input_is_a_conflict_even_where_the_input_would_be_refused(world):
    loan_id = await world.api.loan_id(world.partner, amount="100.00")
    assert (await world.api.lend(world.ada, loan_id, "25.00", key="used"))["__typename"] == "LendSuccess"
    await loan_filled_by_bob(world, loan_id)
    other = await world.api.loan_id(world.partner, amount="100.00")
    missing = "TG9hbjo5OTk5OTk="  # Loan:999999
    before = await world.snapshot()

    attempts = [
        world.api.lend(world.ada, loan_id, "50.00", key="used"),  # more than remains (nothing remains)
        world.api.lend(world.ada, other, "25.00", key="used"),  # another loan, which could take it
        world.api.lend(world.ada, missing, "25.00", key="used"),  # a loan that does not exist
        world.api.lend(world.ada, other, "1000.00", key="used"),  # more than Ada has
        world.api.deposit(world.ada, "25.00", key="used"),  # another operation
        world.withdraw(world.ada, "500.00", "used"),  # another operation, which would be refused
    ]
    for attempt in attempts:
        answer = await attempt
        assert answer["__typename"] == "IdempotencyConflict", answer

    await world.unchanged_since(before)


async def test_each_key_is_stored_once_and_moves_money_once(world):
    loan_id = await world.api.loan_id(world.partner, amount="100.00")
    for _ in range(3):
        await world.api.lend(world.ada, loan_id, "25.00", key="thrice")
    await loan_filled_by_bob(world, loan_id)
    await world.api.lend(world.ada, loan_id, "25.00", key="thrice")

    assert await IdempotencyKey.filter(key="thrice").count() == 1
    assert await Transfer.filter(kind="LOAN_SHARE", amount_cents=2500).count() == 1
