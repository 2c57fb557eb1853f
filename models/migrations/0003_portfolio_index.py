from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('lendgraph', '0002_outbox_saved_searches')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Share',
            index=Index(fields=['lender_id', 'id']),
        ),
    ]
