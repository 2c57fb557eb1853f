"""The notifications:write scope: every lender token that held all the scopes before it gets it too.

Such a token (the one registerLender returns, or one made with every scope)
could already move money; marking notifications read is less than that.
A token with fewer scopes does not gain it. Tokens with no scopes stored
have every scope already. Plain SQL, so that later models cannot change
what this step does.
"""

import json

from tortoise import migrations
from tortoise.migrations import operations as ops

BEFORE = ("lend", "portfolio:read", "autolend:write", "searches:write", "tokens:manage")
NEW = "notifications:write"


async def grant(apps, schema_editor) -> None:
    client = schema_editor.client
    first, second = ("$1", "$2") if client.capabilities.dialect == "postgres" else ("?", "?")
    rows = await client.execute_query_dict("SELECT id, scopes FROM api_token WHERE role = 'LENDER'")
    for row in rows:
        scopes = json.loads(row["scopes"]) if isinstance(row["scopes"], str) else row["scopes"]
        if scopes and set(BEFORE) <= set(scopes) and NEW not in scopes:
            stored = json.dumps([*scopes, NEW], separators=(",", ":"))
            update = f"UPDATE api_token SET scopes = {first} WHERE id = {second}"
            await client.execute_query(update, [stored, row["id"]])


class Migration(migrations.Migration):
    dependencies = [("lendgraph", "0006_token_scopes")]

    initial = False

    operations = [ops.RunPython(grant, ops.RunPython.noop)]
