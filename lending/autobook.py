"""Booking what auto-lending decided: every loan's allocations of one batch, written set by set.

lending.autolend picks the loans, locks them and the accounts (the lock
order of lending.ledger) and allocates their room; `book` then writes the
whole batch with a fixed number of statements, however many loans and
lenders it holds: the loans, the shares, the transfers (lending.ledger.
transfer_many), the allocations, the notifications, the rules' places in
the queue and the events, in that order.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lending import ledger
from lending.allocation import Grant
from lending.countries import country_name
from lending.filters import LoanFilter
from lending.money import to_decimal
from lending.outbox import Draft, emit, progress
from models import EventKind, Loan, LoanStatus, NotificationKind, TransferKind
from models.bulk import with_rows


@dataclass(frozen=True)
class Placement:
    """One loan's share of a batch: its grants, each with the criteria it matched in words."""

    loan: Loan  # as locked, before this batch
    grants: list[tuple[Grant, list[str]]]  # in the order of the lenders' accounts
    lenders_before: set[int]  # who held a share of the loan already
    loan_account_id: int
    partner_account_id: int


async def book(placements: list[Placement], now: datetime) -> None:
    """Write a planned batch; call in the transaction that locked its loans and accounts.

    Each placement's loan gains its shares (turning FUNDED, and disbursed,
    when they fill it); each rule served moves to the back of the queue at
    the place its last share gave it (`Grant.last_turn`).
    """
    if not placements:
        return
    drafts: list[Draft] = []
    moves: list[ledger.Move] = []
    for placement in placements:
        drafts += _advance(placement, moves, now)
    await with_rows(
        'UPDATE "loan" SET funded_cents = v.funded_cents, auto_funded_cents = v.auto_funded_cents, '
        'lender_count = v.lender_count, status = v.status, funded_at = v.funded_at FROM v WHERE "loan".id = v.id',
        {
            "id": "integer",
            "funded_cents": "bigint",
            "auto_funded_cents": "bigint",
            "lender_count": "integer",
            "status": "text",
            "funded_at": "timestamptz",
        },
        [
            (loan.id, loan.funded_cents, loan.auto_funded_cents, loan.lender_count, loan.status.value, loan.funded_at)
            for loan in (p.loan for p in placements)
        ],
    )
    grants = [(p.loan, grant, words) for p in placements for grant, words in p.grants]
    await with_rows(
        'INSERT INTO "share" (loan_id, lender_id, amount_cents, repaid_cents, loss_cents, created_at) '
        "SELECT loan_id, lender_id, amount_cents, 0, 0, created_at FROM v",
        {"loan_id": "integer", "lender_id": "integer", "amount_cents": "bigint", "created_at": "timestamptz"},
        [(loan.id, grant.candidate.rule.lender_id, grant.cents, now) for loan, grant, _ in grants],
    )
    await ledger.transfer_many(moves, now)
    await with_rows(
        "INSERT INTO allocation (loan_id, lender_id, rule_id, amount_cents, matched, created_at) "
        "SELECT loan_id, lender_id, rule_id, amount_cents, matched, created_at FROM v",
        {
            "loan_id": "integer",
            "lender_id": "integer",
            "rule_id": "integer",
            "amount_cents": "bigint",
            "matched": "jsonb",
            "created_at": "timestamptz",
        },
        [
            (
                loan.id,
                grant.candidate.rule.lender_id,
                grant.candidate.rule.id,
                grant.cents,
                json.dumps(words, separators=(",", ":")),
                now,
            )
            for loan, grant, words in grants
        ],
    )
    AUTO_LOAN = NotificationKind.AUTO_LOAN.value
    notices = await with_rows(
        "INSERT INTO notification (lender_id, kind, message, loan_id, created_at) "
        "SELECT lender_id, kind, message, loan_id, created_at FROM v RETURNING id, lender_id, loan_id",
        {"lender_id": "integer", "kind": "text", "message": "text", "loan_id": "integer", "created_at": "timestamptz"},
        [
            (grant.candidate.rule.lender_id, AUTO_LOAN, _notice(loan, grant, words), loan.id, now)
            for loan, grant, words in grants
        ],
    )
    # Each rule's place after its last share of the batch: the round robin goes on there next time.
    rules = {grant.candidate.rule.id: grant.candidate.rule.waiting_since for _, grant, _ in grants}
    await with_rows(
        "UPDATE auto_lend_rule SET waiting_since = v.waiting_since FROM v WHERE auto_lend_rule.id = v.id",
        {"id": "integer", "waiting_since": "timestamptz"},
        sorted(rules.items()),
    )
    notice_ids = {(row["lender_id"], row["loan_id"]): row["id"] for row in notices}
    await emit([_with_notice(draft, notice_ids) for draft in drafts], now)


