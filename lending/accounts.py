"""Lenders and their credit: registration, deposits and withdrawals."""

import re
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from lending import autolend, ledger
from lending.errors import EmailTaken, InvalidInput
from lending.idempotency import run_once
from lending.money import Money, to_cents
from lending.text import clean_text
from lending.tokens import issue_token
from models import Account, AccountKind, Lender, Role, TransferKind

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAST_SEEN_GRANULARITY = timedelta(minutes=1)


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


async def deposit(lender_id: int, amount: Money, idempotency_key: str, now: datetime) -> int:
    """Add credit from outside (a card payment); return the transfer id.

    The lender's auto-lend rule then runs on the new credit; a failure there
    is logged, never reported as a failed deposit (lending.autolend.after_credit).
    """
    cents = to_cents(amount)
    world, account = await ledger.world_account_for_lender(lender_id), await lender_account_id(lender_id)

    async def work() -> dict[str, int]:
        await ledger.lock_accounts([world, account])
        moved = await ledger.transfer(TransferKind.DEPOSIT, world, account, cents, now)
        return {"transfer_id": moved.id}

    result = await run_once(f"lender:{lender_id}", idempotency_key, "deposit", {"amount": cents}, now, work)
    await autolend.after_credit([lender_id], now)
    return result["transfer_id"]


async def withdraw(lender_id: int, amount: Money, idempotency_key: str, now: datetime) -> int:
    """Pay credit out to the lender's bank; return the transfer id."""
    cents = to_cents(amount)
    world, account = await ledger.world_account_for_lender(lender_id), await lender_account_id(lender_id)

    async def work() -> dict[str, int]:
        await ledger.lock_accounts([world, account])
        moved = await ledger.transfer(TransferKind.WITHDRAWAL, account, world, cents, now)
        return {"transfer_id": moved.id}

    result = await run_once(f"lender:{lender_id}", idempotency_key, "withdraw", {"amount": cents}, now, work)
    return result["transfer_id"]


async def mark_seen(lender_id: int, last_seen_at: datetime | None, now: datetime) -> None:
    """Record that the lender was seen; writes at most once a minute per lender."""
    if last_seen_at is not None and now - last_seen_at < LAST_SEEN_GRANULARITY:
        return
    stale = Q(last_seen_at=None) | Q(last_seen_at__lt=now - LAST_SEEN_GRANULARITY)
    # Conditional, so concurrent requests of one lender still write once.
    await Lender.filter(Q(id=lender_id) & stale).update(last_seen_at=now)
