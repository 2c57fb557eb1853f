from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import AccountKind, TransferKind


# A ledger account. Its balance is the sum of transfers in minus transfers out.
class Account(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(AccountKind, max_length=8)
    lender = fields.OneToOneField("lendgraph.Lender", related_name="account", null=True)
    loan = fields.OneToOneField("lendgraph.Loan", related_name="account", null=True)
    partner = fields.OneToOneField("lendgraph.Partner", related_name="account", null=True)
    balance_cents = fields.BigIntField(default=0)

    class Meta:
        table = "account"
        constraints = (
            # The database itself refuses a negative lender balance.
            CheckConstraint(check="kind <> 'LENDER' OR balance_cents >= 0", name="lender_balance_not_negative"),
        )


# One movement of money from one account to another.
class Transfer(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(TransferKind, max_length=14)
    source = fields.ForeignKeyField("lendgraph.Account", related_name="transfers_out")
    destination = fields.ForeignKeyField("lendgraph.Account", related_name="transfers_in")
    amount_cents = fields.BigIntField()
    loan = fields.ForeignKeyField("lendgraph.Loan", related_name="transfers", null=True)
    repayment = fields.ForeignKeyField("lendgraph.Repayment", related_name="transfers", null=True)
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
    result = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_key"
        unique_together = (("actor", "key"),)
