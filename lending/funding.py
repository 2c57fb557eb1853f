"""Lending: a lender's credit becomes a share of a fundraising loan.

On PostgreSQL a lend is one call of the function in lending/lend.sql (one
round trip); on SQLite the same rules run here in Python. Both answer alike.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import F, Q

from lending import ledger, pg_functions
from lending.errors import ExceedsRemaining, IdempotencyConflict, InsufficientCredit, LoanNotFundraising, NotFound
from lending.idempotency import check_key, fingerprint, run_once
from lending.money import LENDING_UNIT, Money, to_cents
from lending.outbox import Draft, count_written, emit, loan_and_lenders, progress
from models import Account, AccountKind, EventKind, Lender, Loan, LoanStatus, Share, TransferKind

LEND_CALL = "SELECT lendgraph_lend($1, $2, $3, $4, $5, $6, $7) AS answer"


@dataclass(frozen=True)
class Lent:
    """What a lend answers with: the ids stored with its key, and the rows as it left them when known."""

    loan_id: int
    share_id: int
    loan: Loan | None = None
    share: Share | None = None
    lender: Lender | None = None
    balance_cents: int | None = None  # the lender's credit as the lend left it, when known


def _refusal(loan: Loan, amount: int, now: datetime) -> Exception | None:
    """Why `amount` cannot be lent to `loan` now, or None if it can."""
    if loan.status is not LoanStatus.FUNDRAISING:
        return LoanNotFundraising(loan.status.value)
    if loan.expires_at <= now:
        return LoanNotFundraising("past its deadline")
    if amount > loan.amount_cents - loan.funded_cents:
        return ExceedsRemaining(loan.amount_cents - loan.funded_cents)
    return None


async def lend(lender_id: int, loan_id: int, amount: Money, idempotency_key: str, now: datetime) -> Lent:
    """Lend `amount` (a multiple of 25.00) from the lender's credit to a fundraising loan.

    A lender lending again to the same loan grows their share. The loan turns
    FUNDED, and its money is disbursed to the partner, in the transaction
    that fills it. Safe under concurrency: the loan row is updated
    conditionally (funded + amount <= amount), so it can never be overfunded.
    A replay of a lend that succeeded answers its success, even once the
    loan has filled or expired.
    """
    cents = to_cents(amount, unit=LENDING_UNIT)
    if pg_functions.on_postgres():
        return await _lend_in_one_call(lender_id, loan_id, cents, idempotency_key, now)

    async def check() -> None:
        # Fail fast, without taking any lock, when the loan is plainly out of reach.
        loan = await Loan.get_or_none(id=loan_id)
        if loan is None:
            raise NotFound("loan", loan_id)
        if refusal := _refusal(loan, cents, now):
            raise refusal

    async def work() -> dict[str, int]:
        # The lock order of lending.ledger: the loan row, then every account at once.
        reserved = await Loan.filter(
            id=loan_id,
            status=LoanStatus.FUNDRAISING,
            expires_at__gt=now,
            funded_cents__lte=F("amount_cents") - cents,
        ).update(funded_cents=F("funded_cents") + cents)
        if not reserved:
            current = await Loan.get_or_none(id=loan_id)
            if current is None:
                raise NotFound("loan", loan_id)
            raise _refusal(current, cents, now) or ExceedsRemaining(current.amount_cents - current.funded_cents)
        after = await Loan.get(id=loan_id)
        fills = after.funded_cents == after.amount_cents
        accounts = await _accounts(lender_id, after, with_partner=fills)
        await ledger.lock_accounts(accounts.values())
        share = await Share.get_or_none(loan_id=loan_id, lender_id=lender_id)
        if share is None:
            share = await Share.create(loan_id=loan_id, lender_id=lender_id, amount_cents=cents, created_at=now)
            await Loan.filter(id=loan_id).update(lender_count=F("lender_count") + 1)
            after.lender_count += 1
        else:
            await Share.filter(id=share.id).update(amount_cents=F("amount_cents") + cents)
        await ledger.transfer(
            TransferKind.LOAN_SHARE,
            accounts[AccountKind.LENDER],
            accounts[AccountKind.LOAN],
            cents,
            now,
            loan_id=loan_id,
        )
        # Lending by hand restarts the clock of an AFTER_DAYS_WITHOUT_LENDING auto-lend rule.
        await Lender.filter(id=lender_id).update(last_lent_at=now)
        drafts = [Draft(EventKind.SHARE_ADDED, loan_id=loan_id, payload=progress(after, cents))]
        if fills:
            await disburse(after, accounts[AccountKind.LOAN], accounts[AccountKind.PARTNER], now)
            drafts += await loan_and_lenders(EventKind.LOAN_FUNDED, after)
        await emit(drafts, now)
        return {"loan_id": loan_id, "share_id": share.id}

    payload = {"loan": loan_id, "amount": cents}
    result = await run_once(f"lender:{lender_id}", idempotency_key, "lend", payload, now, work, check=check)
    return Lent(loan_id=result["loan_id"], share_id=result["share_id"])


async def _accounts(lender_id: int, loan: Loan, *, with_partner: bool) -> dict[AccountKind, int]:
    """The ids of the accounts a lend moves money through, by kind."""
    owners = Q(lender_id=lender_id) | Q(loan_id=loan.id)
    if with_partner:
        owners |= Q(partner_id=loan.partner_id)
    return dict(await Account.filter(owners).values_list("kind", "id"))


async def disburse(loan: Loan, loan_account_id: int, partner_account_id: int, now: datetime) -> None:
    """The loan is full: it is FUNDED, and its money goes to the partner to disburse.

    Both accounts must be locked already (lending.ledger's lock order).
    """
    loan.status, loan.funded_at = LoanStatus.FUNDED, now
    await loan.save(update_fields=["status", "funded_at"])
    await ledger.transfer(
        TransferKind.DISBURSEMENT, loan_account_id, partner_account_id, loan.amount_cents, now, loan_id=loan.id
    )


async def _lend_in_one_call(lender_id: int, loan_id: int, cents: int, key: str, now: datetime) -> Lent:
    """The lend on PostgreSQL: lending/lend.sql in one call (lending.pg_functions.call)."""
    check_key(key)
    arguments = [
        f"lender:{lender_id}",
        key,
        fingerprint("lend", {"loan": loan_id, "amount": cents}),
        lender_id,
        loan_id,
        cents,
        now,
    ]
    return _answered(await pg_functions.call(LEND_CALL, arguments, needed=cents), loan_id, key)


def _answered(answer: dict[str, Any], loan_id: int, key: str) -> Lent:
    """The function's answer as lending's result or error."""
    outcome = answer["outcome"]
    if outcome == "lent":
        count_written(1)  # lend.sql wrote SHARE_ADDED, and on filling the loan more
    if outcome in ("lent", "replayed"):
        result = answer["result"]
        return Lent(
            loan_id=result["loan_id"],
            share_id=result["share_id"],
            loan=pg_functions.as_model(Loan, answer["loan"]),
            share=pg_functions.as_model(Share, answer["share"]),
            lender=pg_functions.as_model(Lender, answer["lender"]),
            balance_cents=answer["balance_cents"],
        )
    match answer:
        case {"outcome": "conflict"}:
            raise IdempotencyConflict(key)
        case {"refusal": "NotFound"}:
            raise NotFound("loan", loan_id)
        case {"refusal": "LoanNotFundraising", "status": str(status)}:
            raise LoanNotFundraising(status)
        case {"refusal": "ExceedsRemaining", "remaining": int(remaining)}:
            raise ExceedsRemaining(remaining)
        case {"refusal": "InsufficientCredit", "needed": int(needed), "available": int(available)}:
            raise InsufficientCredit(needed=needed, available=available)
    raise RuntimeError(f"lendgraph_lend answered {answer}")
