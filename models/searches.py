"""Saved searches: named LoanFilters whose matches become alerts (their index is in memory: lending/matchers.py)."""

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:  # for types only: tortoise finds models by the names a module holds, so no import at run time
    from models.lenders import Lender


class SavedSearch(Model):
    id = fields.IntField(primary_key=True)
    lender: fields.ForeignKeyRelation["Lender"] = fields.ForeignKeyField(
        "lendgraph.Lender", related_name="saved_searches"
    )
    lender_id: int
    name = fields.CharField(max_length=100)
    criteria = fields.JSONField[dict[str, Any]]()  # a LoanFilter, as lending.filters stores it
    alert = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "saved_search"
        unique_together = (("lender", "name"),)
