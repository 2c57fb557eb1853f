from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.ledger import Account
    from models.lenders import ApiToken
    from models.loans import Loan


# A field partner: lists loans in its country and collects their repayments.
class Partner(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    country_code = fields.CharField(max_length=2)
    # Stars times ten (0.5 stars = 5): an integer compares and sorts the same on every backend.
    risk_tenths: fields.Field[int] = fields.SmallIntField()
    created_at = fields.DatetimeField()

    loans: fields.ReverseRelation["Loan"]
    account: fields.BackwardOneToOneRelation["Account"]
    tokens: fields.ReverseRelation["ApiToken"]

    class Meta:
        table = "partner"
        constraints = (CheckConstraint(check="risk_tenths >= 5 AND risk_tenths <= 50", name="partner_risk_range"),)
