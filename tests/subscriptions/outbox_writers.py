"""Writers of the outbox that bypass the API: a transaction held open on its own connection.

They insert into `event` as any SQL may (the id is left to its default), so a test can keep an
event id taken and uncommitted while the API commits later ones.
"""

import contextlib
from collections.abc import AsyncIterator

import asyncpg


def asyncpg_dsn(url: str) -> str:
    """The app's `postgres://...?maxsize=20` as asyncpg takes it."""
    return url.split("?", 1)[0].replace("postgres://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        yield conn
    finally:
        await conn.close()


async def insert_event(conn: asyncpg.Connection, loan_id: int | None = None) -> int:
    """One event, in whatever transaction `conn` has open; its id.

    With a loan, a SHARE_ADDED that repeats the loan's listing figures; without, a TOKEN_REVOKED of no
    token (no subscriber's stream).
    """
    if loan_id is None:
        return await conn.fetchval(
            "INSERT INTO event (kind, payload, created_at) VALUES ('TOKEN_REVOKED', '{\"token_id\": 0}', now())"
            " RETURNING id"
        )
    return await conn.fetchval(
        "INSERT INTO event (kind, loan_id, payload, created_at)"
        " SELECT 'SHARE_ADDED', loan_id, payload, created_at FROM event WHERE kind = 'LOAN_LISTED' AND loan_id = $1"
        " RETURNING id",
        loan_id,
    )
