from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import AutoLendTrigger, NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0003_portfolio_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AutoLendRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lender', fields.OneToOneField('lendgraph.Lender', source_field='lender_id', db_constraint=True, to_field='id', related_name='auto_lend_rule', on_delete=OnDelete.CASCADE)),
                ('enabled', fields.BooleanField(default=True)),
                ('criteria', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('amount_cents', fields.BigIntField(default=2500)),
                ('keep_cents', fields.BigIntField(default=0)),
                ('pause_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('trigger', fields.CharEnumField(default=AutoLendTrigger.IMMEDIATE, description='IMMEDIATE: IMMEDIATE\nAFTER_IDLE_DAYS: AFTER_IDLE_DAYS\nAFTER_DAYS_WITHOUT_LENDING: AFTER_DAYS_WITHOUT_LENDING', enum_type=AutoLendTrigger, max_length=26)),
                ('idle_days', fields.SmallIntField(null=True)),
                ('waiting_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'auto_lend_rule', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Allocation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='allocations', on_delete=OnDelete.CASCADE)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', db_constraint=True, to_field='id', related_name='allocations', on_delete=OnDelete.CASCADE)),
                ('rule', fields.ForeignKeyField('lendgraph.AutoLendRule', source_field='rule_id', null=True, db_constraint=True, to_field='id', related_name='allocations', on_delete=OnDelete.SET_NULL)),
                ('amount_cents', fields.BigIntField()),
                ('matched', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'allocation', 'app': 'lendgraph', 'indexes': [Index(fields=['loan_id', 'id']), Index(fields=['lender_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleAnchor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rule', fields.ForeignKeyField('lendgraph.AutoLendRule', source_field='rule_id', db_constraint=True, to_field='id', related_name='anchors', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=40)),
            ],
            options={'table': 'rule_anchor', 'app': 'lendgraph', 'indexes': [Index(fields=['key', 'rule_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Lender',
            name='last_lent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Loan',
            name='auto_funded_cents',
            field=fields.BigIntField(default=0),
        ),
        ops.AddConstraint(
            model_name='Loan',
            constraint=CheckConstraint(check='auto_funded_cents >= 0 AND auto_funded_cents <= funded_cents AND auto_funded_cents * 2 <= amount_cents', name='loan_auto_cap'),
        ),
        ops.AlterField(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='SAVED_SEARCH_MATCH: SAVED_SEARCH_MATCH\nAUTO_LOAN: AUTO_LOAN', enum_type=NotificationKind, max_length=20),
        ),
        # CreateModel leaves CHECK constraints out of the table; add them explicitly.
        ops.AddConstraint(model_name='AutoLendRule', constraint=CheckConstraint(check='amount_cents > 0 AND amount_cents % 2500 = 0', name='rule_amount_units')),
        ops.AddConstraint(model_name='AutoLendRule', constraint=CheckConstraint(check='keep_cents >= 0', name='rule_keep')),
        ops.AddConstraint(model_name='AutoLendRule', constraint=CheckConstraint(check='idle_days IS NULL OR (idle_days >= 1 AND idle_days <= 365)', name='rule_idle_days')),
    ]
