"""Rate limits: fixed windows per client IP, per token, and per lender for money mutations.

Every HTTP request and every WebSocket operation counts once against the
IP's bucket and, when it carries a token, once against the token's bucket.
Each deposit, withdraw and lend field also counts against the lender's money
bucket, shared by all of that lender's tokens. Windows are aligned on the
clock (`window` seconds each); a request that goes over a limit is refused
and counts too, so a client that keeps hammering stays refused until the
window ends.

Counters live in Redis when configured: one Lua script increments every
bucket of a request and sets its expiry, atomically, in one round trip, so
all workers on all machines share the counts. Otherwise (and for a few
seconds after Redis fails, so the API stays up) they live in this process.

Over the limit, HTTP gets 429 with Retry-After and a GraphQL-shaped body;
a WebSocket operation gets an `error` message; both carry the error code
RATE_LIMITED (graph/app.py, graph/pipeline.py).
"""

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlparse

from graphql import GraphQLError
from redis import asyncio as redis
from redis.exceptions import RedisError

from lending.tokens import Viewer
from subscriptions.redis_backend import redis_call

log = logging.getLogger("lendgraph.ratelimit")
RATE_LIMITED = "RATE_LIMITED"
REDIS_RETRY_SECONDS = 5.0

# INCRBY each key and (re)set its expiry; return the new counts. Atomic: Redis runs a script alone.
_HIT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCRBY', key, ARGV[1])
  redis.call('EXPIRE', key, ARGV[2])
end
return counts
"""


@dataclass(frozen=True)
class Bucket:
    kind: str  # IP, TOKEN or LENDER_MONEY
    id: str
    limit: int
    counts: str  # what it counts, for messages

    @property
    def name(self) -> str:
        return f"{self.kind.lower()}:{self.id}"


@dataclass(frozen=True)
class Usage:
    bucket: Bucket
    used: int
    reset_at: datetime
    window: int

    @property
    def limit(self) -> int:
        return self.bucket.limit

    @property
    def remaining(self) -> int:
        return max(self.bucket.limit - self.used, 0)

    @property
    def exceeded(self) -> bool:
        return self.used > self.bucket.limit

    def retry_after(self, now: datetime) -> int:
        return max(math.ceil((self.reset_at - now).total_seconds()), 1)

    def headers(self) -> dict[str, str]:
        """GitHub-style headers that tell a client where it stands (named in RATE_LIMIT_HEADERS)."""
        values = (self.limit, self.remaining, self.used, int(self.reset_at.timestamp()), self.bucket.kind)
        return {name: str(value) for name, value in zip(RATE_LIMIT_HEADERS, values, strict=True)}


# Also the response headers browsers on other origins may read (graph/app.py CORS).
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource"
)  # fmt: skip


def rate_limited_error(usage: Usage, now: datetime) -> GraphQLError:
    retry = usage.retry_after(now)
    return GraphQLError(
        f"Rate limit exceeded: at most {usage.limit} {usage.bucket.counts} per {usage.window} s; retry in {retry} s.",
        extensions={
            "code": RATE_LIMITED,
            "bucket": usage.bucket.kind,
            "limit": usage.limit,
            "retryAfter": retry,
            "resetAt": usage.reset_at.isoformat(),
        },
    )


class RateLimited(Exception):
    """Raised before an HTTP request executes; graph/app.py answers 429."""

    def __init__(self, usage: Usage, now: datetime) -> None:
        super().__init__(usage.bucket.name)
        self.usage = usage
        self.error = rate_limited_error(usage, now)
        self.headers = {**usage.headers(), "Retry-After": str(usage.retry_after(now))}


class Counters(Protocol):
    async def add(self, names: Sequence[str], window: int, amount: int) -> list[int]: ...
    async def get(self, name: str, window: int) -> int: ...
    async def close(self) -> None: ...


class MemoryCounters:
    """This process's counters: keeps the current and the previous window only."""

    def __init__(self) -> None:
        self.windows: dict[int, dict[str, int]] = {}

    def _window(self, window: int) -> dict[str, int]:
        if window not in self.windows:
            for old in [w for w in self.windows if w < window - 1]:
                del self.windows[old]
            self.windows[window] = {}
        return self.windows[window]

    async def add(self, names: Sequence[str], window: int, amount: int) -> list[int]:
        counts = self._window(window)
        for name in names:
            counts[name] = counts.get(name, 0) + amount
        return [counts[name] for name in names]

    async def get(self, name: str, window: int) -> int:
        return self.windows.get(window, {}).get(name, 0)

    async def close(self) -> None:
        pass


