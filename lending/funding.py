"""Lending: a lender's credit becomes a share of a fundraising loan.

On PostgreSQL a lend is one call of the function in lending/lend.sql (one
round trip); on SQLite the same rules run here in Python. Both answer alike.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tortoise import Tortoise
from tortoise.expressions import F, Q
from tortoise.models import Model

from lending import ledger
from lending.errors import ExceedsRemaining, IdempotencyConflict, InsufficientCredit, LoanNotFundraising, NotFound
from lending.idempotency import check_key, fingerprint, run_once
from lending.money import LENDING_UNIT, Money, to_cents
from lending.outbox import Draft, emit, loan_and_lenders, progress
from lending.transactions import current_unit, retried
from models import Account, AccountKind, EventKind, Lender, Loan, LoanStatus, Share, TransferKind
from models.db import is_transient

M = TypeVar("M", bound=Model)
LEND_CALL = "SELECT lendgraph_lend($1, $2, $3, $4, $5, $6, $7) AS answer"
# SQLSTATEs lending/lend.sql raises, rolling back all it wrote.
DUPLICATE_COMMITTED = "LG001"  # a concurrent duplicate of the request stored the key first
CREDIT_SPENT = "LG002"  # the credit went between the read and the lock; DETAIL: what remained


@dataclass(frozen=True)
class Lent:
    """What a lend answers with: the ids stored with its key, and the rows as it left them when known."""

    loan_id: int
    share_id: int
    loan: Loan | None = None
    share: Share | None = None
    lender: Lender | None = None


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
    if Tortoise.get_connection("default").capabilities.dialect == "postgres":
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
    """The lend on PostgreSQL: lending/lend.sql, called outside any transaction (one round trip).

    Run again on the database's transient failures (lending.transactions), as
    run_once runs its transaction: the key makes that safe.
    """
    if current_unit() is not None:
        raise RuntimeError("lend runs as a transaction of its own, not inside lending.transactions.atomic")
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
    connection = Tortoise.get_connection("default")

    async def call() -> dict[str, Any]:
        _, rows = await connection.execute_query(LEND_CALL, arguments)
        answer = rows[0]["answer"]
        return dict(json.loads(answer) if isinstance(answer, str) else answer)

    # A duplicate that committed first is answered by the second call, which finds its key.
    for _ in range(2):
        try:
            answer = await retried(call, retry_if=is_transient)
        except Exception as error:
            sqlstate, detail = _raised(error)
            if sqlstate == DUPLICATE_COMMITTED:
                continue
            if sqlstate == CREDIT_SPENT:
                raise InsufficientCredit(needed=cents, available=int(detail or 0)) from None
            raise
        return _answered(answer, loan_id, key)
    raise RuntimeError(f"lendgraph_lend found its key stored twice by a concurrent request ({key!r})")


def _answered(answer: dict[str, Any], loan_id: int, key: str) -> Lent:
    """The function's answer as lending's result or error."""
    outcome = answer["outcome"]
    if outcome in ("lent", "replayed"):
        result = answer["result"]
        return Lent(
            loan_id=result["loan_id"],
            share_id=result["share_id"],
            loan=_model(Loan, answer["loan"]),
            share=_model(Share, answer["share"]),
            lender=_model(Lender, answer["lender"]),
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


def _model(model: type[M], row: dict[str, Any] | None) -> M | None:
    """A row the function returned as JSON (column: value), as the model's instance."""
    if row is None:
        return None
    fields = model._meta.fields_map
    return model(**{name: fields[name].to_python_value(value) for name, value in row.items() if name in fields})


def _raised(error: BaseException) -> tuple[str | None, str | None]:
    """The SQLSTATE and DETAIL of the database error behind `error`, if one is."""
    for cause in _causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate, getattr(cause, "detail", None)
    return None, None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
