"""A batch of transfers (lending.ledger.transfer_many) moves together, or not at all.

Repayments and auto-lending move money for many lenders at once: each
account changes by what it receives less what it pays, in one statement,
and a batch that would leave any account but the world below zero is
refused whole with InsufficientCredit, like a single transfer.
"""

from datetime import UTC, datetime

import pytest

from graph.ids import decode_id
from lending import ledger
from lending.errors import InsufficientCredit
from lending.transactions import atomic
from models import Account, Transfer, TransferKind
from tests.api import Api

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


async def lender_accounts(api: Api, *deposits: str) -> list[int]:
    """A lender with each deposit (none when empty), as account ids."""
    ids = []
    for n, amount in enumerate(deposits):
        lender_id = decode_id((await api.funded_lender(amount, f"L{n}"))[0], "Lender")
        ids.append((await Account.get(lender_id=lender_id)).id)
    return ids


async def move(accounts: list[int], moves: list[ledger.Move]) -> None:
    async def work() -> None:
        await ledger.lock_accounts(accounts)
        await ledger.transfer_many(moves, NOW)

    await atomic(work)


async def test_a_batch_moves_every_transfer_in_the_order_given(api):
    ada, bob, cy = await lender_accounts(api, "30.00", "10.00", "5.00")

    # Ada pays Bob 30.00 while Bob pays Cy 35.00: fine as a whole, as Bob ends at 5.00.
    await move(
        [ada, bob, cy],
        [
            ledger.Move(TransferKind.LOAN_SHARE, ada, bob, 3000),
            ledger.Move(TransferKind.LOAN_SHARE, bob, cy, 3500),
        ],
    )

    balances = dict(await Account.filter(id__in=[ada, bob, cy]).values_list("id", "balance_cents"))
    assert balances == {ada: 0, bob: 500, cy: 4000}
    batch = await Transfer.filter(kind=TransferKind.LOAN_SHARE).order_by("id")
    assert [(t.source_id, t.destination_id, t.amount_cents, t.created_at) for t in batch] == [
        (ada, bob, 3000, NOW),
        (bob, cy, 3500, NOW),
    ]
    assert (await ledger.check_books()).ok


async def test_a_batch_that_would_overdraw_a_lender_moves_nothing(api):
    ada, bob = await lender_accounts(api, "30.00", "10.00")

    with pytest.raises(InsufficientCredit) as refused:
        await move(
            [ada, bob],
            [
                ledger.Move(TransferKind.LOAN_SHARE, bob, ada, 500),
                ledger.Move(TransferKind.LOAN_SHARE, ada, bob, 4000),  # Ada has 35.00 by then
            ],
        )

    assert (refused.value.needed, refused.value.available) == (3500, 3000)  # what Ada pays, net, and has
    balances = dict(await Account.filter(id__in=[ada, bob]).values_list("id", "balance_cents"))
    assert balances == {ada: 3000, bob: 1000}
    assert await Transfer.filter(kind=TransferKind.LOAN_SHARE).count() == 0


async def test_a_batch_through_an_account_not_locked_is_refused(api):
    ada, bob = await lender_accounts(api, "30.00", "10.00")

    with pytest.raises(RuntimeError, match="without lock_accounts"):
        await move([ada], [ledger.Move(TransferKind.LOAN_SHARE, ada, bob, 500)])

    assert await Account.get(id=bob).values_list("balance_cents", flat=True) == 1000
