from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import AccountKind, TransferKind

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.lenders import Lender
    from models.loans import Loan, Repayment
    from models.partners import Partner


# A ledger account. Its balance is the sum of transfers in minus transfers out.
class Account(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(AccountKind, max_length=8)
    lender: fields.OneToOneNullableRelation["Lender"] = fields.OneToOneField(
        "lendgraph.Lender", related_name="account", null=True
    )
    lender_id: int | None
    loan: fields.OneToOneNullableRelation["Loan"] = fields.OneToOneField(
        "lendgraph.Loan", related_name="account", null=True
    )
    loan_id: int | None
    partner: fields.OneToOneNullableRelation["Partner"] = fields.OneToOneField(
        "lendgraph.Partner", related_name="account", null=True
    )
    partner_id: int | None
    balance_cents: fields.Field[int] = fields.BigIntField(default=0)

    transfers_out: fields.ReverseRelation["Transfer"]
    transfers_in: fields.ReverseRelation["Transfer"]

    class Meta:
        table = "account"
        constraints = (
            # The database itself refuses a negative lender balance.
            CheckConstraint(check="kind <> 'LENDER' OR balance_cents >= 0", name="lender_balance_not_negative"),
        )


# One movement of money from one account to another.
class Transfer(Model):
    id: fields.Field[int] = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(TransferKind, max_length=14)
    source: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "lendgraph.Account", related_name="transfers_out"
    )
    source_id: int
    destination: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "lendgraph.Account", related_name="transfers_in"
    )
    destination_id: int
    amount_cents: fields.Field[int] = fields.BigIntField()
    loan: fields.ForeignKeyNullableRelation["Loan"] = fields.ForeignKeyField(
        "lendgraph.Loan", related_name="transfers", null=True
    )
    loan_id: int | None
    repayment: fields.ForeignKeyNullableRelation["Repayment"] = fields.ForeignKeyField(
        "lendgraph.Repayment", related_name="transfers", null=True
    )
    repayment_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "transfer"
        indexes = (("source_id", "id"), ("destination_id", "id"))
        constraints = (
            CheckConstraint(check="amount_cents > 0", name="transfer_positive"),
            CheckConstraint(check="source_id <> destination_id", name="transfer_two_accounts"),
        )


# The first successful result of a money mutation, by actor and client key.
class IdempotencyKey(Model):
    id = fields.IntField(primary_key=True)
    actor = fields.CharField(max_length=40)
    key = fields.CharField(max_length=100)
    operation = fields.CharField(max_length=40)
    fingerprint = fields.CharField(max_length=64)
    result = fields.JSONField[dict[str, int]]()  # the ids the mutation answered with
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_key"
        unique_together = (("actor", "key"),)
