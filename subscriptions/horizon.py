"""The outbox's safe horizon: the id through which every event has been read or will never exist.

Event ids come from a sequence, taken as the event row is inserted, so two
transactions that do not conflict may commit their ids out of order: a
reader can see id 8 while id 7 is still in flight (it will appear) or was
rolled back (it never will). Readers therefore deliver in id order up to the
first unresolved gap only. A missing id is resolved when its row appears, or
when it is final:

- On PostgreSQL, the id's default (event_next_id(), migration 0009) gives the
  inserting transaction its xid before it takes the id. So when a reader
  has read rows through id M, every id up to M was taken by a transaction
  that either has ended or is running now with an xid. Right after the read
  it records the xids running in this database (a `checkpoint`: the
  sessions' `backend_xid`, and prepared transactions). Once none of those is
  running any more, a row still missing below M never comes. Transactions
  in other databases of the cluster never delay it, unlike a snapshot's
  xmin would. A snapshot's xmax would not do either: it is one past the
  newest *completed* xid, and a transaction still open can hold a newer one.
- On SQLite writers are serialised, so a missing id is final at once.

`Horizon` is that bookkeeping, without the database; `OutboxReader` reads
the outbox with it.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise import Tortoise

from models import Event
from models.bulk import select_every_column, select_rows

Xids = frozenset[str]  # the xids running in the database, as text


@dataclass
class Horizon:
    """Every event id up to `through` is delivered or final; which missing ids above it are final."""

    through: int = 0
    gaps_final_at_once: bool = False  # SQLite
    # (upto, xids): every id <= upto was taken by a transaction that has ended or is one of xids. Ids ascend.
    checkpoints: list[tuple[int, Xids]] = field(default_factory=list)

    def wants_running(self) -> bool:
        """True if the next `deliverable` needs the xids running before its ids were read."""
        return bool(self.checkpoints) and not self.gaps_final_at_once

    def final_through(self, running: Xids | None) -> int:
        """The highest id below which every missing id is final, given the xids running before the read."""
        final = self.through
        if running is not None:
            for upto, xids in self.checkpoints:
                if not xids & running:
                    final = max(final, upto)
        return final

    def deliverable(self, ids: Sequence[int], running: Xids | None) -> int:
        """How many of `ids` (ascending, all above `through`, one read) may be delivered now, in order.

        `running`: the xids running in the database just before the read (None if `wants_running` was false).
        """
        final = self.final_through(running)
        last = self.through
        for count, ident in enumerate(ids):
            if ident != last + 1 and not self.gaps_final_at_once and ident - 1 > final:
                return count
            last = ident
        return len(ids)

    def advance(self, ident: int) -> None:
        """`ident` is delivered (so is every id below it, or final)."""
        self.through = ident
        self.checkpoints = [c for c in self.checkpoints if c[0] > ident]

    def uncovered(self, ids: Sequence[int], count: int) -> int | None:
        """The id to checkpoint, if the ids read but not deliverable (`ids[count:]`) skip an id no checkpoint covers.

        Record the running xids only after the read that returned `ids`.
        """
        if count == len(ids) or self.gaps_final_at_once:
            return None
        covered = max(ids[count - 1] if count else self.through, self.checkpoints[-1][0] if self.checkpoints else 0)
        newer = [ident for ident in ids[count:] if ident > covered]
        if not newer or newer[-1] - covered == len(newer):
            return None  # no missing id above what is covered already
        return newer[-1]

    def checkpoint(self, upto: int, running: Xids) -> None:
        self.checkpoints.append((upto, running))


RUNNING = """
SELECT backend_xid::text AS xid FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL
UNION ALL
SELECT transaction::text FROM pg_prepared_xacts WHERE database = current_database()
"""


async def running_xids() -> Xids:
    """The xids of the transactions running in this database now (visible to any role, unlike queries)."""
    rows = await Tortoise.get_connection("default").execute_query_dict(RUNNING)
    return frozenset(row["xid"] for row in rows)


class OutboxReader:
    """Reads the outbox in id order, never past a missing id that may still appear."""

    def __init__(self) -> None:
        self.horizon = Horizon()
        self.blocked = False  # the last read stopped at a missing id not yet resolved
        self._settle: Xids = frozenset()

    @property
    def through(self) -> int:
        return self.horizon.through

    async def start(self) -> None:
        """Begin after the newest event; `settle` then waits until every id below it is present or final."""
        postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
        self.horizon.gaps_final_at_once = not postgres
        newest = await Event.all().order_by("-id").first()
        self.horizon.through = newest.id if newest else 0
        self._settle = await running_xids() if newest is not None and postgres else frozenset()

    async def settle(self, *, wait: float = 0.01, longest_wait: float = 1.0) -> None:
        """Wait for the transactions running at `start` to end (usually at once): one may hold a missing id."""
        while self._settle and self._settle & await running_xids():
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest_wait)
        self._settle = frozenset()

    async def read(self, limit: int) -> list[Event]:
        """The next events that may be delivered, up to `limit`, in id order; call `delivered` for each."""
        horizon = self.horizon
        running = await running_xids() if horizon.wants_running() else None
        # Plain SQL: the reader runs after every commit, and building this query with the ORM each time
        # cost more CPU than reading its rows.
        after = f'{select_every_column(Event)} WHERE "id" > $1 ORDER BY "id" LIMIT $2'
        events = await select_rows(Event, after, (horizon.through, limit))
        ids = [e.id for e in events]
        count = horizon.deliverable(ids, running)
        self.blocked = count < len(events)
        if (upto := horizon.uncovered(ids, count)) is not None:
            horizon.checkpoint(upto, await running_xids())
        return events[:count]

    def delivered(self, event: Event) -> None:
        self.horizon.advance(event.id)
