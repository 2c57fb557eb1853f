from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import AutoLendTrigger


# A lender's rule for reinvesting idle credit (one per lender).
class AutoLendRule(Model):
    id = fields.IntField(primary_key=True)
    lender = fields.OneToOneField("lendgraph.Lender", related_name="auto_lend_rule")
    enabled = fields.BooleanField(default=True)
    criteria = fields.JSONField()  # a LoanFilter, as lending.filters stores it
    amount_cents = fields.BigIntField(default=2500)  # per loan
    keep_cents = fields.BigIntField(default=0)  # credit never auto-lent
    pause_until = fields.DatetimeField(null=True)
    trigger = fields.CharEnumField(AutoLendTrigger, max_length=26, default=AutoLendTrigger.IMMEDIATE)
    idle_days = fields.SmallIntField(null=True)
    # Since when this lender's lendable credit has waited: the longest wait is served first.
    waiting_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "auto_lend_rule"
        constraints = (
            CheckConstraint(check="amount_cents > 0 AND amount_cents % 2500 = 0", name="rule_amount_units"),
            CheckConstraint(check="keep_cents >= 0", name="rule_keep"),
            CheckConstraint(check="idle_days IS NULL OR (idle_days >= 1 AND idle_days <= 365)", name="rule_idle_days"),
        )


# The rule index: each rule filed under the values of its most selective dimension.
class RuleAnchor(Model):
    id = fields.IntField(primary_key=True)
    rule = fields.ForeignKeyField("lendgraph.AutoLendRule", related_name="anchors")
    key = fields.CharField(max_length=40)

    class Meta:
        table = "rule_anchor"
        indexes = (("key", "rule_id"),)


# What auto-lending did: one row per loan a rule lent to.
class Allocation(Model):
    id = fields.IntField(primary_key=True)
    loan = fields.ForeignKeyField("lendgraph.Loan", related_name="allocations")
    lender = fields.ForeignKeyField("lendgraph.Lender", related_name="allocations")
    rule = fields.ForeignKeyField(
        "lendgraph.AutoLendRule", related_name="allocations", null=True, on_delete=fields.SET_NULL
    )
    amount_cents = fields.BigIntField()
    matched = fields.JSONField()  # the criteria that matched, in words
    created_at = fields.DatetimeField()

    class Meta:
        table = "allocation"
        indexes = (("loan_id", "id"), ("lender_id", "id"))
