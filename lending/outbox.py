"""The outbox: events written in the same transaction as the change they report.

Inserting into the `event` table is all a writer does, here or in any SQL
(a function that inserts events directly included): leave `id` to its
default and insert the events after the locks that order the change (the
loan, the accounts: the lock order in lending/ledger.py), best as
the transaction's last write. There is no outbox lock: writers that share
no row never wait for each other.

The guarantee, and why it holds:

- Each stream is in commit order. An event's id comes from a sequence when
  its row is inserted, under the row locks its transaction holds until it
  commits. Two transactions that touch the same loan or the same lender's
  account take those locks one after the other, so the second takes its ids
  after the first has committed. Ordering by transaction id instead would
  be wrong: an xid is assigned at a transaction's first write, so two
  transactions that conflict on one loan can get xids in the opposite order
  of their commits, and a loanProgress subscriber would see the fill go
  backwards.
- "Every event after N" is exact: no event is skipped or delivered twice.
  Transactions that share no row may commit their ids out of order, so a
  reader can see id N+1 while N is still in flight. Readers deliver in id
  order up to the first missing id that may still appear, and pass a
  missing id only once its row is there or it is final (rolled back): see
  subscriptions/horizon.py. On PostgreSQL the id's default,
  event_next_id() (migration 0009), gives the transaction its xid before it
  takes the id, which is what lets readers tell the two apart; on SQLite
  writers are serialised and a missing id is final at once.
- Cost: while a transaction holds an event id open, readers of every stream
  wait for it; and telling a rolled-back id from one in flight waits for
  the transactions of this database that were running when it was first
  seen (a long one delays live events that much; nothing is lost).
"""

import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import Tortoise

from models import EventKind, Loan, Share
from models.bulk import with_rows


class Written:
    """How many events an operation has written so far (`watch_writes`), by any writer of the outbox."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events = 0


# The operation's count, shared with the tasks it starts (they copy the context, which holds this object).
_written: ContextVar[Written | None] = ContextVar("lendgraph_events_written", default=None)


def watch_writes() -> Written:
    """Count the events written from now on by this task and the tasks it starts: an operation that wrote
    none (a deposit without an auto-lend rule, a refusal) has nothing to announce to the hubs."""
    written = Written()
    _written.set(written)
    return written


def count_written(events: int) -> None:
    """Record that `events` events were written: by `emit`, or by a PostgreSQL function that writes its own."""
    written = _written.get()
    if written is not None:
        written.events += events


@dataclass(frozen=True)
class Draft:
    kind: EventKind
    loan_id: int | None = None
    lender_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


async def emit(drafts: Iterable[Draft], now: datetime) -> list[int]:
    """Append events to the outbox, after the caller's locks (best as its transaction's last write).

    One INSERT however many events, and no model objects: the ids come from
    the id's default (on PostgreSQL event_next_id(), see the module's
    docstring), taken in the order of `drafts`. Returns the ids, in that order.
    """
    rows = [(n, d.kind.value, d.loan_id, d.lender_id, _json(d.payload), now) for n, d in enumerate(drafts)]
    # ORDER BY n: the defaults are computed as the sorted rows are inserted, so ids follow `drafts`.
    inserted = await with_rows(
        "INSERT INTO event (kind, loan_id, lender_id, payload, created_at) "
        "SELECT kind, loan_id, lender_id, payload, created_at FROM v ORDER BY n RETURNING id",
        {
            "n": "integer",
            "kind": "text",
            "loan_id": "integer",
            "lender_id": "integer",
            "payload": "jsonb",
            "created_at": "timestamptz",
        },
        rows,
    )
    count_written(len(inserted))
    return sorted(row["id"] for row in inserted)


_json = json.JSONEncoder(separators=(",", ":")).encode

# Every event about a loan names it: on the loan's stream (listed, share added, funded, repaying,
# expired, repaid, defaulted) and on its lenders' (a repayment's REPAYMENT_CREDITED among them, the
# only event of a repayment that neither starts nor ends the repaying). Read backwards along the
# primary key, this stops at the first committed such row: one index probe in practice.
_NEWEST_ABOUT_A_LOAN = 'SELECT max("id") AS "id" FROM "event" WHERE "loan_id" IS NOT NULL'


async def newest_about_a_loan() -> int:
    """The id of the newest committed event that names a loan (0 when there is none): one statement.

    What anyone may read about loans, their partners and their lenders' public profiles changes only
    in a transaction that writes such an event (graph/response_cache.py relies on it).
    """
    rows = await Tortoise.get_connection("default").execute_query_dict(_NEWEST_ABOUT_A_LOAN)
    return int(rows[0]["id"] or 0) if rows else 0


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
