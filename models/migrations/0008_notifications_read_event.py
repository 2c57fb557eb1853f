from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import EventKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0007_notifications_write_scope')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Event',
            name='kind',
            field=fields.CharEnumField(description='LOAN_LISTED: LOAN_LISTED\nSHARE_ADDED: SHARE_ADDED\nLOAN_FUNDED: LOAN_FUNDED\nLOAN_REPAYING: LOAN_REPAYING\nLOAN_EXPIRED: LOAN_EXPIRED\nLOAN_REPAID: LOAN_REPAID\nLOAN_DEFAULTED: LOAN_DEFAULTED\nREPAYMENT_CREDITED: REPAYMENT_CREDITED\nNOTIFICATION: NOTIFICATION\nTOKEN_REVOKED: TOKEN_REVOKED\nNOTIFICATIONS_READ: NOTIFICATIONS_READ', enum_type=EventKind, max_length=20),
        ),
    ]
