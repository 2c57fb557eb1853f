from tortoise import fields
from tortoise.models import Model

from models.enums import EventKind, NotificationKind


# The outbox: written in the transaction of the change it reports. Ids increase in
# commit order (writers serialise on an advisory lock), so "after id N" is exact.
class Event(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(EventKind, max_length=20)
    loan = fields.ForeignKeyField("lendgraph.Loan", related_name="events", null=True)
    # Set on events addressed to one lender (their myEvents stream).
    lender = fields.ForeignKeyField("lendgraph.Lender", related_name="events", null=True)
    payload = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "event"
        indexes = (("loan_id", "id"), ("lender_id", "id"), ("kind", "id"))


class SavedSearch(Model):
    id = fields.IntField(primary_key=True)
    lender = fields.ForeignKeyField("lendgraph.Lender", related_name="saved_searches")
    name = fields.CharField(max_length=100)
    criteria = fields.JSONField()  # a LoanFilter, as lending.filters stores it
    alert = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "saved_search"
        unique_together = (("lender", "name"),)


# An inverted index over saved searches (and auto-lend rules): each is filed under the
# values of its most selective dimension, so a new loan finds its candidates by lookup.
class SearchAnchor(Model):
    id = fields.IntField(primary_key=True)
    search = fields.ForeignKeyField("lendgraph.SavedSearch", related_name="anchors")
    key = fields.CharField(max_length=40)

    class Meta:
        table = "search_anchor"
        indexes = (("key", "search_id"),)


class Notification(Model):
    id = fields.IntField(primary_key=True)
    lender = fields.ForeignKeyField("lendgraph.Lender", related_name="notifications")
    kind = fields.CharEnumField(NotificationKind, max_length=20)
    message = fields.TextField()
    loan = fields.ForeignKeyField("lendgraph.Loan", related_name="notifications", null=True)
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("lender_id", "id"),)
