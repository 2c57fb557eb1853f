from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import AccountKind, CurrencyLossLiability, Gender, LoanStatus, Role, Sector, TransferKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.CharField(max_length=40)),
                ('key', fields.CharField(max_length=100)),
                ('operation', fields.CharField(max_length=40)),
                ('fingerprint', fields.CharField(max_length=64)),
                ('result', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'lendgraph', 'unique_together': (('actor', 'key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Lender',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('display_name', fields.CharField(max_length=100)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'lender', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Partner',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('country_code', fields.CharField(max_length=2)),
                ('risk_tenths', fields.SmallIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'partner', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('role', fields.CharEnumField(description='LENDER: LENDER\nPARTNER: PARTNER\nADMIN: ADMIN', enum_type=Role, max_length=10)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', null=True, db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('partner', fields.ForeignKeyField('lendgraph.Partner', source_field='partner_id', null=True, db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(default='', max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Loan',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner', fields.ForeignKeyField('lendgraph.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='loans', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('use', fields.CharField(max_length=500)),
                ('description', fields.TextField(default='', unique=False)),
                ('country_code', fields.CharField(db_index=True, max_length=2)),
                ('sector', fields.CharEnumField(description='AGRICULTURE: AGRICULTURE\nARTS: ARTS\nCLOTHING: CLOTHING\nCONSTRUCTION: CONSTRUCTION\nEDUCATION: EDUCATION\nENTERTAINMENT: ENTERTAINMENT\nFOOD: FOOD\nHEALTH: HEALTH\nHOUSING: HOUSING\nMANUFACTURING: MANUFACTURING\nPERSONAL_USE: PERSONAL_USE\nRETAIL: RETAIL\nSERVICES: SERVICES\nTRANSPORTATION: TRANSPORTATION\nWHOLESALE: WHOLESALE', enum_type=Sector, max_length=20)),
                ('gender', fields.CharEnumField(description='FEMALE: FEMALE\nMALE: MALE\nNONBINARY: NONBINARY\nMIXED_GROUP: MIXED_GROUP', enum_type=Gender, max_length=12)),
                ('amount_cents', fields.BigIntField()),
                ('funded_cents', fields.BigIntField(default=0)),
                ('repaid_cents', fields.BigIntField(default=0)),
                ('lender_count', fields.IntField(default=0)),
                ('status', fields.CharEnumField(default=LoanStatus.FUNDRAISING, description='FUNDRAISING: FUNDRAISING\nFUNDED: FUNDED\nREPAYING: REPAYING\nREPAID: REPAID\nDEFAULTED: DEFAULTED\nEXPIRED: EXPIRED', enum_type=LoanStatus, max_length=12)),
                ('term_months', fields.SmallIntField()),
                ('currency', fields.CharField(default='USD', max_length=3)),
                ('currency_loss_liability', fields.CharEnumField(default=CurrencyLossLiability.NONE, description='NONE: NONE\nSHARED: SHARED\nLENDER: LENDER', enum_type=CurrencyLossLiability, max_length=8)),
                ('listed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('funded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'loan', 'app': 'lendgraph', 'indexes': [Index(fields=['status', 'listed_at']), Index(fields=['status', 'expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='LENDER: LENDER\nLOAN: LOAN\nPARTNER: PARTNER\nWORLD: WORLD', enum_type=AccountKind, max_length=8)),
                ('lender', fields.OneToOneField('lendgraph.Lender', source_field='lender_id', null=True, db_constraint=True, to_field='id', related_name='account', on_delete=OnDelete.CASCADE)),
                ('loan', fields.OneToOneField('lendgraph.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='account', on_delete=OnDelete.CASCADE)),
                ('partner', fields.OneToOneField('lendgraph.Partner', source_field='partner_id', null=True, db_constraint=True, to_field='id', related_name='account', on_delete=OnDelete.CASCADE)),
                ('balance_cents', fields.BigIntField(default=0)),
            ],
            options={'table': 'account', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Repayment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='repayments', on_delete=OnDelete.CASCADE)),
                ('amount_cents', fields.BigIntField()),
                ('currency_loss_cents', fields.BigIntField(default=0)),
                ('lender_loss_cents', fields.BigIntField(default=0)),
                ('posted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'repayment', 'app': 'lendgraph', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Share',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='shares', on_delete=OnDelete.CASCADE)),
                ('lender', fields.ForeignKeyField('lendgraph.Lender', source_field='lender_id', db_constraint=True, to_field='id', related_name='shares', on_delete=OnDelete.CASCADE)),
                ('amount_cents', fields.BigIntField()),
                ('repaid_cents', fields.BigIntField(default=0)),
                ('loss_cents', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'share', 'app': 'lendgraph', 'unique_together': (('loan', 'lender'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Transfer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='DEPOSIT: DEPOSIT\nWITHDRAWAL: WITHDRAWAL\nLOAN_SHARE: LOAN_SHARE\nREFUND: REFUND\nDISBURSEMENT: DISBURSEMENT\nREPAYMENT: REPAYMENT\nCURRENCY_LOSS: CURRENCY_LOSS\nWRITE_OFF: WRITE_OFF', enum_type=TransferKind, max_length=14)),
                ('source', fields.ForeignKeyField('lendgraph.Account', source_field='source_id', db_constraint=True, to_field='id', related_name='transfers_out', on_delete=OnDelete.CASCADE)),
                ('destination', fields.ForeignKeyField('lendgraph.Account', source_field='destination_id', db_constraint=True, to_field='id', related_name='transfers_in', on_delete=OnDelete.CASCADE)),
                ('amount_cents', fields.BigIntField()),
                ('loan', fields.ForeignKeyField('lendgraph.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='transfers', on_delete=OnDelete.CASCADE)),
                ('repayment', fields.ForeignKeyField('lendgraph.Repayment', source_field='repayment_id', null=True, db_constraint=True, to_field='id', related_name='transfers', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'transfer', 'app': 'lendgraph', 'indexes': [Index(fields=['source_id', 'id']), Index(fields=['destination_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        # CreateModel leaves CHECK constraints out of the table; add them explicitly.
        ops.AddConstraint(model_name='Partner', constraint=CheckConstraint(check='risk_tenths >= 5 AND risk_tenths <= 50', name='partner_risk_range')),
        ops.AddConstraint(model_name='Loan', constraint=CheckConstraint(check='amount_cents > 0 AND amount_cents % 2500 = 0', name='loan_amount_units')),
        ops.AddConstraint(model_name='Loan', constraint=CheckConstraint(check='funded_cents >= 0 AND funded_cents <= amount_cents', name='loan_not_overfunded')),
        ops.AddConstraint(model_name='Loan', constraint=CheckConstraint(check='repaid_cents >= 0 AND repaid_cents <= amount_cents', name='loan_not_overrepaid')),
        ops.AddConstraint(model_name='Loan', constraint=CheckConstraint(check='lender_count >= 0', name='loan_lender_count')),
        ops.AddConstraint(model_name='Loan', constraint=CheckConstraint(check='term_months >= 1 AND term_months <= 120', name='loan_term')),
        ops.AddConstraint(model_name='Repayment', constraint=CheckConstraint(check='amount_cents > 0', name='repayment_positive')),
        ops.AddConstraint(model_name='Repayment', constraint=CheckConstraint(check='lender_loss_cents >= 0 AND lender_loss_cents <= currency_loss_cents AND currency_loss_cents <= amount_cents', name='repayment_loss')),
        ops.AddConstraint(model_name='Share', constraint=CheckConstraint(check='amount_cents > 0 AND amount_cents % 2500 = 0', name='share_amount_units')),
        ops.AddConstraint(model_name='Share', constraint=CheckConstraint(check='repaid_cents >= 0 AND repaid_cents <= amount_cents', name='share_repaid')),
        ops.AddConstraint(model_name='Share', constraint=CheckConstraint(check='loss_cents >= 0 AND loss_cents <= repaid_cents', name='share_loss')),
        ops.AddConstraint(model_name='Transfer', constraint=CheckConstraint(check='amount_cents > 0', name='transfer_positive')),
        ops.AddConstraint(model_name='Transfer', constraint=CheckConstraint(check='source_id <> destination_id', name='transfer_two_accounts')),
        ops.AddConstraint(model_name='Account', constraint=CheckConstraint(check="kind <> 'LENDER' OR balance_cents >= 0", name='lender_balance_not_negative')),
    ]
