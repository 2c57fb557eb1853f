"""Notifications: what a lender is told (saved-search alerts, what auto-lending did)."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models.enums import NotificationKind

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.lenders import Lender
    from models.loans import Loan


class Notification(Model):
    id = fields.IntField(primary_key=True)
    lender: fields.ForeignKeyRelation["Lender"] = fields.ForeignKeyField(
        "lendgraph.Lender", related_name="notifications"
    )
    lender_id: int
    kind = fields.CharEnumField(NotificationKind, max_length=20)
    message = fields.TextField()
    loan: fields.ForeignKeyNullableRelation["Loan"] = fields.ForeignKeyField(
        "lendgraph.Loan", related_name="notifications", null=True
    )
    loan_id: int | None
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("lender_id", "id"),)
