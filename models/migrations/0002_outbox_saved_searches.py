from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import EventKind, NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='LOAN_LISTED: LOAN_LISTED\nSHARE_ADDED: SHARE_ADDED\nLOAN_FUNDED: LOAN_FUNDED\nLOAN_REPAYING: LOAN_REPAYING\nLOAN_EXPIRED: LOAN_EXPIRED\nLOAN_REPAID: LOAN_REPAID\nLOAN_DEFAULTED: LOAN_DEFAULTED\nREPAYMENT_CREDITED: REPAYMENT_CREDITED\nNOTIFICATION: NOTIFICATION', enum_type=EventKind, max_length=20)),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'event', 'app': 'lendgraph', 'indexes': [Index(fields=['loan_id', 'id']), Index(fields=['lender_id', 'id']), Index(fields=['kind', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='SAVED_SEARCH_MATCH: SAVED_SEARCH_MATCH', enum_type=NotificationKind, max_length=20)),
                ('message', fields.TextField(unique=False)),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'lendgraph', 'indexes': [Index(fields=['lender_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedSearch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', db_constraint=True, to_field='id', related_name='saved_searches', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('criteria', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('alert', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'saved_search', 'app': 'lendgraph', 'unique_together': (('lender', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchAnchor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('search', fields.ForeignKeyField('lendgraph.SavedSearch', source_field='search_id', db_constraint=True, to_field='id', related_name='anchors', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=40)),
            ],
            options={'table': 'search_anchor', 'app': 'lendgraph', 'indexes': [Index(fields=['key', 'search_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
