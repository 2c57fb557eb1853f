"""The tokens this process has read revoked lately: what a socket that signed in just before checks.

A socket watches its token's revocation from the moment it has signed in (Hub.watch_revocation), and the
hub closes it when it reads the revocation. A revocation read between the socket's sign-in and the start
of its watch (milliseconds apart) is caught here instead, and subscriptions still delivering in the
moment before their socket closes check here too. So a revocation needs remembering only briefly: it is
kept for `seconds` (ten minutes by default, far beyond both windows), and a process that runs for months
does not keep every token ever revoked.
"""

import time
from collections.abc import Callable

REMEMBERED_SECONDS = 600.0


class RecentRevocations:
    """Token ids read revoked within the last `seconds` (by `clock`, monotonic seconds)."""

    def __init__(self, seconds: float = REMEMBERED_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._read: dict[int, float] = {}  # token id -> when it was read, oldest first

    def add(self, token_id: int) -> None:
        now = self.clock()
        self._read.pop(token_id, None)  # read again (a replay): remembered from now
        self._read[token_id] = now
        self._forget(now)

    def __contains__(self, token_id: object) -> bool:
        read = self._read.get(token_id)  # type: ignore[call-overload]
        return read is not None and self.clock() - read <= self.seconds

    def __len__(self) -> int:
        self._forget(self.clock())
        return len(self._read)

    def _forget(self, now: float) -> None:
        read = self._read
        while read:
            token_id, when = next(iter(read.items()))
            if now - when <= self.seconds:
                return
            del read[token_id]