class RedisCounters:
    """Counters shared by every process through Redis; this process's memory while Redis is unreachable."""

    def __init__(self, url: str, prefix: str, ttl: int) -> None:
        self.url, self.prefix, self.ttl = url, prefix, ttl
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self.script = self.client.register_script(_HIT_SCRIPT)
        self.fallback = MemoryCounters()
        self.retry_at = 0.0  # monotonic time from which Redis is tried again

    def _key(self, name: str, window: int) -> str:
        return f"{self.prefix}{name}:{window}"

    def _usable(self) -> bool:
        return time.monotonic() >= self.retry_at

    def _failed(self, error: Exception) -> None:
        if self._usable():
            log.warning("rate limits counted in this process for %ss: Redis failed (%s)", REDIS_RETRY_SECONDS, error)
        self.retry_at = time.monotonic() + REDIS_RETRY_SECONDS

    async def add(self, names: Sequence[str], window: int, amount: int) -> list[int]:
        if self._usable():
            try:
                keys = [self._key(n, window) for n in names]
                counts = await redis_call(self.script(keys=keys, args=[amount, self.ttl]))
                return [int(c) for c in counts]
            except (RedisError, OSError) as error:
                self._failed(error)
        return await self.fallback.add(names, window, amount)

    async def get(self, name: str, window: int) -> int:
        if self._usable():
            try:
                return int(await redis_call(self.client.get(self._key(name, window))) or 0)
            except (RedisError, OSError) as error:
                self._failed(error)
        return await self.fallback.get(name, window)

    async def close(self) -> None:
        await self.client.aclose()


class RateLimiter:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        window: int = 60,
        per_ip: int = 0,
        per_token: int = 0,
        money_per_lender: int = 0,
        store: str = "memory://",
        prefix: str = "lendgraph:rl:",
    ) -> None:
        self.clock = clock
        self.window = max(int(window), 1)
        self.per_ip, self.per_token, self.money_per_lender = per_ip, per_token, money_per_lender
        self.store = store
        if urlparse(store).scheme in ("redis", "rediss"):
            self.counters: Counters = RedisCounters(store, prefix, ttl=2 * self.window)
        else:
            self.counters = MemoryCounters()

    @classmethod
    def from_settings(cls, settings: Any, clock: Callable[[], datetime]) -> "RateLimiter":
        return cls(
            clock=clock,
            window=settings.rate_limit_window,
            per_ip=settings.rate_limit_per_ip,
            per_token=settings.rate_limit_per_token,
            money_per_lender=settings.rate_limit_money_per_lender,
            store=settings.rate_limit_store,
            prefix=settings.rate_limit_key_prefix,
        )

    async def close(self) -> None:
        await self.counters.close()

    # --- buckets; None when that limit is off
    def ip(self, address: str | None) -> Bucket | None:
        if not self.per_ip:
            return None
        return Bucket("IP", address or "unknown", self.per_ip, "requests from one IP address")

    def token(self, viewer: Viewer | None) -> Bucket | None:
        if not self.per_token or viewer is None:
            return None
        return Bucket("TOKEN", str(viewer.token_id), self.per_token, "requests with one token")

    def money(self, viewer: Viewer | None) -> Bucket | None:
        if not self.money_per_lender or viewer is None or viewer.lender_id is None:
            return None
        return Bucket(
            "LENDER_MONEY",
            str(viewer.lender_id),
            self.money_per_lender,
            "deposits, withdrawals and loans by one lender",
        )

    def caller(self, viewer: Viewer | None, address: str | None) -> Bucket | None:
        """The bucket a caller watches: its token's when it has one, its IP's otherwise."""
        return self.token(viewer) if viewer is not None else self.ip(address)

    # --- counting
    def _window(self) -> tuple[int, datetime]:
        now = self.clock().timestamp()
        index = int(now // self.window)
        return index, datetime.fromtimestamp((index + 1) * self.window, UTC)

    async def hit(self, buckets: Sequence[Bucket | None], amount: int = 1) -> list[Usage]:
        """Count `amount` against every bucket at once; the usages after counting."""
        live = [b for b in buckets if b is not None]
        if not live:
            return []
        index, reset_at = self._window()
        counts = await self.counters.add([b.name for b in live], index, amount)
        return [Usage(b, used, reset_at, self.window) for b, used in zip(live, counts, strict=True)]

    async def check(self, buckets: Sequence[Bucket | None], amount: int = 1) -> list[Usage]:
        """Count; raise RateLimited for the first bucket over its limit."""
        usages = await self.hit(buckets, amount)
        for usage in usages:
            if usage.exceeded:
                raise RateLimited(usage, self.clock())
        return usages

    async def peek(self, bucket: Bucket) -> Usage:
        index, reset_at = self._window()
        return Usage(bucket, await self.counters.get(bucket.name, index), reset_at, self.window)
