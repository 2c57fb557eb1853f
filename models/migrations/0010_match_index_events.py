"""The match indexes move into memory (lending/matchers.py): the anchor tables go, three event kinds come.

search_anchor and rule_anchor filed each saved search and auto-lend rule
under one dimension for a lookup in SQL; every process now holds an exact
bitmap index instead, kept current by the events SEARCH_SAVED,
SEARCH_DELETED and RULE_SET (the field's description lists the kinds).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import EventKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0009_outbox_event_id')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Event',
            name='kind',
            field=fields.CharEnumField(description='LOAN_LISTED: LOAN_LISTED\nSHARE_ADDED: SHARE_ADDED\nLOAN_FUNDED: LOAN_FUNDED\nLOAN_REPAYING: LOAN_REPAYING\nLOAN_EXPIRED: LOAN_EXPIRED\nLOAN_REPAID: LOAN_REPAID\nLOAN_DEFAULTED: LOAN_DEFAULTED\nREPAYMENT_CREDITED: REPAYMENT_CREDITED\nNOTIFICATION: NOTIFICATION\nTOKEN_REVOKED: TOKEN_REVOKED\nNOTIFICATIONS_READ: NOTIFICATIONS_READ\nSEARCH_SAVED: SEARCH_SAVED\nSEARCH_DELETED: SEARCH_DELETED\nRULE_SET: RULE_SET', enum_type=EventKind, max_length=20),
        ),
        ops.DeleteModel(name='RuleAnchor'),
        ops.DeleteModel(name='SearchAnchor'),
    ]
