"""lending.ledger's world shards: which world account a transfer uses, and how a database gains them.

Money outside the platform is spread over `WORLD_SHARDS` world accounts, so that deposits and
withdrawals of different lenders do not all lock one row. A lender's deposits and withdrawals use
the shard at the lender's id modulo the count (over the world accounts in id order), a loan's
write-off and currency losses the shard at the loan's id. `lendgraph migrate` creates the missing
shards: a database made when the world was one account keeps it and gains the rest, once.
The same through the API, concurrently on PostgreSQL: tests/graph/test_world_shards.py.
"""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lending import pg_functions
from lending.accounts import deposit, register_lender, withdraw
from lending.ledger import (
    WORLD_SHARDS,
    check_books,
    prepare_database,
    world_account_for_lender,
    world_account_for_loan,
    world_account_ids,
)
from models import Account, AccountKind, Transfer, TransferKind, db
from tests import services

NOW = datetime(2026, 3, 2, tzinfo=UTC)


async def world_ids() -> list[int]:
    """The world accounts' ids, read from the database."""
    return await Account.filter(kind=AccountKind.WORLD).order_by("id").values_list("id", flat=True)


async def world_balance() -> int:
    """The world's balance: the sum over its shards."""
    return sum(await Account.filter(kind=AccountKind.WORLD).values_list("balance_cents", flat=True))


# --- the shard a transfer uses --------------------------------------------------------------------------


async def test_a_lender_uses_the_shard_at_its_id_modulo_the_count(api):
    ids = await world_ids()
    assert len(ids) == WORLD_SHARDS == len(await world_account_ids())
    assert [await world_account_for_lender(lender_id) for lender_id in range(2 * WORLD_SHARDS)] == ids + ids
    # Lenders with consecutive ids never share a shard, up to the count.
    assert len({await world_account_for_lender(lender_id) for lender_id in range(1, WORLD_SHARDS + 1)}) == WORLD_SHARDS


async def test_a_loan_uses_the_shard_at_its_id_modulo_the_count(api):
    ids = await world_ids()
    assert [await world_account_for_loan(loan_id) for loan_id in range(2 * WORLD_SHARDS)] == ids + ids


async def test_deposits_and_withdrawals_move_money_through_the_lenders_shard_only(api):
    ada, _ = await register_lender("Ada", "ada@example.org")
    bob, _ = await register_lender("Bob", "bob@example.org")
    await deposit(ada.id, "100.00", "a1", NOW)
    await withdraw(ada.id, "40.00", "a2", NOW)
    await deposit(bob.id, "25.00", "b1", NOW)

    ids = await world_ids()
    ada_shard, bob_shard = ids[ada.id % WORLD_SHARDS], ids[bob.id % WORLD_SHARDS]
    assert ada_shard != bob_shard
    moved = await Transfer.all().order_by("id").values_list("kind", "source_id", "destination_id")
    ada_account, bob_account = (await Account.get(lender_id=ada.id)).id, (await Account.get(lender_id=bob.id)).id
    assert moved == [
        (TransferKind.DEPOSIT, ada_shard, ada_account),
        (TransferKind.WITHDRAWAL, ada_account, ada_shard),
        (TransferKind.DEPOSIT, bob_shard, bob_account),
    ]
    balances = dict(await Account.filter(kind=AccountKind.WORLD).values_list("id", "balance_cents"))
    assert (balances.pop(ada_shard), balances.pop(bob_shard)) == (-6000, -2500)
    assert set(balances.values()) == {0}


# --- a database made with one world account gains the rest ----------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    request.getfixturevalue("pg_url")  # skips, or fails under REQUIRE_SERVICES, without PostgreSQL
    with services.empty_pg_database() as url:
        yield url


@pytest.fixture
async def old_database(empty_database: str) -> AsyncIterator[str]:
    """A migrated database as `lendgraph migrate` left it when the world was one account, with money moved."""
    await db.migrate(empty_database)
    await db.disconnect()
    await db.connect(empty_database)
    try:
        await pg_functions.install()  # the deposit below is a call of one on PostgreSQL
        await Account.create(kind=AccountKind.WORLD)
        ada, _ = await register_lender("Ada", "ada@example.org")
        await deposit(ada.id, "100.00", "before", NOW)
    finally:
        await db.disconnect()
    yield empty_database
    await db.disconnect()


async def test_migrate_gives_an_old_database_the_missing_shards_once(old_database):
    await db.connect(old_database)
    (old_world,) = await world_ids()
    await db.disconnect()

    await prepare_database(old_database)  # what `lendgraph migrate` does

    await db.connect(old_database)
    ids = await world_ids()
    # The old world account is the first shard, its balance and transfers kept.
    assert len(ids) == WORLD_SHARDS and ids[0] == old_world
    assert (await Account.get(id=old_world)).balance_cents == -10000 == await world_balance()
    assert (await check_books()).ok
    await db.disconnect()

    await prepare_database(old_database)  # again: nothing to add

    await db.connect(old_database)
    assert await world_ids() == ids
    # The lender now moves money through its own shard; the world is still minus what lenders hold.
    ada = (await Account.get(kind=AccountKind.LENDER)).lender_id
    assert ada is not None
    await withdraw(ada, "30.00", "after", NOW)
    assert (await Transfer.get(kind=TransferKind.WITHDRAWAL)).destination_id == ids[ada % WORLD_SHARDS]
    assert await world_balance() == -7000 == -(await Account.get(lender_id=ada)).balance_cents
    books = await check_books()
    assert books.ok, books.problems
