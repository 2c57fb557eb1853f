"""Event ids without the outbox lock: on PostgreSQL, an event's id is taken after its transaction's xid.

The default of event.id becomes event_next_id(), which first gives the
inserting transaction its xid (pg_current_xact_id) and then takes the next
value of the sequence. A reader that sees a missing id below a committed one
then knows the transaction that took it either has ended or is running with
an xid (listed in pg_stat_activity), which is what lets it tell an id still
in flight from one rolled back (subscriptions/horizon.py). The sequence keeps CACHE 1: a session that
cached ids would use them long after taking them. SQLite serialises writers
and needs nothing. Plain SQL, so that later models cannot change this step.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# LANGUAGE sql runs its statements in order: the xid is assigned before the id is taken.
INSTALL = """
CREATE OR REPLACE FUNCTION event_next_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id();
    SELECT nextval('event_id_seq');
$$;
ALTER SEQUENCE event_id_seq CACHE 1;
ALTER TABLE event ALTER COLUMN id SET DEFAULT event_next_id();
"""

REMOVE = """
ALTER TABLE event ALTER COLUMN id SET DEFAULT nextval('event_id_seq');
DROP FUNCTION IF EXISTS event_next_id();
"""


async def install(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(INSTALL)


async def remove(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(REMOVE)


class Migration(migrations.Migration):
    dependencies = [("lendgraph", "0008_notifications_read_event")]

    initial = False

    operations = [ops.RunPython(install, remove)]
