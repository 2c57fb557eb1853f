"""What the benchmarks measure the database with: round trips counted in the driver, and sampled sessions."""

import asyncio
import collections
import contextlib
import contextvars
import statistics
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg

from bench.common import describe

_tripping: contextvars.ContextVar["RoundTrips | None"] = contextvars.ContextVar("bench_round_trips", default=None)
_everywhere: list["RoundTrips"] = []  # counters of every statement, whichever task sends it
_unseen: contextvars.ContextVar[bool] = contextvars.ContextVar("bench_unseen", default=False)
_driver_patched = False


class RoundTrips:
    """The statements asyncpg sends for the code inside `counting()`, whatever sent them.

    Counted in the driver, below tortoise, so BEGIN, COMMIT, ROLLBACK and the
    reset asyncpg's pool sends when a connection goes back to it count as
    well, and a baseline's bare asyncpg calls are counted the same way. Each
    is one round trip (a statement asyncpg has not prepared on that
    connection yet takes one more, to prepare it: not counted). Tasks
    started inside inherit the counter; tasks started earlier (the app's
    outbox reader) do not. The hook costs a context-variable lookup per
    statement, on both paths alike.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []

    @contextlib.contextmanager
    def counting(self) -> Iterator["RoundTrips"]:
        _patch_driver()
        scope = _tripping.set(self)
        try:
            yield self
        finally:
            _tripping.reset(scope)

    @contextlib.contextmanager
    def everywhere(self) -> Iterator["RoundTrips"]:
        """Count every statement the process sends meanwhile, from any task.

        Work that no request's task sends (a batch flushed by a background
        task, the outbox reader) is counted here and nowhere else.
        """
        _patch_driver()
        _everywhere.append(self)
        try:
            yield self
        finally:
            _everywhere.remove(self)

    def __len__(self) -> int:
        return len(self.statements)


def unseen() -> None:
    """Never count what the calling task (and the tasks it starts) sends: the benchmarks' own instruments."""
    _unseen.set(True)


def _note(query: str) -> None:
    if _unseen.get():
        return
    trips = _tripping.get()
    if trips is not None:
        trips.statements.append(query)
    for counter in _everywhere:
        counter.statements.append(query)


def _patch_driver() -> None:
    """Wrap the three asyncpg.Connection methods every statement goes through (pooled ones too).

    Two of them are asyncpg's private ones: this is the benchmarks' own
    instrument, and an asyncpg that renames them fails here, on getattr.
    """
    global _driver_patched
    if _driver_patched:
        return
    _driver_patched = True
    connection = asyncpg.connection.Connection
    plain, prepared, many = (getattr(connection, name) for name in ("execute", "_execute", "_executemany"))

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _execute, counted there
            _note(query)
        return await plain(self, query, *args, **kwargs)

    async def _execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        _note(query)
        return await prepared(self, query, *args, **kwargs)

    async def _executemany(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        _note(query)
        return await many(self, query, *args, **kwargs)

    for name, wrapper in (("execute", execute), ("_execute", _execute), ("_executemany", _executemany)):
        setattr(connection, name, wrapper)


def trips_summary(counts: Sequence[int]) -> str:
    """'21' when every operation sent the same number, else 'mean (min-max)'."""
    if not counts:
        return "-"
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{statistics.fmean(counts):.1f} ({low}-{high})"


class LockWaits:
    """Samples what the database's sessions are doing, every `interval` seconds, while it is open.

    Read from pg_stat_activity on a connection of its own (never counted as
    a round trip). Each session is waiting on a lock (and in which
    statement), running a statement, in a transaction waiting for the client
    (its locks held meanwhile), or idle. Where the lock waits pile up is
    where work is serialised.
    """

    STATES = ("waiting on a lock", "running", "in a transaction, waiting for the client", "idle")

    def __init__(self, dsn: str, application_name: str | None = None, interval: float = 0.05) -> None:
        """Sessions of the database whose application_name is `application_name` (None: all of them)."""
        self.dsn, self.application_name, self.interval = dsn, application_name, interval
        self.samples = 0
        self.waiting: collections.Counter[str] = collections.Counter()
        self.states: collections.Counter[str] = collections.Counter()

    async def __aenter__(self) -> "LockWaits":
        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._connection.close()

    async def _sample(self) -> None:
        unseen()
        while True:
            rows = await self._connection.fetch(
                "SELECT state, wait_event_type, query FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND ($1::text IS NULL OR application_name = $1)",
                self.application_name,
            )
            self.samples += 1
            for row in rows:
                if row["wait_event_type"] == "Lock":
                    self.states[self.STATES[0]] += 1
                    self.waiting[describe(row["query"])] += 1
                elif row["state"] == "active":
                    self.states[self.STATES[1]] += 1
                elif (row["state"] or "").startswith("idle in transaction"):
                    self.states[self.STATES[2]] += 1
                else:
                    self.states[self.STATES[3]] += 1
            await asyncio.sleep(self.interval)

    def summary(self) -> str:
        if not self.samples:
            return "no samples of the sessions"
        text = f"sessions on average ({self.samples} samples): " + ", ".join(
            f"{self.states[state] / self.samples:.1f} {state}" for state in self.STATES
        )
        total = sum(self.waiting.values())
        if total:
            text += "; lock waits in " + ", ".join(
                f"{what} {100 * n / total:.0f}%" for what, n in self.waiting.most_common(3)
            )
        return text
