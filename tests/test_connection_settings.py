"""How lendgraph connects to PostgreSQL, read from the database URL (models/db.py)."""

import pytest

from models.db import connection_settings


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
