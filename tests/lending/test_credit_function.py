"""Deposits and withdrawals on PostgreSQL: one call of lendgraph_move_credit (lending/credit.sql).

The function keeps the Python path's rules (lending.idempotency.run_once and
lending.ledger): the key first (a replay answers its first success, another
request under the key is a conflict), then the money, moved only if the
credit covers a withdrawal. It answers with the rows the API shows and
whether the lender has an enabled auto-lend rule. A refusal writes nothing.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from graph.ids import decode_id
from lending import accounts, autolend, funding
from lending.errors import IdempotencyConflict, InsufficientCredit
from lending.idempotency import fingerprint
from lending.ledger import check_books, world_account_for_lender
from lending.transactions import ATTEMPTS
from models import Account, IdempotencyKey, Lender, Transfer, TransferKind
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.pg_sessions import deadlocking, until_waiting
from tests.snapshot import changes, snapshot

SET_RULE = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) {
  __typename ... on UserError { code message } } }"""


@dataclass
class Stage:
    api: Api
    clock: FakeClock

    async def lender(self, credit: str | None = None, name: str = "Ada") -> tuple[int, str]:
        lender_id, token = await (self.api.funded_lender(credit, name) if credit else self.api.register(name))
        return decode_id(lender_id, "Lender"), token

    async def deposit(self, lender_id: int, amount: str, key: str = "k1") -> accounts.Moved:
        return await accounts.deposit(lender_id, amount, key, self.clock())

    async def withdraw(self, lender_id: int, amount: str, key: str = "k1") -> accounts.Moved:
        return await accounts.withdraw(lender_id, amount, key, self.clock())


@pytest.fixture
async def stage(pg_api: Api, clock: FakeClock) -> Stage:
    return Stage(pg_api, clock)


async def balance(lender_id: int) -> int:
    return await Account.get(lender_id=lender_id).values_list("balance_cents", flat=True)


@pytest.mark.parametrize("operation", ["deposit", "withdraw"])
async def test_credit_moves_between_the_lenders_world_shard_and_the_answer_shows_the_rows_left(stage, operation):
    ada, _ = await stage.lender("100.00")
    world = await world_account_for_lender(ada)
    account = await Account.get(lender_id=ada)
    world_before = await Account.get(id=world).values_list("balance_cents", flat=True)

    moved = await getattr(stage, operation)(ada, "40.00")

    sign = 1 if operation == "deposit" else -1
    assert await balance(ada) == 10000 + sign * 4000
    assert await Account.get(id=world).values_list("balance_cents", flat=True) == world_before - sign * 4000
    transfer = await Transfer.get(id=moved.transfer_id)
    kind = TransferKind.DEPOSIT if operation == "deposit" else TransferKind.WITHDRAWAL
    ends = (world, account.id) if operation == "deposit" else (account.id, world)
    assert (transfer.kind, transfer.source_id, transfer.destination_id, transfer.amount_cents) == (kind, *ends, 4000)
    # The rows answered are the rows stored.
    assert moved.account_id == account.id and moved.transfer is not None and moved.lender is not None
    for model, row in ((Transfer, moved.transfer), (Lender, moved.lender)):
        stored = await model.get(id=row.id).values()
        assert {name: getattr(row, name) for name in stored} == stored
    key = await IdempotencyKey.get(actor=f"lender:{ada}", key="k1")
    assert (key.operation, key.result) == (operation, {"transfer_id": moved.transfer_id})
    assert key.fingerprint == fingerprint(operation, {"amount": 4000})
    assert (await check_books()).ok


async def test_a_withdrawal_beyond_the_credit_says_what_is_available_and_writes_nothing(stage):
    ada, _ = await stage.lender("60.00")
    before = await snapshot()

    with pytest.raises(InsufficientCredit) as refused:
        await stage.withdraw(ada, "60.01")

    assert (refused.value.needed, refused.value.available) == (6001, 6000)
    after = await snapshot()
    assert after == before, changes(before, after)
    # The key stayed free: the same key can be used for what the credit covers.
    assert (await stage.withdraw(ada, "60.00")).transfer is not None


@pytest.mark.parametrize("operation", ["deposit", "withdraw"])
async def test_a_replay_answers_its_first_success_after_the_balance_changed_and_moves_nothing(stage, operation):
    ada, _ = await stage.lender("100.00")
    first = await getattr(stage, operation)(ada, "60.00", key="once")
    await stage.withdraw(ada, "40.00" if operation == "withdraw" else "160.00", key="the-rest")  # nothing left
    before = await snapshot()

    replay = await getattr(stage, operation)(ada, "60.00", key="once")

    assert replay.transfer_id == first.transfer_id
    assert replay.transfer is not None and replay.transfer.amount_cents == 6000
    after = await snapshot()
    assert after == before, changes(before, after)


@pytest.mark.parametrize("other", ["another-amount", "the-key-of-a-deposit", "the-key-of-a-lend"])
async def test_the_same_key_with_another_request_is_a_conflict_before_any_other_refusal(stage, other):
    ada, _ = await stage.lender("100.00")
    loan_id = decode_id(await stage.api.loan_id(await partner_token(), amount="50.00"), "Loan")
    await stage.withdraw(ada, "10.00", key="withdrawn")
    await stage.deposit(ada, "10.00", key="deposited")
    await funding.lend(ada, loan_id, "25.00", "lent", stage.clock())
    before = await snapshot()

    with pytest.raises(IdempotencyConflict):
        if other == "another-amount":  # more than the credit, too
            await stage.withdraw(ada, "500.00", key="withdrawn")
        elif other == "the-key-of-a-deposit":
            await stage.withdraw(ada, "10.00", key="deposited")
        else:
            await stage.deposit(ada, "25.00", key="lent")

    after = await snapshot()
    assert after == before, changes(before, after)


