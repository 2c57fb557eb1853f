"""Every pair of money operations, run at the same moment on PostgreSQL, answers only successes and typed errors.

All of them act on one lender, Ada, and one field partner, so that every
pair shares accounts: Ada's, the partner's, the loans' and Ada's world
shard (her deposits and withdrawals; a loan's write-off uses the loan's).
Each round arranges fresh targets through the public API (a loan with one
share's room left, a full loan to repay, ...), then fires the two
operations together. A deadlock or a lost lock shows as an "Internal error"
(or, once the retries run out, UNAVAILABLE), which no round may answer;
after every pair the books must balance and Ada's balance must equal the
sum of her answers.
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from lending.ledger import check_books
from lending.loans import expire_loans
from models import Account, Loan, LoanStatus
from tests.api import Api, new_key, partner_token
from tests.clock import FakeClock

ROUNDS = 20

WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) {
  __typename ... on UserError { code message } } }"""
MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) {
  __typename ... on UserError { code message } } }"""
SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) {
  __typename ... on UserError { code message } } }"""
# Ada's rule lends to agriculture only; every other loan here is in retail, out of its reach.
RULE = {"criteria": {"sectors": ["AGRICULTURE"]}, "amountPerLoan": "25.00"}


@dataclass
class World:
    api: Api
    clock: FakeClock
    ada: str
    bob: str
    partner: str

    async def loan(self, amount: str, sector: str = "RETAIL", **fields: Any) -> str:
        return await self.api.loan_id(self.partner, amount=amount, sector=sector, **fields)

    async def lend(self, token: str, loan_id: str, amount: str = "25.00") -> None:
        assert (await self.api.lend(token, loan_id, amount))["__typename"] == "LendSuccess"


Fire = Callable[[], Awaitable[str]]  # returns the answer's __typename


async def deposit(world: World) -> Fire:
    return lambda: _typename(world.api.deposit(world.ada, "50.00"))


async def withdraw(world: World) -> Fire:
    variables = {"input": {"amount": "25.00", "idempotencyKey": new_key()}}
    return lambda: _field(world.api.data(WITHDRAW, variables, world.ada), "withdraw")


async def lend_that_fills(world: World) -> Fire:
    loan_id = await world.loan("50.00")
    await world.lend(world.bob, loan_id)
    return lambda: _typename(world.api.lend(world.ada, loan_id))


async def repay_to_ada(world: World) -> Fire:
    loan_id = await world.loan("50.00")
    await world.lend(world.ada, loan_id)
    await world.lend(world.bob, loan_id)  # fills it: the partner now holds 50.00 to pay back
    return lambda: _typename(world.api.repay(world.partner, loan_id, "50.00"))


async def auto_lend_that_fills(world: World) -> Fire:
    # Ada's rule is off while the loan is listed and Bob takes half; switching it on fills the loan.
    await world.api.data(SET_RULE, {"input": {**RULE, "enabled": False}}, world.ada)
    loan_id = await world.loan("50.00", sector="AGRICULTURE")
    await world.lend(world.bob, loan_id)
    return lambda: _field(world.api.data(SET_RULE, {"input": RULE}, world.ada), "setAutoLendRule")


async def mark_default(world: World) -> Fire:
    loan_id = await world.loan("25.00")
    await world.lend(world.ada, loan_id)
    return lambda: _field(world.api.data(MARK_DEFAULT, {"input": {"loanId": loan_id}}, world.partner), "markDefault")


async def expire(world: World) -> Fire:
    # The expiry timer's job, as the app runs it: refunds Ada's share of a loan past its deadline.
    loan_id = await world.loan("50.00", expiresAt=(world.clock() + timedelta(hours=1)).isoformat())
    await world.lend(world.ada, loan_id)
    world.clock.advance(hours=2)

    async def fire() -> str:
        return "Expired" if await expire_loans(world.clock()) else "NothingDue"

    return fire


async def _typename(answer: Awaitable[dict[str, Any]]) -> str:
    return (await answer)["__typename"]


async def _field(answer: Awaitable[dict[str, Any]], name: str) -> str:
    return (await answer)[name]["__typename"]


OPERATIONS = {
    "deposit": deposit,
    "withdraw": withdraw,
    "lend-that-fills": lend_that_fills,
    "repay-to-ada": repay_to_ada,
    "auto-lend-that-fills": auto_lend_that_fills,
    "mark-default": mark_default,
    "expire": expire,
}
# What each may answer: its success, or a refusal a client can act on. Never an error.
ANSWERS = {
    "deposit": {"DepositSuccess"},
    "withdraw": {"WithdrawSuccess", "InsufficientCredit"},
    "lend-that-fills": {"LendSuccess", "LoanNotFundraising", "ExceedsRemaining"},
    "repay-to-ada": {"PostRepaymentSuccess"},
    "auto-lend-that-fills": {"AutoLendRuleSuccess"},
    "mark-default": {"MarkDefaultSuccess"},
    "expire": {"Expired", "NothingDue"},  # two expiry runs at once: one finds the loan already expired
}
PAIRS = list(itertools.combinations_with_replacement(OPERATIONS, 2))


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
async def test_two_money_operations_at_once_answer_only_successes_and_typed_errors(pg_api, clock, first, second):
    partner = await partner_token()
    _, ada = await pg_api.funded_lender("100000.00", "Ada")
    _, bob = await pg_api.funded_lender("100000.00", "Bob")
    world = World(pg_api, clock, ada, bob, partner)

    for round_number in range(ROUNDS):
        fires = [await OPERATIONS[first](world), await OPERATIONS[second](world)]
        answers = await asyncio.gather(*(fire() for fire in fires))

        assert answers[0] in ANSWERS[first], (round_number, answers)
        assert answers[1] in ANSWERS[second], (round_number, answers)

    books = await check_books()
    assert books.ok, books.problems
    # Auto-lending did its work whatever ran beside it: a failure after commit is only logged, so look.
    for status, auto_funded in await Loan.filter(sector="AGRICULTURE").values_list("status", "auto_funded_cents"):
        assert (status, auto_funded) == (LoanStatus.FUNDED, 2500)
    balance = (await Account.get(lender__display_name="Ada")).balance_cents
    assert f"{balance / 100:.2f}" == await pg_api.balance(ada)
