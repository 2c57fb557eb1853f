"""Repayments: a partner pays back principal, split among the loan's lenders."""

from datetime import datetime
from typing import NamedTuple

from lending import autolend, ledger
from lending.errors import (
    ExceedsRemaining,
    InvalidAmount,
    LoanNotRepaying,
)
from lending.idempotency import run_once
from lending.loans import partners_loan
from lending.money import Money, to_cents, to_cents_or_zero
from lending.outbox import Draft, emit, progress
from lending.split import split_pro_rata
from lending.tokens import Viewer
from models import (
    CurrencyLossLiability,
    EventKind,
    Loan,
    LoanStatus,
    Repayment,
    Share,
    TransferKind,
)
from models.bulk import with_rows

REPAYABLE = (LoanStatus.FUNDED, LoanStatus.REPAYING)
PARTNER_COVERED_LOSS_PERCENT = 10  # under SHARED liability the partner bears loss up to 10% of a repayment


def lender_loss(liability: CurrencyLossLiability, amount: int, currency_loss: int) -> int:
    """The part of a repayment's currency loss that lenders bear under the loan's liability."""
    if liability is CurrencyLossLiability.LENDER:
        return currency_loss
    if liability is CurrencyLossLiability.SHARED:
        return max(0, currency_loss - amount * PARTNER_COVERED_LOSS_PERCENT // 100)
    return 0


async def post_repayment(
    viewer: Viewer | None, loan_id: int, amount: Money, currency_loss: Money | None, idempotency_key: str, now: datetime
) -> int:
    """Credit a repayment of principal to the loan's lenders; return the repayment id.

    Each lender gets a pro-rata part by share, exact to the cent (largest
    remainder, see lending.split), less their part of any currency loss the
    liability puts on lenders. The loan becomes REPAYING, and REPAID once all
    of its amount has come back.
    """
    cents = to_cents(amount)
    loss = to_cents_or_zero(currency_loss, label="currency loss")
    if loss > cents:
        raise InvalidAmount("The currency loss cannot exceed the repayment.")
    loan = await partners_loan(viewer, loan_id)

    async def work() -> dict[str, int]:
        # The lock order of lending.ledger: the loan row first, then check against its current state.
        current = await Loan.select_for_update(no_key=True).get(id=loan_id)
        if current.status not in REPAYABLE:
            raise LoanNotRepaying(current.status.value)
        outstanding = current.amount_cents - current.repaid_cents
        if cents > outstanding:
            raise ExceedsRemaining(outstanding)
        borne = lender_loss(current.currency_loss_liability, cents, loss)
        repayment = await Repayment.create(
            loan_id=loan_id, amount_cents=cents, currency_loss_cents=loss, lender_loss_cents=borne, posted_at=now
        )
        credited, holders = await _credit_lenders(current, repayment, now)
        lenders[:] = holders
        was = current.status
        current.repaid_cents += cents
        current.status = LoanStatus.REPAID if current.repaid_cents == current.amount_cents else LoanStatus.REPAYING
        current.ended_at = now if current.status is LoanStatus.REPAID else None
        await current.save(update_fields=["repaid_cents", "status", "ended_at"])
        drafts = [
            Draft(EventKind.REPAYMENT_CREDITED, loan_id=loan_id, lender_id=lender_id, payload=credit)
            for lender_id, credit in credited.items()
        ]
        if was is LoanStatus.FUNDED:
            drafts.append(Draft(EventKind.LOAN_REPAYING, loan_id=loan_id, payload=progress(current)))
        if current.status is LoanStatus.REPAID:  # as lending.outbox.loan_and_lenders, from the shares already read
            drafts.append(Draft(EventKind.LOAN_REPAID, loan_id=loan_id, payload=progress(current)))
            drafts += [Draft(EventKind.LOAN_REPAID, loan_id=loan_id, lender_id=lender) for lender in sorted(holders)]
        await emit(drafts, now)
        return {"repayment_id": repayment.id}

    lenders: list[int] = []  # the loan's lenders, as `work` read them
    payload = {"loan": loan_id, "amount": cents, "loss": loss}
    result = await run_once(partner_actor(loan.partner_id), idempotency_key, "repay", payload, now, work)
    if not lenders:  # a replay of a repayment already made: `work` did not run
        lenders = [lender_id for (lender_id,) in await Share.filter(loan_id=loan_id).values_list("lender_id")]
    # Committed: the credited lenders' rules may now reinvest it.
    await autolend.after_credit(lenders, now)
    return result["repayment_id"]


class _Share(NamedTuple):
    id: int
    lender_id: int
    amount_cents: int
    repaid_cents: int
    loss_cents: int


def partner_actor(partner_id: int) -> str:
    return f"partner:{partner_id}"


async def _credit_lenders(
    loan: Loan, repayment: Repayment, now: datetime
) -> tuple[dict[int, dict[str, int]], list[int]]:
    """Pay each lender their part; return what each got, by lender id, and every lender of the loan."""
    # Plain values: (id, lender_id, amount_cents, repaid_cents, loss_cents) of each share.
    shares = [
        _Share(*row)
        for row in await Share.filter(loan_id=loan.id)
        .order_by("id")
        .values_list("id", "lender_id", "amount_cents", "repaid_cents", "loss_cents")
    ]
    if loan.repaid_cents + repayment.amount_cents == loan.amount_cents:
        # The last repayment settles every share exactly, whatever rounding came before.
        principal = [s.amount_cents - s.repaid_cents for s in shares]
    else:
        # Capped at what each share still lacks: rounding may have put a share a fraction of a cent
        # ahead, and near the end its round-up would repay it beyond its amount.
        principal = split_pro_rata(
            repayment.amount_cents,
            [s.amount_cents for s in shares],
            [s.repaid_cents for s in shares],
            [s.amount_cents - s.repaid_cents for s in shares],
        )
    paid = [(share, part) for share, part in zip(shares, principal, strict=True) if part]
    # Split by this repayment's parts, each loss part at most its part (the lenders' loss never
    # exceeds the repayment), so no lender is credited a negative amount.
    losses = (
        split_pro_rata(
            repayment.lender_loss_cents,
            [part for _, part in paid],
            [s.loss_cents for s, _ in paid],
            [part for _, part in paid],
        )
        if repayment.lender_loss_cents
        else [0] * len(paid)
    )
    found = await ledger.accounts_of(partners=[loan.partner_id], lenders=[s.lender_id for s, _ in paid])
    [partner_account] = [account.id for account in found if account.partner_id is not None]
    accounts = {account.lender_id: account.id for account in found if account.lender_id is not None}
    world = await ledger.world_account_for_loan(loan.id) if repayment.lender_loss_cents else None
    # The lock order of lending.ledger: every account at once, after the loan row.
    await ledger.lock_accounts([partner_account, *accounts.values(), *([] if world is None else [world])])
    parts = sorted(zip(paid, losses, strict=True), key=lambda p: accounts[p[0][0].lender_id])
    await with_rows(
        'UPDATE "share" SET repaid_cents = "share".repaid_cents + v.part, loss_cents = "share".loss_cents + v.lost '
        'FROM v WHERE "share".id = v.id',
        {"id": "integer", "part": "bigint", "lost": "bigint"},
        [(share.id, part, lost) for (share, part), lost in parts],
    )
    moves = [
        ledger.Move(
            TransferKind.REPAYMENT,
            partner_account,
            accounts[share.lender_id],
            part - lost,
            loan_id=loan.id,
            repayment_id=repayment.id,
        )
        for (share, part), lost in parts
        if part - lost
    ]
    credited = {
        share.lender_id: {"repayment_id": repayment.id, "amount": part - lost, "principal": part, "loss": lost}
        for (share, part), lost in zip(paid, losses, strict=True)
    }
    if world is not None:
        moves.append(
            ledger.Move(
                TransferKind.CURRENCY_LOSS,
                partner_account,
                world,
                repayment.lender_loss_cents,
                loan_id=loan.id,
                repayment_id=repayment.id,
            )
        )
    await ledger.transfer_many(moves, now)
    return credited, [share.lender_id for share in shares]
