"""How many operations one process executes at once, of those sent over HTTP.

Under a burst every executing operation holds its document, context, loaders
and partial results, and waits for the same CPU and the same pooled
connections as the others: hundreds at once only make each one slower (a
query's QUERY_TIMEOUT runs out while it waits its turn inside) and the process
larger, by memory it keeps after the burst. So at most `limit` operations
execute at once; the others wait at the door in arrival order, holding
nothing but their request, for at most `wait_seconds`, and are then refused
with the retryable UNAVAILABLE (HTTP 503, `Retry-After`) before anything ran.
An answer the response cache holds needs no turn. (A WebSocket's queries and
mutations, few per socket and rate limited, run as they come.)
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


class Overloaded(ConnectionError):
    """No turn came within the wait: the process is saturated, try again shortly (transient, as
    models.db.is_transient counts every ConnectionError)."""


class Admission:
    """At most `limit` operations at once (0: no limit); a turn is waited for at most `wait_seconds` (0: as
    long as it takes). `before_waiting` runs when an operation must wait (it gives back what it holds)."""

    def __init__(
        self, limit: int, wait_seconds: float, before_waiting: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.before_waiting = before_waiting
        self._turns = asyncio.Semaphore(limit) if limit > 0 else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the turns while the block runs; Overloaded if none came in time."""
        turns = self._turns
        if turns is None:
            yield
            return
        if turns.locked() and self.before_waiting is not None:
            await self.before_waiting()
        if turns.locked() and self.wait_seconds > 0:
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await turns.acquire()
            except TimeoutError:
                raise Overloaded(f"busy: no turn to execute came within {self.wait_seconds:g} s") from None
        else:
            await turns.acquire()
        try:
            yield
        finally:
            turns.release()
