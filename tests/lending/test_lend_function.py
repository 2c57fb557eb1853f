"""A lend on PostgreSQL: one call of lendgraph_lend (lending/lend.sql), through lending.funding.lend.

The function keeps funding.py's rules: the key first (a replay answers its
first success, another request under the key is a conflict), then the
refusals, in the same order and with the same typed errors, then the money,
the share and the events. It answers with the rows as it left them, so the
API reads nothing more. A refused lend writes nothing at all.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from graph.ids import decode_id
from lending import funding
from lending.errors import ExceedsRemaining, IdempotencyConflict, InsufficientCredit, LoanNotFundraising, NotFound
from lending.idempotency import fingerprint
from lending.ledger import world_account_for_lender
from lending.transactions import ATTEMPTS
from models import Account, Event, IdempotencyKey, Lender, Loan, LoanStatus, Share, Transfer
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.pg_sessions import deadlocking, until_waiting
from tests.snapshot import changes, snapshot


@dataclass
class Stage:
    api: Api
    clock: FakeClock
    partner: str

    async def loan(self, amount: str, **fields: Any) -> int:
        return decode_id(await self.api.loan_id(self.partner, amount=amount, **fields), "Loan")

    async def lender(self, credit: str, name: str) -> int:
        lender_id, _ = await self.api.funded_lender(credit, name)
        return decode_id(lender_id, "Lender")

    async def lend(self, lender_id: int, loan_id: int, amount: str = "25.00", key: str = "k1") -> funding.Lent:
        return await funding.lend(lender_id, loan_id, amount, key, self.clock())


@pytest.fixture
async def stage(pg_api: Api, clock: FakeClock) -> Stage:
    return Stage(pg_api, clock, await partner_token())


async def events(loan_id: int) -> list[tuple[str, int | None, dict[str, Any]]]:
    rows = await Event.filter(loan_id=loan_id).order_by("id").values_list("kind", "lender_id", "payload")
    return [(str(kind), lender_id, payload) for kind, lender_id, payload in rows]


def progress(added: int, amount: int, funded: int, lenders: int, status: str = "FUNDRAISING") -> dict[str, Any]:
    return {"amount_added": added, "amount": amount, "funded": funded, "lender_count": lenders, "status": status}


async def test_a_lend_moves_credit_into_a_new_share_and_answers_with_the_rows_it_left(stage):
    ada, loan_id = await stage.lender("60.00", "Ada"), await stage.loan("100.00")

    lent = await stage.lend(ada, loan_id, "50.00")

    assert lent.loan is not None and lent.share is not None and lent.lender is not None
    assert (lent.loan.funded_cents, lent.loan.lender_count, lent.loan.status) == (5000, 1, LoanStatus.FUNDRAISING)
    assert (lent.share.id, lent.share.amount_cents, lent.share.lender_id) == (lent.share_id, 5000, ada)
    assert lent.lender.last_lent_at == stage.clock()
    # The rows answered are the rows stored.
    for model, row in ((Loan, lent.loan), (Share, lent.share), (Lender, lent.lender)):
        stored = await model.get(id=row.id).values()
        assert {name: getattr(row, name) for name in stored} == stored
    assert await Account.get(lender_id=ada).values_list("balance_cents", flat=True) == 1000
    loan_account = await Account.get(loan_id=loan_id)
    assert loan_account.balance_cents == 5000
    transfer = await Transfer.get(kind="LOAN_SHARE")
    assert (transfer.amount_cents, transfer.destination_id, transfer.loan_id) == (5000, loan_account.id, loan_id)
    key = await IdempotencyKey.get(actor=f"lender:{ada}", key="k1")
    assert (key.operation, key.result) == ("lend", {"loan_id": loan_id, "share_id": lent.share_id})
    assert key.fingerprint == fingerprint("lend", {"loan": loan_id, "amount": 5000})
    assert (await events(loan_id))[1:] == [("SHARE_ADDED", None, progress(5000, 10000, 5000, 1))]  # after LOAN_LISTED


async def test_lending_again_grows_the_share_and_counts_the_lender_once(stage):
    ada, loan_id = await stage.lender("100.00", "Ada"), await stage.loan("100.00")
    first = await stage.lend(ada, loan_id, key="k1")

    again = await stage.lend(ada, loan_id, "50.00", key="k2")

    assert again.share_id == first.share_id
    assert again.share is not None and again.share.amount_cents == 7500
    assert again.loan is not None and (again.loan.funded_cents, again.loan.lender_count) == (7500, 1)
    assert await Share.all().values_list("amount_cents", flat=True) == [7500]
    assert (await events(loan_id))[-1] == ("SHARE_ADDED", None, progress(5000, 10000, 7500, 1))


async def test_the_lend_that_fills_the_loan_funds_it_disburses_it_and_tells_every_lender(stage):
    ada, bob = await stage.lender("50.00", "Ada"), await stage.lender("25.00", "Bob")
    loan_id = await stage.loan("75.00")
    await stage.lend(ada, loan_id, key="a1")
    await stage.lend(bob, loan_id, key="b1")

    full = await stage.lend(ada, loan_id, key="a2")

    assert full.loan is not None
    assert (full.loan.status, full.loan.funded_at, full.loan.lender_count) == (LoanStatus.FUNDED, stage.clock(), 2)
    loan = await Loan.get(id=loan_id)
    assert (loan.status, loan.funded_cents, loan.funded_at) == (LoanStatus.FUNDED, 7500, stage.clock())
    partner_account = await Account.get(partner_id=loan.partner_id)
    assert partner_account.balance_cents == 7500
    assert await Account.get(loan_id=loan_id).values_list("balance_cents", flat=True) == 0
    disbursed = await Transfer.get(kind="DISBURSEMENT")
    assert (disbursed.amount_cents, disbursed.destination_id) == (7500, partner_account.id)
    # The share's progress still says FUNDRAISING (as the Python path writes it); LOAN_FUNDED follows,
    # on the loan's stream and then on each lender's, in lender id order.
    assert (await events(loan_id))[3:] == [  # after LOAN_LISTED and the first two shares
        ("SHARE_ADDED", None, progress(2500, 7500, 7500, 2)),
        ("LOAN_FUNDED", None, progress(0, 7500, 7500, 2, "FUNDED")),
        ("LOAN_FUNDED", min(ada, bob), {}),
        ("LOAN_FUNDED", max(ada, bob), {}),
    ]


REFUSALS = {
    "loan-missing": (None, "25.00", NotFound, {"what": "loan"}),
    "loan-funded": ("full", "25.00", LoanNotFundraising, {"status": "FUNDED"}),
    "loan-past-its-deadline": ("closing", "25.00", LoanNotFundraising, {"status": "past its deadline"}),
    "more-than-remains": ("open", "100.00", ExceedsRemaining, {"remaining": 7500}),
    "more-than-the-credit": ("open", "75.00", InsufficientCredit, {"needed": 7500, "available": 6000}),
    # The loan's refusal comes before the credit's, as on the Python path.
    "funded-and-more-than-the-credit": ("full", "75.00", LoanNotFundraising, {"status": "FUNDED"}),
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_a_refused_lend_says_why_with_the_python_paths_error_and_writes_nothing(stage, case):
    target, amount, error, details = REFUSALS[case]
    ada, bob = await stage.lender("60.00", "Ada"), await stage.lender("50.00", "Bob")
    loans = {
        "open": await stage.loan("100.00"),
        "full": await stage.loan("25.00"),
        "closing": await stage.loan("100.00", expiresAt=(stage.clock() + timedelta(days=1)).isoformat()),
    }
    await stage.lend(bob, loans["open"], key="b1")
    await stage.lend(bob, loans["full"], key="b2")
    stage.clock.advance(days=2)
    before = await snapshot()

    with pytest.raises(error) as refused:
        await stage.lend(ada, loans[target] if target else 999_999, amount, key="new")

    assert {name: getattr(refused.value, name) for name in details} == details
    after = await snapshot()
    assert after == before, changes(before, after)


async def test_a_replay_answers_its_first_success_whatever_happened_since_and_moves_nothing(stage):
    ada, bob = await stage.lender("25.00", "Ada"), await stage.lender("25.00", "Bob")
    loan_id = await stage.loan("50.00")
    first = await stage.lend(ada, loan_id, key="once")
    await stage.lend(bob, loan_id, key="fills")  # the loan is FUNDED, Ada's credit is spent
    before = await snapshot()

    replay = await stage.lend(ada, loan_id, key="once")

    assert (replay.loan_id, replay.share_id) == (first.loan_id, first.share_id)
    assert replay.loan is not None and replay.loan.status is LoanStatus.FUNDED  # the loan as it is now
    assert replay.share is not None and replay.share.amount_cents == 2500
    after = await snapshot()
    assert after == before, changes(before, after)


@pytest.mark.parametrize("other", ["another-amount", "another-loan", "the-key-of-a-deposit"])
async def test_the_same_key_with_another_request_is_a_conflict_before_any_other_refusal(stage, other):
    ada_id, ada_token = await stage.api.funded_lender("100.00", "Ada")
    ada = decode_id(ada_id, "Lender")
    loan_id, other_loan = await stage.loan("50.00"), await stage.loan("50.00")
    await stage.lend(ada, loan_id, key="used")
    assert (await stage.api.deposit(ada_token, "10.00", key="deposited"))["__typename"] == "DepositSuccess"
    before = await snapshot()

    with pytest.raises(IdempotencyConflict):
        if other == "another-amount":  # more than remains, too
            await stage.lend(ada, loan_id, "50.00", key="used")
        elif other == "another-loan":
            await stage.lend(ada, other_loan, key="used")
        else:
            await stage.lend(ada, loan_id, key="deposited")

    after = await snapshot()
    assert after == before, changes(before, after)


@pytest.mark.parametrize("room", ["plenty", "for-one"])
async def test_duplicates_sent_at_once_lend_once_and_all_answer_that_success(stage, room):
    """The copies that wait behind the first for the loan row find its key once they have it."""
    ada = await stage.lender("100.00", "Ada")
    loan_id = await stage.loan("1000.00" if room == "plenty" else "25.00")

    answers = await asyncio.gather(*(stage.lend(ada, loan_id, key="same") for _ in range(8)))

    assert {(lent.loan_id, lent.share_id) for lent in answers} == {(loan_id, (await Share.get()).id)}
    assert await Transfer.filter(kind="LOAN_SHARE").count() == 1
    assert await Loan.get(id=loan_id).values_list("funded_cents", flat=True) == 2500
    assert await Account.get(lender_id=ada).values_list("balance_cents", flat=True) == 7500


async def test_credit_spent_while_the_lend_waited_for_the_account_is_refused_and_rolled_back(stage, pg_url):
    """Credit is read before the loan's lock, and checked again under the account's lock."""
    ada, loan_id = await stage.lender("25.00", "Ada"), await stage.loan("100.00")
    world = await Account.get(id=await world_account_for_lender(ada))
    account = await Account.get(lender_id=ada)
    other = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1).split("?")[0])
    try:
        withdrawal = other.transaction()
        await withdrawal.start()
        # A withdrawal of everything, not yet committed: the lend reads 25.00 and goes on to the locks.
        await other.execute("UPDATE account SET balance_cents = balance_cents - 2500 WHERE id = $1", account.id)
        await other.execute("UPDATE account SET balance_cents = balance_cents + 2500 WHERE id = $1", world.id)
        await other.execute(
            "INSERT INTO transfer (kind, source_id, destination_id, amount_cents, created_at)"
            " VALUES ('WITHDRAWAL', $1, $2, 2500, now())",
            account.id,
            world.id,
        )
        lending = asyncio.create_task(stage.lend(ada, loan_id))
        await until_waiting(other, "lendgraph_lend")
        await withdrawal.commit()

        with pytest.raises(InsufficientCredit) as refused:
            await lending
    finally:
        await other.close()

    assert (refused.value.needed, refused.value.available) == (2500, 0)
    loan = await Loan.get(id=loan_id)
    assert (loan.funded_cents, loan.lender_count) == (0, 0)
    assert await Share.all().count() == 0
    assert not await IdempotencyKey.filter(actor=f"lender:{ada}", key="k1").exists()
    assert await events(loan_id) == [("LOAN_LISTED", None, progress(0, 10000, 0, 0))]


@pytest.mark.parametrize("failures", [ATTEMPTS - 1, ATTEMPTS])
async def test_a_lend_the_database_aborts_is_called_again_up_to_the_attempts_of_a_transaction(
    stage, monkeypatch, failures
):
    ada, loan_id = await stage.lender("25.00", "Ada"), await stage.loan("100.00")
    with deadlocking(monkeypatch, "lendgraph_lend", failures) as calls:
        if failures < ATTEMPTS:
            assert (await stage.lend(ada, loan_id)).share is not None
        else:
            with pytest.raises(asyncpg.exceptions.DeadlockDetectedError):
                await stage.lend(ada, loan_id)

    assert len(calls) == ATTEMPTS
    assert await Share.all().count() == (1 if failures < ATTEMPTS else 0)
