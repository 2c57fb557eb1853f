from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0004_autolend')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Lender',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Partner',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
    ]
