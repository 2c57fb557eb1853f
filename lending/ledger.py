"""The double-entry ledger.

Every movement of money is one `Transfer` between two accounts, written in
the caller's transaction together with the state change it belongs to.
Balances are kept on the accounts so a debit can be refused by one
conditional UPDATE; `check_books` proves they agree with the transfers.

The lock order. Every transaction that moves money takes its locks in this
order, so no two of them can wait for each other in a cycle (PostgreSQL
would abort one as a deadlock):

1. its idempotency key (lending.idempotency inserts it first), except a
   lend on PostgreSQL (see below);
2. the loans it is about, if any (a conditional UPDATE or SELECT ... FOR
   NO KEY UPDATE of the loan row): one loan, or for auto-lending a batch of
   loans locked by one SELECT in id order;
3. every account it will debit or credit, all at once and in id order, with
   `lock_accounts`, before it moves any money: the world shard, partner,
   loan and lender accounts alike, including the partner's when the loan
   may fill;
4. the rows that only it writes after that (shares, rules, notifications,
   the lender's last_lent_at): each is reached through the loan or the
   lender already locked;
5. the outbox insert (lending.outbox.emit), last, just before commit: it takes
   no lock of its own, and its event id comes from a sequence after every
   lock above, so changes that conflict get ids in the order they commit.

A lend on PostgreSQL (lending/lend.sql) takes the loan row first, then its
share (every writer of shares holds their loan first), then its key, then
the accounts: a lend that finds no room has written nothing, not even its
key. That stays free of cycles because keys
are per actor ("lender:<id>", "partner:<id>"): the lend can only wait for
its key while another transaction of the same lender holds the same key,
and on PostgreSQL no lender's transaction takes its key and then a loan.
Deposits and withdrawals take their key, then only the world's and the
lender's accounts, which the lend locks after its key; auto-lending and
expiry take no key; a repayment's key is its partner's, never a lender's.
(The Python path of a lend, on SQLite, keeps the key first.)

`transfer` checks that both of its accounts were locked (on PostgreSQL):
money never moves through an account taken out of order.

The world is sharded. Money outside the platform is spread over
`WORLD_SHARDS` world accounts rather than one: every deposit and withdrawal
locks a world account (step 3), so with a single one the deposits and
withdrawals of different lenders would all wait on that one row. A lender's
deposits and withdrawals use the shard chosen from the lender's id, other
world transfers (write-offs, currency losses) the shard chosen from the
loan's id; the shard is one of the accounts locked at once in id order, so
the lock order holds unchanged. Only world accounts may go negative; the
world's balance is the sum over its shards, and `check_books` counts every
shard like any other account.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from tortoise import Tortoise
from tortoise.expressions import F, Q
from tortoise.functions import Sum

from lending import pg_functions
from lending.errors import InsufficientCredit
from lending.transactions import current_unit
from models import Account, AccountKind, Loan, Share, Transfer, TransferKind, db
from models.bulk import one_of, select_values, with_rows

# How many accounts stand for the world; `ensure_world_accounts` creates the missing ones.
WORLD_SHARDS = 64

# The world accounts' ids in id order, read once per connection (db.connections_opened): they never
# change, but a process may connect to another database (the tests do).
_world_ids: tuple[int, tuple[int, ...]] = (-1, ())


async def world_account_ids() -> tuple[int, ...]:
    """The ids of the world accounts (money outside the platform), in id order."""
    opened, ids = _world_ids
    if opened != db.connections_opened or not ids:
        ids = await _read_world_ids()
    return ids


async def _read_world_ids() -> tuple[int, ...]:
    global _world_ids
    ids = tuple([account.id for account in await Account.filter(kind=AccountKind.WORLD).order_by("id").only("id")])
    _world_ids = (db.connections_opened, ids)
    return ids


def _shard(ids: tuple[int, ...], key: int) -> int:
    if not ids:
        raise RuntimeError("the database has no world account: run `lendgraph migrate`")
    return ids[key % len(ids)]


async def world_account_for_lender(lender_id: int) -> int:
    """The world shard that the lender's deposits and withdrawals move money through."""
    return _shard(await world_account_ids(), lender_id)


async def world_account_for_loan(loan_id: int) -> int:
    """The world shard that the loan's write-off and currency losses move money to."""
    return _shard(await world_account_ids(), loan_id)


