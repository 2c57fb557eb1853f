"""The outbox: events written in the same transaction as the change they report.

Subscribers read them back in id order (see subscriptions/). Writers take
one advisory lock just before inserting, so ids are assigned in commit
order: once event N is visible, every event before it is too, and "every
event after N" is an exact question.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import Tortoise

from models import Event, EventKind, Loan, Share

OUTBOX_LOCK = 7_418_001  # any constant, the same in every process


@dataclass(frozen=True)
class Draft:
    kind: EventKind
    loan_id: int | None = None
    lender_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


async def emit(drafts: Iterable[Draft], now: datetime) -> None:
    """Append events to the outbox; must be the last write of the caller's transaction."""
    rows = [
        Event(kind=d.kind, loan_id=d.loan_id, lender_id=d.lender_id, payload=d.payload, created_at=now) for d in drafts
    ]
    if not rows:
        return
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect == "postgres":
        # Held until commit: the next writer's ids come after ours (SQLite serialises anyway).
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [OUTBOX_LOCK])
    await Event.bulk_create(rows)


def progress(loan: Loan, amount_added: int = 0) -> dict[str, Any]:
    """The loan's funding state as a loanProgress event reports it."""
    return {
        "amount_added": amount_added,
        "amount": loan.amount_cents,
        "funded": loan.funded_cents,
        "lender_count": loan.lender_count,
        "status": loan.status.value,
    }


async def loan_and_lenders(
    kind: EventKind, loan: Loan, per_lender: dict[int, dict[str, Any]] | None = None
) -> list[Draft]:
    """One event on the loan's stream and one on each of its lenders' streams."""
    shares = Share.filter(loan_id=loan.id).order_by("lender_id")
    lender_ids: list[int] = [lender_id for (lender_id,) in await shares.values_list("lender_id")]
    drafts = [Draft(kind, loan_id=loan.id, payload=progress(loan))]
    drafts += [
        Draft(kind, loan_id=loan.id, lender_id=lender_id, payload=(per_lender or {}).get(lender_id, {}))
        for lender_id in lender_ids
    ]
    return drafts
