"""Every row of every table, to prove that a refused request changed nothing."""

from typing import Any

from tortoise import Tortoise

from models.db import APP_LABEL

Snapshot = dict[str, list[dict[str, Any]]]


async def snapshot() -> Snapshot:
    """All rows of every model of the app, by table, in primary-key order.

    Compare two snapshots with `==`: `assert await snapshot() == before`.
    """
    tables: Snapshot = {}
    for model in sorted(Tortoise.apps[APP_LABEL].values(), key=lambda m: m._meta.db_table):
        tables[model._meta.db_table] = await model.all().order_by(model._meta.pk_attr).values()
    return tables


def changes(before: Snapshot, after: Snapshot) -> str:
    """What differs between two snapshots, row by row: a readable assertion message."""
    lines = []
    for table in sorted(before.keys() | after.keys()):
        old = {_pk(row): row for row in before.get(table, [])}
        new = {_pk(row): row for row in after.get(table, [])}
        for pk in sorted(old.keys() | new.keys(), key=str):
            if pk not in new:
                lines.append(f"{table}: deleted {old[pk]}")
            elif pk not in old:
                lines.append(f"{table}: inserted {new[pk]}")
            elif old[pk] != new[pk]:
                diff = {k: (old[pk].get(k), v) for k, v in new[pk].items() if old[pk].get(k) != v}
                lines.append(f"{table} id={pk}: changed (before, after) {diff}")
    return "the database changed:\n  " + "\n  ".join(lines) if lines else "no change"


def _pk(row: dict[str, Any]) -> Any:
    return row.get("id", tuple(row.values()))
