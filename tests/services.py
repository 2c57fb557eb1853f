"""Databases for the suite: a migrated SQLite template, and a private PostgreSQL database per run."""

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise

from lending.ledger import ensure_world_accounts, prepare_database
from models import db

PG_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(what: str, reason: object) -> None:
    """Skip a test for want of a service, or fail when CI requires the services."""
    message = f"{what} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    asyncio.run(prepare_database(f"sqlite://{path}"))
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "db.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite://{target}"


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_SERVER.replace("postgres://", "postgresql://", 1), timeout=3)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_pg_database() -> tuple[str, str]:
    """A fresh, migrated database on the shared server; returns (url, name)."""
    name = f"lendgraph_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    # A pool wide enough that concurrent requests really race in the database.
    url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}?maxsize=20"
    asyncio.run(prepare_database(url))
    return url, name


@contextlib.contextmanager
def empty_pg_database() -> Iterator[str]:
    """A database without tables on the shared server, for migrations to build; dropped afterwards."""
    name = f"lendgraph_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        drop_pg_database(name)


def drop_pg_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_pg(url: str) -> None:
    """Empty every table (fast, unlike recreating the database) and restore the world accounts."""
    await db.connect(url)
    try:
        tables = ", ".join(model._meta.db_table for model in Tortoise.apps[db.APP_LABEL].values())
        await Tortoise.get_connection("default").execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await ensure_world_accounts()
    finally:
        await db.disconnect()
