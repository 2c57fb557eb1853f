"""The double-entry ledger.

Every movement of money is one `Transfer` between two accounts, written in
the caller's transaction together with the state change it belongs to.
Balances are kept on the accounts so a debit can be refused by one
conditional UPDATE; `check_books` proves they agree with the transfers.
"""

from dataclasses import dataclass, field
from datetime import datetime

from tortoise import Tortoise
from tortoise.expressions import F, Q
from tortoise.functions import Sum

from lending.errors import InsufficientCredit
from models import db
from models import Account, AccountKind, Loan, Share, Transfer, TransferKind


async def world_account_id() -> int:
    """The account standing for money outside the platform (created by `ensure_world_account`)."""
    return (await Account.get(kind=AccountKind.WORLD)).id


async def ensure_world_account() -> None:
    """Create the single world account if the database has none yet."""
    if await Account.filter(kind=AccountKind.WORLD).count() == 0:
        await Account.create(kind=AccountKind.WORLD)


async def prepare_database(database_url: str) -> None:
    """Apply every migration and create the world account: what `lendgraph migrate` does."""
    await db.migrate(database_url)
    await Tortoise.close_connections()
    await db.connect(database_url)
    try:
        await ensure_world_account()
    finally:
        await db.disconnect()


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
    """Move `amount` cents; only the world account may go below zero.

    Must run inside a transaction. Raises InsufficientCredit when the source
    lacks the money; the caller's transaction then rolls back.
    """
    debited = await Account.filter(
        Q(id=source_id) & (Q(balance_cents__gte=amount) | Q(kind=AccountKind.WORLD))
    ).update(balance_cents=F("balance_cents") - amount)
    if not debited:
        available = await Account.filter(id=source_id).values_list("balance_cents", flat=True)
        raise InsufficientCredit(needed=amount, available=available[0] if available else 0)
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

    All balances sum to zero; each balance equals its transfers in minus out;
    no lender balance is negative; each loan's funded amount equals the sum
    of its shares and never exceeds the loan amount.
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
    for row in await Transfer.all().group_by("destination_id").annotate(s=Sum("amount_cents")).values(
        "destination_id", "s"
    ):
        flows[row["destination_id"]] += row["s"]
    for account_id, balance in balances.items():
        if flows[account_id] != balance:
            result.problems.append(f"account {account_id}: balance {balance} but transfers give {flows[account_id]}")
        if kinds[account_id] == AccountKind.LENDER and balance < 0:
            result.problems.append(f"lender account {account_id} is negative: {balance}")

    shares = dict(
        await Share.all().group_by("loan_id").annotate(s=Sum("amount_cents")).values_list("loan_id", "s")
    )
    for loan_id, amount, funded in await Loan.all().values_list("id", "amount_cents", "funded_cents"):
        if funded != (shares.get(loan_id) or 0):
            result.problems.append(f"loan {loan_id}: funded {funded} but shares sum to {shares.get(loan_id) or 0}")
        if funded > amount:
            result.problems.append(f"loan {loan_id}: funded {funded} above its amount {amount}")
    return result
