from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import AutoLendTrigger

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.lenders import Lender
    from models.loans import Loan


# A lender's rule for reinvesting idle credit (one per lender).
class AutoLendRule(Model):
    id = fields.IntField(primary_key=True)
    lender: fields.OneToOneRelation["Lender"] = fields.OneToOneField("lendgraph.Lender", related_name="auto_lend_rule")
    lender_id: int
    enabled = fields.BooleanField(default=True)
    criteria = fields.JSONField[dict[str, Any]]()  # a LoanFilter, as lending.filters stores it
    amount_cents: fields.Field[int] = fields.BigIntField(default=2500)  # per loan
    keep_cents: fields.Field[int] = fields.BigIntField(default=0)  # credit never auto-lent
    pause_until = fields.DatetimeField(null=True)
    trigger = fields.CharEnumField(AutoLendTrigger, max_length=26, default=AutoLendTrigger.IMMEDIATE)
    idle_days: fields.Field[int | None] = fields.SmallIntField(null=True)
    # Since when this lender's lendable credit has waited: the longest wait is served first.
    waiting_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    allocations: fields.ReverseRelation["Allocation"]

    class Meta:
        table = "auto_lend_rule"
        constraints = (
            CheckConstraint(check="amount_cents > 0 AND amount_cents % 2500 = 0", name="rule_amount_units"),
            CheckConstraint(check="keep_cents >= 0", name="rule_keep"),
            CheckConstraint(check="idle_days IS NULL OR (idle_days >= 1 AND idle_days <= 365)", name="rule_idle_days"),
        )


# What auto-lending did: one row per loan a rule lent to.
class Allocation(Model):
    id = fields.IntField(primary_key=True)
    loan: fields.ForeignKeyRelation["Loan"] = fields.ForeignKeyField("lendgraph.Loan", related_name="allocations")
    loan_id: int
    lender: fields.ForeignKeyRelation["Lender"] = fields.ForeignKeyField("lendgraph.Lender", related_name="allocations")
    lender_id: int
    rule: fields.ForeignKeyNullableRelation[AutoLendRule] = fields.ForeignKeyField(
        "lendgraph.AutoLendRule", related_name="allocations", null=True, on_delete=fields.SET_NULL
    )
    rule_id: int | None
    amount_cents: fields.Field[int] = fields.BigIntField()
    matched = fields.JSONField[list[str]]()  # the criteria that matched, in words
    created_at = fields.DatetimeField()

    class Meta:
        table = "allocation"
        indexes = (("loan_id", "id"), ("lender_id", "id"))
