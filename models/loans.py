from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import CurrencyLossLiability, Gender, LoanStatus, Sector

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.autolend import Allocation
    from models.ledger import Account, Transfer
    from models.lenders import Lender
    from models.notifications import Notification
    from models.outbox import Event
    from models.partners import Partner


class Loan(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation["Partner"] = fields.ForeignKeyField("lendgraph.Partner", related_name="loans")
    partner_id: int
    name = fields.CharField(max_length=200)
    use = fields.CharField(max_length=500)
    description = fields.TextField(default="")
    country_code = fields.CharField(max_length=2, db_index=True)
    sector = fields.CharEnumField(Sector, max_length=20)
    gender = fields.CharEnumField(Gender, max_length=12)
    amount_cents: fields.Field[int] = fields.BigIntField()
    funded_cents: fields.Field[int] = fields.BigIntField(default=0)
    auto_funded_cents: fields.Field[int] = fields.BigIntField(default=0)  # the part lent by auto-lend rules
    repaid_cents: fields.Field[int] = fields.BigIntField(default=0)
    lender_count = fields.IntField(default=0)
    status = fields.CharEnumField(LoanStatus, max_length=12, default=LoanStatus.FUNDRAISING)
    term_months: fields.Field[int] = fields.SmallIntField()
    currency = fields.CharField(max_length=3, default="USD")
    currency_loss_liability = fields.CharEnumField(
        CurrencyLossLiability, max_length=8, default=CurrencyLossLiability.NONE
    )
    listed_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    funded_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)

    account: fields.BackwardOneToOneRelation["Account"]
    shares: fields.ReverseRelation["Share"]
    repayments: fields.ReverseRelation["Repayment"]
    transfers: fields.ReverseRelation["Transfer"]
    events: fields.ReverseRelation["Event"]
    notifications: fields.ReverseRelation["Notification"]
    allocations: fields.ReverseRelation["Allocation"]

    class Meta:
        table = "loan"
        indexes = (("status", "listed_at"), ("status", "expires_at"))
        constraints = (
            CheckConstraint(check="amount_cents > 0 AND amount_cents % 2500 = 0", name="loan_amount_units"),
            CheckConstraint(check="funded_cents >= 0 AND funded_cents <= amount_cents", name="loan_not_overfunded"),
            # Auto-lending may fund at most half of a loan: people who lend by hand always find room.
            CheckConstraint(
                check="auto_funded_cents >= 0 AND auto_funded_cents <= funded_cents"
                " AND auto_funded_cents * 2 <= amount_cents",
                name="loan_auto_cap",
            ),
            CheckConstraint(check="repaid_cents >= 0 AND repaid_cents <= amount_cents", name="loan_not_overrepaid"),
            CheckConstraint(check="lender_count >= 0", name="loan_lender_count"),
            CheckConstraint(check="term_months >= 1 AND term_months <= 120", name="loan_term"),
        )


# One lender's part of one loan (a multiple of 25.00).
class Share(Model):
    id = fields.IntField(primary_key=True)
    loan: fields.ForeignKeyRelation["Loan"] = fields.ForeignKeyField("lendgraph.Loan", related_name="shares")
    loan_id: int
    lender: fields.ForeignKeyRelation["Lender"] = fields.ForeignKeyField("lendgraph.Lender", related_name="shares")
    lender_id: int
    amount_cents: fields.Field[int] = fields.BigIntField()
    repaid_cents: fields.Field[int] = fields.BigIntField(default=0)  # principal repaid on this share
    loss_cents: fields.Field[int] = fields.BigIntField(default=0)  # currency loss borne, part of repaid_cents
    created_at = fields.DatetimeField()

    class Meta:
        table = "share"
        unique_together = (("loan", "lender"),)
        indexes = (("lender_id", "id"),)  # a lender's portfolio, newest first
        constraints = (
            CheckConstraint(check="amount_cents > 0 AND amount_cents % 2500 = 0", name="share_amount_units"),
            CheckConstraint(check="repaid_cents >= 0 AND repaid_cents <= amount_cents", name="share_repaid"),
            CheckConstraint(check="loss_cents >= 0 AND loss_cents <= repaid_cents", name="share_loss"),
        )


class Repayment(Model):
    id = fields.IntField(primary_key=True)
    loan: fields.ForeignKeyRelation["Loan"] = fields.ForeignKeyField("lendgraph.Loan", related_name="repayments")
    loan_id: int
    amount_cents: fields.Field[int] = fields.BigIntField()
    currency_loss_cents: fields.Field[int] = fields.BigIntField(default=0)  # reported by the partner
    lender_loss_cents: fields.Field[int] = fields.BigIntField(default=0)  # the part lenders bear
    posted_at = fields.DatetimeField()

    transfers: fields.ReverseRelation["Transfer"]

    class Meta:
        table = "repayment"
        constraints = (
            CheckConstraint(check="amount_cents > 0", name="repayment_positive"),
            CheckConstraint(
                check="lender_loss_cents >= 0 AND lender_loss_cents <= currency_loss_cents"
                " AND currency_loss_cents <= amount_cents",
                name="repayment_loss",
            ),
        )