async def ensure_world_accounts() -> None:
    """Create the world accounts the database lacks, up to `WORLD_SHARDS`; running it again adds none.

    A database made when the world was one account keeps it (with its balance
    and transfers) as the first shard and gains the rest.
    """
    missing = WORLD_SHARDS - await Account.filter(kind=AccountKind.WORLD).count()
    if missing > 0:
        await Account.bulk_create([Account(kind=AccountKind.WORLD) for _ in range(missing)])
    await _read_world_ids()


async def prepare_database(database_url: str) -> None:
    """Apply every migration, install lending/*.sql and create the world accounts: what `lendgraph migrate` does."""
    await db.migrate(database_url)
    await Tortoise.close_connections()
    await db.connect(database_url)
    try:
        await pg_functions.install()
        await ensure_world_accounts()
    finally:
        await db.disconnect()


# The accounts locked by the running lending.transactions.atomic block: the block, and the ids.
_locked: ContextVar[tuple[object | None, frozenset[int]]] = ContextVar("locked_accounts", default=(None, frozenset()))


class Owned(NamedTuple):
    """An account's id and its owner (one of the three, or none for a world account)."""

    id: int
    lender_id: int | None
    loan_id: int | None
    partner_id: int | None


async def accounts_of(
    *, lenders: Collection[int] = (), loans: Collection[int] = (), partners: Collection[int] = ()
) -> list[Owned]:
    """The accounts of these lenders, loans and partners, by one statement whatever their number (a
    repayment's or an auto-lending batch's hundreds of lenders), read without a lock."""
    conditions: list[str] = []
    values: list[Any] = []
    for column, ids in (("lender_id", lenders), ("loan_id", loans), ("partner_id", partners)):
        if ids:
            condition, more = one_of(column, ids, 1 + len(values))
            conditions.append(condition)
            values += more
    if not conditions:
        return []
    sql = f'SELECT "id", "lender_id", "loan_id", "partner_id" FROM "account" WHERE {" OR ".join(conditions)}'
    return [Owned(r["id"], r["lender_id"], r["loan_id"], r["partner_id"]) for r in await select_values(sql, values)]


async def lock_accounts(account_ids: Iterable[int]) -> dict[int, int]:
    """Lock these accounts for the rest of the transaction, in id order; return their balances by id.

    Step 3 of the lock order: call once per `atomic` block, with every
    account it will touch (locking one more later could take it out of
    order). FOR NO KEY UPDATE is the lock a balance UPDATE takes anyway, so
    transfers inserted elsewhere that merely refer to an account are not
    held up.
    """
    unit = current_unit()
    if unit is None:
        raise RuntimeError("accounts are locked inside lending.transactions.atomic")
    if _locked.get()[0] is unit:
        raise RuntimeError("accounts are locked once per transaction, all together")
    ids = sorted(set(account_ids))
    # Plain rows, not models: a batch locks hundreds of accounts. SQLite runs one transaction at a time.
    postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
    rows = await with_rows(
        "SELECT account.id, account.balance_cents FROM account JOIN v ON account.id = v.id ORDER BY account.id"
        + (" FOR NO KEY UPDATE OF account" if postgres else ""),
        {"id": "integer"},
        [(account_id,) for account_id in ids],
    )
    _locked.set((unit, frozenset(ids)))
    return {row["id"]: row["balance_cents"] for row in rows}


def _require_locked(*account_ids: int) -> None:
    unit, locked = _locked.get()
    if unit is None or unit is not current_unit() or not locked.issuperset(account_ids):
        raise RuntimeError(f"money moved through accounts {account_ids} without lock_accounts")


async def transfer(
    kind: TransferKind,
    source_id: int,
    destination_id: int,
    amount: int,
    now: datetime,
    *,
    loan_id: int | None = None,
    repayment_id: int | None = None,
) -> Transfer:
    """Move `amount` cents; only world accounts may go below zero.

    Must run inside a transaction that locked both accounts (`lock_accounts`).
    Raises InsufficientCredit when the source lacks the money; the caller's
    transaction then rolls back.
    """
    _require_locked(source_id, destination_id)
    debited = await Account.filter(Q(id=source_id) & (Q(balance_cents__gte=amount) | Q(kind=AccountKind.WORLD))).update(
        balance_cents=F("balance_cents") - amount
    )
    if not debited:
        balance = await Account.filter(id=source_id).values_list("balance_cents")
        raise InsufficientCredit(needed=amount, available=balance[0][0] if balance else 0)
    await Account.filter(id=destination_id).update(balance_cents=F("balance_cents") + amount)
    return await Transfer.create(
        kind=kind,
        source_id=source_id,
        destination_id=destination_id,
        amount_cents=amount,
        loan_id=loan_id,
        repayment_id=repayment_id,
        created_at=now,
    )


