"""How lendgraph connects to PostgreSQL, read from the database URL (models/db.py)."""

import asyncio

import asyncpg
import pytest

from models.db import connection_settings
from tests.conftest import serve


def credentials(url: str) -> dict:
    return connection_settings(url)["credentials"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_a_server_on_this_machine_is_reached_without_asking_for_tls(host, monkeypatch):
    monkeypatch.delenv("PGSSLMODE", raising=False)
    assert credentials(f"postgres://postgres@{host}:5432/test")["ssl"] is False


def test_a_remote_server_keeps_the_drivers_tls_negotiation(monkeypatch):
    monkeypatch.delenv("PGSSLMODE", raising=False)
    assert "ssl" not in credentials("postgres://app@db.example.org:5432/lendgraph")


def test_the_url_or_pgsslmode_decides_over_the_default(monkeypatch):
    monkeypatch.delenv("PGSSLMODE", raising=False)
    assert credentials("postgres://postgres@127.0.0.1:5432/test?ssl=true")["ssl"] is True
    monkeypatch.setenv("PGSSLMODE", "require")
    assert "ssl" not in credentials("postgres://postgres@127.0.0.1:5432/test")


def test_pooled_connections_have_no_idle_lifetime_unless_the_url_gives_one():
    assert credentials("postgres://postgres@127.0.0.1:5432/test")["max_inactive_connection_lifetime"] == 0
    url = "postgres://postgres@127.0.0.1:5432/test?max_inactive_connection_lifetime=60"
    assert credentials(url)["max_inactive_connection_lifetime"] == 60.0


async def server_sessions(url: str) -> set[int]:
    """The backend pids of the other sessions of the database at `url`."""
    connection = await asyncpg.connect(url.split("?")[0].replace("postgres://", "postgresql://", 1))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return {row["pid"] for row in rows}


@pytest.mark.parametrize(("lifetime", "kept"), [("", True), ("&max_inactive_connection_lifetime=0.2", False)])
async def test_an_idle_pooled_connection_stays_open_unless_given_a_lifetime(pg_url, clock, lifetime, kept):
    # A burst after a quiet spell would otherwise open connections and prepare every statement again.
    async with serve(f"{pg_url}&minsize=1{lifetime}", clock) as api:
        await api.data("{ loans(first: 1) { totalCount } }")
        before = await server_sessions(pg_url)
        assert before
        await asyncio.sleep(0.6)
        after = await server_sessions(pg_url)
        assert (before <= after) is kept  # with a lifetime, those used and then idle are closed
        await api.data("{ loans(first: 1) { totalCount } }")  # a closed one is opened again when needed
