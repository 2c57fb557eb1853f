"""Migrations that change data, each run on a database as the migrations before it left it."""

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from lending.tokens import NOTIFICATIONS_WRITE, SCOPES, authenticate, issue_token
from models import ApiToken, Lender, Role, db
from tests import services

BEFORE_0007 = ["lend", "portfolio:read", "autolend:write", "searches:write", "tokens:manage"]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_url")  # skips, or fails under REQUIRE_SERVICES, without PostgreSQL
    with services.empty_pg_database() as url:
        yield url


async def migrated(url: str, target: str | None = None) -> None:
    await migrate(config=db.tortoise_config(url), target=target)
    await Tortoise.close_connections()


async def test_0007_gives_notifications_write_to_the_tokens_that_held_every_scope(empty_database: str):
    await migrated(empty_database, "lendgraph.0006_token_scopes")
    await db.connect(empty_database)
    try:
        ada = await Lender.create(display_name="Ada", email="ada@example.org", created_at=datetime.now(UTC))
        tokens = {
            "registration": await issue_token(Role.LENDER, lender_id=ada.id, scopes=tuple(BEFORE_0007)),
            "every scope, in another order": await issue_token(
                Role.LENDER, lender_id=ada.id, scopes=tuple(reversed(BEFORE_0007))
            ),
            "read-only": await issue_token(Role.LENDER, lender_id=ada.id, scopes=("portfolio:read",)),
            "all but lend": await issue_token(Role.LENDER, lender_id=ada.id, scopes=tuple(BEFORE_0007[1:])),
            "from before scopes": await issue_token(Role.LENDER, lender_id=ada.id, scopes=()),
            # Partner and admin tokens act by their role; their stored scopes are not touched.
            "admin": await issue_token(Role.ADMIN, scopes=tuple(BEFORE_0007)),
        }
        await issue_token(Role.ADMIN, scopes=tuple(BEFORE_0007))
        before = dict(await ApiToken.all().order_by("id").values_list("id", "scopes"))
    finally:
        await db.disconnect()

    await migrated(empty_database)
    await db.connect(empty_database)
    try:
        after = dict(await ApiToken.all().order_by("id").values_list("id", "scopes"))
        may = {name: (await authenticate(token)).may(NOTIFICATIONS_WRITE) for name, token in tokens.items()}
        # Run again, the step changes nothing more.
        step = importlib.import_module("models.migrations.0007_notifications_write_scope")
        await step.grant(None, SimpleNamespace(client=Tortoise.get_connection("default")))
        assert dict(await ApiToken.all().order_by("id").values_list("id", "scopes")) == after
    finally:
        await db.disconnect()
    gained = {i: after[i][len(before[i]) :] for i in after if after[i] != before[i]}
    assert sorted(gained.values()) == [[NOTIFICATIONS_WRITE], [NOTIFICATIONS_WRITE]]
    assert all(after[i][: len(before[i])] == before[i] for i in after)  # nothing else moved or went
    assert may == {
        "registration": True, "every scope, in another order": True, "read-only": False, "all but lend": False,
        "from before scopes": True, "admin": True,
    }  # fmt: skip
    assert NOTIFICATIONS_WRITE in SCOPES
