"""The outbox table: the events of every change, which subscriptions read."""

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.enums import EventKind

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.lenders import Lender
    from models.loans import Loan


# The outbox: written in the transaction of the change it reports. The id is taken from a
# sequence as the row is inserted, under the transaction's row locks: the events of one loan or
# one lender are numbered in commit order. Unrelated transactions may commit ids out of order;
# readers deliver in id order up to the first id that may still appear (subscriptions/horizon.py),
# so "after id N" is exact. On PostgreSQL the default is event_next_id() (migration 0009), which
# gives the transaction its xid before the id: never insert an id of your own.
class Event(Model):
    id: fields.Field[int] = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(EventKind, max_length=20)
    loan: fields.ForeignKeyNullableRelation["Loan"] = fields.ForeignKeyField(
        "lendgraph.Loan", related_name="events", null=True
    )
    loan_id: int | None
    # Set on events addressed to one lender (their myEvents stream).
    lender: fields.ForeignKeyNullableRelation["Lender"] = fields.ForeignKeyField(
        "lendgraph.Lender", related_name="events", null=True
    )
    lender_id: int | None
    # A JSON object whose keys depend on `kind` (lending.outbox writes them, subscriptions read them).
    payload = fields.JSONField[dict[str, Any]](default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "event"
        indexes = (("loan_id", "id"), ("lender_id", "id"), ("kind", "id"))
