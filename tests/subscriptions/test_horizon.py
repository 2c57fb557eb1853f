"""The outbox reader's horizon: when a missing event id may be passed, and when it may not.

First the bookkeeping alone (Horizon), then the reader on PostgreSQL against
writers that hold ids open, commit and roll back in any interleaving.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import db
from subscriptions.horizon import Horizon, OutboxReader
from tests import services
from tests.subscriptions.outbox_writers import connection, insert_event

# -- the bookkeeping --------------------------------------------------------------------------------


def test_ids_in_a_row_are_delivered_and_a_missing_one_stops_the_rest():
    horizon = Horizon(through=4)
    assert horizon.deliverable([5, 6, 7], running=None) == 3
    assert horizon.deliverable([5, 7, 8], running=None) == 1
    assert horizon.deliverable([6], running=None) == 0


def test_a_missing_id_is_final_once_the_transactions_running_after_it_was_seen_have_ended():
    horizon = Horizon(through=4)
    assert horizon.uncovered([5, 7, 8], 1) == 8  # 6 is missing: the reader records what runs after this read
    horizon.checkpoint(8, frozenset({"100", "103"}))
    horizon.advance(5)
    assert horizon.wants_running()
    assert horizon.deliverable([7, 8], running=frozenset({"103", "104"})) == 0  # 103 may hold 6
    assert horizon.deliverable([7, 8, 10], running=frozenset({"104"})) == 2  # 6 is final; 9 is not covered yet
    assert horizon.uncovered([7, 8, 10], 2) == 10
    horizon.checkpoint(10, frozenset({"104"}))
    horizon.advance(8)
    assert horizon.checkpoints == [(10, frozenset({"104"}))]  # nothing at or below the horizon is kept
    assert horizon.deliverable([10], running=frozenset()) == 1


def test_no_checkpoint_without_a_new_missing_id():
    horizon = Horizon(through=4, checkpoints=[(9, frozenset({"100"}))])
    assert horizon.uncovered([6, 7, 8, 9, 10], 0) is None  # 5 is covered by the checkpoint; 6 to 10 all there
    assert horizon.uncovered([5, 6], 2) is None  # everything read is deliverable


def test_on_sqlite_every_missing_id_is_final_at_once():
    horizon = Horizon(through=4, gaps_final_at_once=True)
    assert not horizon.wants_running()
    assert horizon.deliverable([7, 9], running=None) == 2
    assert horizon.uncovered([7, 9], 0) is None


# -- the reader on PostgreSQL -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def outbox_on(url: str) -> AsyncIterator[OutboxReader]:
    """A reader of the database's outbox that starts after its newest event."""
    await db.connect(url)
    try:
        reader = OutboxReader()
        await reader.start()
        await reader.settle()
        yield reader
    finally:
        await db.disconnect()


async def read(reader: OutboxReader) -> list[int]:
    events = await reader.read(100)
    for event in events:
        reader.delivered(event)
    return [e.id for e in events]


@pytest.fixture
def outbox_url(pg_url: str) -> str:
    asyncio.run(services.reset_pg(pg_url))
    return pg_url


async def test_an_id_taken_under_an_xid_newer_than_any_completed_is_not_passed(outbox_url):
    # A snapshot's xmax is one past the newest *completed* xid, not the next one to be assigned: `slow`
    # gets its xid after `early` does, takes its id first, and early commits. A horizon that remembered
    # that xmax would think slow ended once some newer transaction completes.
    async with (
        outbox_on(outbox_url) as reader,
        connection(outbox_url) as early,
        connection(outbox_url) as slow,
        connection(outbox_url) as other,
    ):
        early_transaction, slow_transaction = early.transaction(), slow.transaction()
        await early_transaction.start()
        await early.fetchval("SELECT pg_current_xact_id()")
        await slow_transaction.start()
        held = await insert_event(slow)
        passed = await insert_event(early)
        await early_transaction.commit()
        assert await read(reader) == []
        later = await insert_event(other)  # a newer transaction completes
        assert await read(reader) == [] and reader.blocked
        await slow_transaction.commit()
        assert await read(reader) == [held, passed, later]


WRITERS = 3
Step = tuple[str, int]
steps = st.lists(
    st.tuples(st.sampled_from(["insert", "insert", "commit", "rollback", "read", "autocommit"]), st.integers(0, 2)),
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(steps=steps, commit_at_end=st.lists(st.booleans(), min_size=WRITERS, max_size=WRITERS))
def test_any_interleaving_of_writers_is_read_in_id_order_each_id_once(
    outbox_url: str, steps: list[Step], commit_at_end: list[bool]
):
    asyncio.run(interleave(outbox_url, steps, commit_at_end))


async def interleave(url: str, steps: list[Step], commit_at_end: list[bool]) -> None:
    """Run the steps; after each read, the horizon is below every id a writer holds open.

    At the end every writer finishes, and the reader has delivered each committed id once, in order.
    """
    async with contextlib.AsyncExitStack() as stack:
        reader = await stack.enter_async_context(outbox_on(url))
        start = reader.through
        conns = [await stack.enter_async_context(connection(url)) for _ in range(WRITERS)]
        open_ids: list[list[int]] = [[] for _ in range(WRITERS)]
        transactions: list[asyncpg.transaction.Transaction | None] = [None] * WRITERS
        committed: list[int] = []
        delivered: list[int] = []

        async def finish(w: int, commit: bool) -> None:
            transaction = transactions[w]
            if transaction is None:
                return
            await (transaction.commit() if commit else transaction.rollback())
            if commit:
                committed.extend(open_ids[w])
            transactions[w], open_ids[w] = None, []

        for action, w in steps:
            if action == "insert":
                if transactions[w] is None:
                    transactions[w] = conns[w].transaction()
                    await transactions[w].start()
                open_ids[w].append(await insert_event(conns[w]))
            elif action in ("commit", "rollback"):
                await finish(w, action == "commit")
            elif action == "autocommit" and transactions[w] is None:
                committed.append(await insert_event(conns[w]))
            elif action == "read":
                delivered += await read(reader)
                held = [i for ids in open_ids for i in ids]
                assert not held or reader.through < min(held)
        for w in range(WRITERS):
            await finish(w, commit_at_end[w])
        for _ in range(3):  # a last checkpoint may be taken by one read and passed by the next
            delivered += await read(reader)
        assert delivered == sorted(committed)
        assert not reader.blocked
        assert all(i > start for i in delivered)
