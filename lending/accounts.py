"""Lenders and their credit: registration, deposits and withdrawals."""

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from lending import autolend, ledger, pg_functions
from lending.errors import EmailTaken, IdempotencyConflict, InsufficientCredit, InvalidInput, NotFound
from lending.idempotency import check_key, fingerprint, run_once
from lending.money import Money, to_cents
from lending.text import clean_text
from lending.tokens import issue_token
from models import Account, AccountKind, Lender, Role, Transfer, TransferKind
from models.bulk import select_values

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAST_SEEN_GRANULARITY = timedelta(minutes=1)
MOVE_CREDIT_CALL = "SELECT lendgraph_move_credit($1, $2, $3, $4, $5, $6, $7, $8) AS answer"


async def register_lender(display_name: str, email: str, now: datetime | None = None) -> tuple[Lender, str]:
    """Create a lender with an empty credit account; return it and its first token."""
    display_name = clean_text(display_name, "displayName", 100)
    email = email.strip().lower()
    if len(email) > 254 or not email.isprintable() or not EMAIL.match(email):
        raise InvalidInput("The email address is not valid.", "email")
    try:
        async with in_transaction():
            lender = await Lender.create(display_name=display_name, email=email, created_at=now or datetime.now(UTC))
            await Account.create(kind=AccountKind.LENDER, lender=lender)
            token = await issue_token(Role.LENDER, lender_id=lender.id, name="registration")
    except IntegrityError:
        raise EmailTaken() from None
    return lender, token


async def lender_account_id(lender_id: int) -> int:
    return (await Account.get(lender_id=lender_id)).id


async def balance_cents(lender_id: int) -> int:
    """The lender's credit in cents.

    Nearly every signed-in client reads it (`me`, portfolios, the answer to each deposit and lend): one
    fixed statement, with no query built and no row made into a model each time.
    """
    found = await select_values('SELECT "balance_cents" FROM "account" WHERE "lender_id" = $1', [lender_id])
    if not found:
        raise NotFound("lender", lender_id)
    return int(found[0]["balance_cents"])


@dataclass(frozen=True)
class Moved:
    """What a deposit or withdrawal answers with: its transfer's id, and the rows when already known.

    On PostgreSQL the function answers with the transfer and the lender as it
    left them (and the lender's account id, to sign the amount, and credit), so
    the API reads nothing more; on SQLite they are None and read when asked for,
    and so is the credit after a deposit that auto-lending may have spent.
    """

    transfer_id: int
    transfer: Transfer | None = None
    lender: Lender | None = None
    account_id: int | None = None
    balance_cents: int | None = None


async def deposit(lender_id: int, amount: Money, idempotency_key: str, now: datetime) -> Moved:
    """Add credit from outside (a card payment).

    The lender's auto-lend rule then runs on the new credit; a failure there
    is logged, never reported as a failed deposit (lending.autolend.after_credit).
    On PostgreSQL a lender without an enabled rule skips that without a query.
    """
    cents = to_cents(amount)
    if pg_functions.on_postgres():
        moved, auto_lends = await _move_in_one_call("deposit", lender_id, cents, idempotency_key, now)
        if auto_lends:
            await autolend.after_credit([lender_id], now)
            return replace(moved, balance_cents=None)  # the rule may have lent some of it since
        return moved
    world, account = await ledger.world_account_for_lender(lender_id), await lender_account_id(lender_id)

    async def work() -> dict[str, int]:
        await ledger.lock_accounts([world, account])
        moved = await ledger.transfer(TransferKind.DEPOSIT, world, account, cents, now)
        return {"transfer_id": moved.id}

    result = await run_once(f"lender:{lender_id}", idempotency_key, "deposit", {"amount": cents}, now, work)
    await autolend.after_credit([lender_id], now)
    return Moved(transfer_id=result["transfer_id"])


async def withdraw(lender_id: int, amount: Money, idempotency_key: str, now: datetime) -> Moved:
    """Pay credit out to the lender's bank; InsufficientCredit, with nothing written, beyond the balance."""
    cents = to_cents(amount)
    if pg_functions.on_postgres():
        moved, _ = await _move_in_one_call("withdraw", lender_id, cents, idempotency_key, now)
        return moved
    world, account = await ledger.world_account_for_lender(lender_id), await lender_account_id(lender_id)

    async def work() -> dict[str, int]:
        await ledger.lock_accounts([world, account])
        moved = await ledger.transfer(TransferKind.WITHDRAWAL, account, world, cents, now)
        return {"transfer_id": moved.id}

    result = await run_once(f"lender:{lender_id}", idempotency_key, "withdraw", {"amount": cents}, now, work)
    return Moved(transfer_id=result["transfer_id"])


async def _move_in_one_call(operation: str, lender_id: int, cents: int, key: str, now: datetime) -> tuple[Moved, bool]:
    """A deposit or withdrawal on PostgreSQL: lending/credit.sql in one call (lending.pg_functions.call).

    Returns what moved and whether the lender has an enabled auto-lend rule.
    """
    check_key(key)
    arguments = [
        f"lender:{lender_id}",
        key,
        operation,
        fingerprint(operation, {"amount": cents}),
        lender_id,
        await ledger.world_account_for_lender(lender_id),
        cents,
        now,
    ]
    return _answered(await pg_functions.call(MOVE_CREDIT_CALL, arguments, needed=cents), key)


def _answered(answer: dict[str, Any], key: str) -> tuple[Moved, bool]:
    """The function's answer as lending's result or error."""
    match answer:
        case {"outcome": "moved" | "replayed", "result": {"transfer_id": int(transfer_id)}}:
            moved = Moved(
                transfer_id=transfer_id,
                transfer=pg_functions.as_model(Transfer, answer["transfer"]),
                lender=pg_functions.as_model(Lender, answer["lender"]),
                account_id=answer["account_id"],
                balance_cents=answer["balance_cents"],
            )
            return moved, bool(answer["auto_lends"])
        case {"outcome": "conflict"}:
            raise IdempotencyConflict(key)
        case {"refusal": "InsufficientCredit", "needed": int(needed), "available": int(available)}:
            raise InsufficientCredit(needed=needed, available=available)
    raise RuntimeError(f"lendgraph_move_credit answered {answer}")


async def mark_seen(lender_id: int, last_seen_at: datetime | None, now: datetime) -> None:
    """Record that the lender was seen; writes at most once a minute per lender."""
    if last_seen_at is not None and now - last_seen_at < LAST_SEEN_GRANULARITY:
        return
    stale = Q(last_seen_at=None) | Q(last_seen_at__lt=now - LAST_SEEN_GRANULARITY)
    # Conditional, so concurrent requests of one lender still write once.
    await Lender.filter(Q(id=lender_id) & stale).update(last_seen_at=now)