@pytest.mark.parametrize("operation", ["deposit", "withdraw"])
async def test_duplicates_sent_at_once_move_credit_once_and_all_answer_that_success(stage, operation):
    """The copies wait for the first one's key, then find it stored; a withdrawal of all the credit too."""
    ada, _ = await stage.lender("100.00")

    answers = await asyncio.gather(*(getattr(stage, operation)(ada, "100.00", key="same") for _ in range(8)))

    transfers = await Transfer.filter(kind__in=["WITHDRAWAL"] if operation == "withdraw" else ["DEPOSIT"])
    assert len(transfers) == (1 if operation == "withdraw" else 2)  # the deposit that funded Ada, and this one
    assert {moved.transfer_id for moved in answers} == {transfers[-1].id}
    assert await balance(ada) == (0 if operation == "withdraw" else 20000)
    assert (await check_books()).ok


async def test_a_withdrawal_and_a_lend_racing_for_the_same_credit_one_wins(stage):
    ada, _ = await stage.lender("25.00")
    loan_id = decode_id(await stage.api.loan_id(await partner_token(), amount="100.00"), "Loan")

    outcomes = await asyncio.gather(
        stage.withdraw(ada, "25.00", key="out"),
        funding.lend(ada, loan_id, "25.00", "in", stage.clock()),
        return_exceptions=True,
    )

    refusals = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(refusals) == 1 and isinstance(refused := refusals[0], InsufficientCredit), outcomes
    assert (refused.needed, refused.available) == (2500, 0)
    assert await balance(ada) == 0
    assert await Transfer.filter(kind__in=["WITHDRAWAL", "LOAN_SHARE"]).count() == 1
    assert await IdempotencyKey.filter(actor=f"lender:{ada}", key__in=["out", "in"]).count() == 1  # the winner's
    assert (await check_books()).ok


async def test_credit_spent_while_the_withdrawal_waited_for_the_account_is_refused_and_rolled_back(stage, pg_url):
    """The credit is read before the key, and checked again under the account's lock."""
    ada, _ = await stage.lender("25.00")
    loan_id = decode_id(await stage.api.loan_id(await partner_token(), amount="100.00"), "Loan")
    loan_account = await Account.get(loan_id=loan_id)
    account = await Account.get(lender_id=ada)
    before = await snapshot()
    other = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1).split("?")[0])
    try:
        lend = other.transaction()
        await lend.start()
        # A lend of all the credit, not yet committed: the withdrawal reads 25.00 and goes on to the locks.
        await other.execute("UPDATE account SET balance_cents = balance_cents - 2500 WHERE id = $1", account.id)
        await other.execute("UPDATE account SET balance_cents = balance_cents + 2500 WHERE id = $1", loan_account.id)
        withdrawing = asyncio.create_task(stage.withdraw(ada, "25.00"))
        await until_waiting(other, "lendgraph_move_credit")
        await lend.commit()

        with pytest.raises(InsufficientCredit) as refused:
            await withdrawing
        # Undo the stand-in lend, so that the snapshot compares what the withdrawal wrote.
        await other.execute("UPDATE account SET balance_cents = balance_cents + 2500 WHERE id = $1", account.id)
        await other.execute("UPDATE account SET balance_cents = balance_cents - 2500 WHERE id = $1", loan_account.id)
    finally:
        await other.close()

    assert (refused.value.needed, refused.value.available) == (2500, 0)
    after = await snapshot()
    assert after == before, changes(before, after)  # no key, no transfer, no change to any balance


async def test_a_deposit_runs_auto_lending_after_it_only_for_a_lender_with_an_enabled_rule(stage, monkeypatch):
    ran: list[list[int]] = []

    async def after_credit(lender_ids: list[int], now: Any) -> None:
        ran.append(lender_ids)

    ada, _ = await stage.lender(name="Ada")
    bob, bob_token = await stage.lender(name="Bob")
    assert (await stage.api.data(SET_RULE, token=bob_token))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
    monkeypatch.setattr(autolend, "after_credit", after_credit)

    await stage.deposit(ada, "50.00", key="a")
    await stage.deposit(bob, "50.00", key="b")
    await stage.deposit(bob, "50.00", key="b")  # a replay runs it too, as the Python path does

    assert ran == [[bob], [bob]]


@pytest.mark.parametrize("failures", [ATTEMPTS - 1, ATTEMPTS])
async def test_a_deposit_the_database_aborts_is_called_again_up_to_the_attempts_of_a_transaction(
    stage, monkeypatch, failures
):
    ada, _ = await stage.lender()
    with deadlocking(monkeypatch, "lendgraph_move_credit", failures) as calls:
        if failures < ATTEMPTS:
            assert (await stage.deposit(ada, "10.00")).transfer is not None
        else:
            with pytest.raises(asyncpg.exceptions.DeadlockDetectedError):
                await stage.deposit(ada, "10.00")

    assert len(calls) == ATTEMPTS
    assert await balance(ada) == (1000 if failures < ATTEMPTS else 0)