def _advance(placement: Placement, moves: list[ledger.Move], now: datetime) -> list[Draft]:
    """Apply one loan's grants to its row in memory, add its transfers to `moves`; return its events."""
    loan = placement.loan
    total = sum(grant.cents for grant, _ in placement.grants)
    funded_so_far = loan.funded_cents
    loan.funded_cents += total
    loan.auto_funded_cents += total
    loan.lender_count += len(placement.grants)
    drafts = []
    for grant, _ in placement.grants:
        lender_id = grant.candidate.rule.lender_id
        moves.append(
            ledger.Move(
                TransferKind.LOAN_SHARE, grant.candidate.account_id, placement.loan_account_id, grant.cents, loan.id
            )
        )
        funded_so_far += grant.cents
        snapshot = {**progress(loan, grant.cents), "funded": funded_so_far, "status": LoanStatus.FUNDRAISING.value}
        drafts.append(Draft(EventKind.SHARE_ADDED, loan_id=loan.id, payload=snapshot))
        # The notification's id is known once it is inserted (`_with_notice`).
        drafts.append(Draft(EventKind.NOTIFICATION, loan_id=loan.id, lender_id=lender_id))
    if loan.funded_cents == loan.amount_cents:
        # Full: FUNDED, and its money goes to the partner (as lending.funding.disburse does for one loan).
        loan.status, loan.funded_at = LoanStatus.FUNDED, now
        moves.append(
            ledger.Move(
                TransferKind.DISBURSEMENT,
                placement.loan_account_id,
                placement.partner_account_id,
                loan.amount_cents,
                loan.id,
            )
        )
        # As lending.outbox.loan_and_lenders: the loan's stream, then each lender's, by lender id.
        lenders = placement.lenders_before | {grant.candidate.rule.lender_id for grant, _ in placement.grants}
        drafts.append(Draft(EventKind.LOAN_FUNDED, loan_id=loan.id, payload=progress(loan)))
        drafts += [Draft(EventKind.LOAN_FUNDED, loan_id=loan.id, lender_id=lender) for lender in sorted(lenders)]
    return drafts


def matched(criteria: LoanFilter, loan: Loan, risk_tenths: int) -> list[str]:
    """The rule's criteria that this loan met, in words."""
    words = []
    if criteria.countries:
        words.append(f"country {loan.country_code}")
    if criteria.sectors:
        words.append(f"sector {loan.sector.value.replace('_', ' ').title()}")
    if criteria.genders:
        words.append(f"gender {loan.gender.value.replace('_', ' ').lower()}")
    if criteria.risk_min_tenths is not None or criteria.risk_max_tenths is not None:
        words.append(f"risk rating {Decimal(risk_tenths) / 10}")
    words += [f"keyword \u201c{word}\u201d" for word in criteria.keywords]
    if criteria.max_term_months is not None:
        words.append(f"term {loan.term_months} months")
    return words or ["any loan"]


def _notice(loan: Loan, grant: Grant, words: list[str]) -> str:
    return (
        f"We lent {to_decimal(grant.cents)} to {loan.name} in {country_name(loan.country_code)}: "
        f"matched {', '.join(words)}"
    )


def _with_notice(draft: Draft, notice_ids: dict[tuple[int | None, int | None], int]) -> Draft:
    if draft.kind is not EventKind.NOTIFICATION:
        return draft
    notice_id = notice_ids[(draft.lender_id, draft.loan_id)]
    return Draft(draft.kind, loan_id=draft.loan_id, lender_id=draft.lender_id, payload={"notification_id": notice_id})
