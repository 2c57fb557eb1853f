from tortoise import fields
from tortoise.models import Model

from models.enums import Role


class Lender(Model):
    id = fields.IntField(primary_key=True)
    display_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, unique=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField(null=True)
    last_lent_at = fields.DatetimeField(null=True)  # by hand, not by the auto-lend rule

    class Meta:
        table = "lender"


# A bearer token. Only its SHA-256 is stored; the token itself is shown once.
class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=10)
    lender = fields.ForeignKeyField("lendgraph.Lender", related_name="tokens", null=True)
    partner = fields.ForeignKeyField("lendgraph.Partner", related_name="tokens", null=True)
    name = fields.CharField(max_length=100, default="")
    scopes = fields.JSONField(default=list)  # lending.tokens.SCOPES; partner and admin tokens use their role
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