@dataclass(frozen=True)
class Move:
    """One transfer of a batch moved by `transfer_many`."""

    kind: TransferKind
    source_id: int
    destination_id: int
    amount: int
    loan_id: int | None = None
    repayment_id: int | None = None


async def transfer_many(moves: Sequence[Move], now: datetime) -> None:
    """Move a batch of transfers with two statements, however many there are.

    Must run inside a transaction that locked every account of the batch
    (`lock_accounts`). The batch is judged as a whole: each account changes
    by what it receives less what it pays, in one UPDATE, and if any account
    but the world would end below zero, nothing is written and
    InsufficientCredit is raised (the caller's transaction then rolls back).
    The transfers are inserted in the order given, in one INSERT.
    """
    if not moves:
        return
    _require_locked(*{move.source_id for move in moves}, *{move.destination_id for move in moves})
    change: dict[int, int] = defaultdict(int)
    for move in moves:
        change[move.source_id] -= move.amount
        change[move.destination_id] += move.amount
    changes = sorted((account_id, cents) for account_id, cents in change.items() if cents)
    # Only rows that stay at or above zero (or the world) are updated: a shortfall shows as a missing row.
    updated = await with_rows(
        "UPDATE account SET balance_cents = account.balance_cents + v.change FROM v WHERE account.id = v.id "
        f"AND (account.balance_cents + v.change >= 0 OR account.kind = '{AccountKind.WORLD.value}') "
        "RETURNING account.id",
        {"id": "integer", "change": "bigint"},
        changes,
    )
    if len(updated) < len(changes):
        done = {row["id"] for row in updated}
        short = next(account_id for account_id, _ in changes if account_id not in done)
        raise InsufficientCredit(needed=-change[short], available=(await Account.get(id=short)).balance_cents)
    columns = "kind, source_id, destination_id, amount_cents, loan_id, repayment_id, created_at"
    await with_rows(
        f"INSERT INTO transfer ({columns}) SELECT {columns} FROM v",
        {
            "kind": "text",
            "source_id": "integer",
            "destination_id": "integer",
            "amount_cents": "bigint",
            "loan_id": "integer",
            "repayment_id": "integer",
            "created_at": "timestamptz",
        },
        [(m.kind.value, m.source_id, m.destination_id, m.amount, m.loan_id, m.repayment_id, now) for m in moves],
    )


@dataclass
class BookCheck:
    """What `check_books` found; `problems` is empty when the books balance."""

    total_cents: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_books() -> BookCheck:
    """Verify the ledger's invariants over the whole database.

    All balances sum to zero (the world's shards included); each balance
    equals its transfers in minus out; no lender balance is negative; each
    loan's funded amount equals the sum of its shares and never exceeds the
    loan amount.
    """
    result = BookCheck()
    accounts = await Account.all().values_list("id", "balance_cents", "kind")
    balances = {account_id: balance for account_id, balance, _ in accounts}
    kinds = {account_id: kind for account_id, _, kind in accounts}
    result.total_cents = sum(balances.values())
    if result.total_cents != 0:
        result.problems.append(f"balances sum to {result.total_cents}, not 0")

    flows = {account_id: 0 for account_id in balances}
    for row in await Transfer.all().group_by("source_id").annotate(s=Sum("amount_cents")).values("source_id", "s"):
        flows[row["source_id"]] -= row["s"]
    for row in (
        await Transfer.all().group_by("destination_id").annotate(s=Sum("amount_cents")).values("destination_id", "s")
    ):
        flows[row["destination_id"]] += row["s"]
    for account_id, balance in balances.items():
        if flows[account_id] != balance:
            result.problems.append(f"account {account_id}: balance {balance} but transfers give {flows[account_id]}")
        if kinds[account_id] == AccountKind.LENDER and balance < 0:
            result.problems.append(f"lender account {account_id} is negative: {balance}")

    shares = dict(await Share.all().group_by("loan_id").annotate(s=Sum("amount_cents")).values_list("loan_id", "s"))
    for loan_id, amount, funded in await Loan.all().values_list("id", "amount_cents", "funded_cents"):
        if funded != (shares.get(loan_id) or 0):
            result.problems.append(f"loan {loan_id}: funded {funded} but shares sum to {shares.get(loan_id) or 0}")
        if funded > amount:
            result.problems.append(f"loan {loan_id}: funded {funded} above its amount {amount}")
    return result
