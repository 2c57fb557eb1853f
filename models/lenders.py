from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models.enums import Role

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.autolend import Allocation, AutoLendRule
    from models.ledger import Account
    from models.loans import Share
    from models.notifications import Notification
    from models.outbox import Event
    from models.partners import Partner
    from models.searches import SavedSearch


class Lender(Model):
    id = fields.IntField(primary_key=True)
    display_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, unique=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField(null=True)
    last_lent_at = fields.DatetimeField(null=True)  # by hand, not by the auto-lend rule

    account: fields.BackwardOneToOneRelation["Account"]
    tokens: fields.ReverseRelation["ApiToken"]
    shares: fields.ReverseRelation["Share"]
    auto_lend_rule: fields.BackwardOneToOneRelation["AutoLendRule"]
    allocations: fields.ReverseRelation["Allocation"]
    events: fields.ReverseRelation["Event"]
    saved_searches: fields.ReverseRelation["SavedSearch"]
    notifications: fields.ReverseRelation["Notification"]

    class Meta:
        table = "lender"


# A bearer token. Only its SHA-256 is stored; the token itself is shown once.
class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=10)
    lender: fields.ForeignKeyNullableRelation["Lender"] = fields.ForeignKeyField(
        "lendgraph.Lender", related_name="tokens", null=True
    )
    lender_id: int | None
    partner: fields.ForeignKeyNullableRelation["Partner"] = fields.ForeignKeyField(
        "lendgraph.Partner", related_name="tokens", null=True
    )
    partner_id: int | None
    name = fields.CharField(max_length=100, default="")
    # lending.tokens.SCOPES; partner and admin tokens use their role
    scopes = fields.JSONField[list[str]](default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
