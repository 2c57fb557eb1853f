"""Idempotency keys for money mutations: the same key and input runs once."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from tortoise.exceptions import IntegrityError

from lending.errors import IdempotencyConflict, InvalidInput
from lending.transactions import atomic
from models import IdempotencyKey
from models.db import may_run_again

MAX_KEY_LENGTH = 100
# The stored fingerprints' JSON: made once (json.dumps with these arguments makes an encoder per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(operation: str, payload: dict[str, int]) -> str:
    """What a key is stored with: a request sent again with the key must carry the same operation and input."""
    canonical = _CANONICAL.encode([operation, payload])
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> None:
    """InvalidInput unless `key` is 1 to MAX_KEY_LENGTH printable ASCII characters."""
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise InvalidInput(
            f"The idempotency key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.", "idempotencyKey"
        )


async def run_once(
    actor: str,
    key: str,
    operation: str,
    payload: dict[str, int],
    now: datetime,
    work: Callable[[], Awaitable[dict[str, int]]],
    *,
    check: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Run `work` in a transaction unless `actor` already succeeded with `key`.

    `work` returns a small JSON result (ids), stored with the key in the same
    transaction. A repeat with the same operation and payload returns that
    stored result, whatever has happened since (the loan filled, expired or
    was repaid), without running anything else; a repeat with anything else
    raises IdempotencyConflict. A failed `work` stores nothing, so the key
    stays free.

    `check` is a quick refusal that reads the world without locking it (the
    loan is not fundraising, say); it runs after the key is looked up, so a
    replay never meets it, and `work` must check again under its locks.

    The transaction runs again when the database aborts it or the connection
    fails (lending.transactions): the key makes that safe even when a lost
    connection hid a COMMIT that happened.
    """
    check_key(key)
    digest = fingerprint(operation, payload)
    stored = await _stored_result(actor, key, operation, digest)
    if stored is not None:
        return stored
    if check is not None:
        await check()

    async def claim_and_work() -> dict[str, int]:
        # Claim the key first (the first lock of every money transaction, see lending.ledger):
        # a concurrent duplicate blocks here until we commit, then finds our result.
        record = await IdempotencyKey.create(
            actor=actor, key=key, operation=operation, fingerprint=digest, result={}, created_at=now
        )
        result = await work()
        record.result = result
        await record.save(update_fields=["result"])
        return result

    try:
        return await atomic(claim_and_work, retry_if=may_run_again)
    except IntegrityError:
        stored = await _stored_result(actor, key, operation, digest)
        if stored is None:
            raise
        return stored


async def _stored_result(actor: str, key: str, operation: str, digest: str) -> dict[str, int] | None:
    record = await IdempotencyKey.get_or_none(actor=actor, key=key)
    if record is None:
        return None
    if record.operation != operation or record.fingerprint != digest:
        raise IdempotencyConflict(key)
    return record.result
