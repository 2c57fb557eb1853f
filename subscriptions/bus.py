"""The event bus between processes: a hint that new events are in the outbox.

Events themselves travel through the database (the outbox); the bus only
wakes every process's hub so it reads them at once instead of at its next
poll. A lost hint (Redis down, a crash after commit) therefore delays an
event by at most one poll interval and never loses it.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from broadcaster import Broadcast
from redis.exceptions import RedisError

from subscriptions.redis_backend import ResilientRedisBackend

log = logging.getLogger("lendgraph.bus")
ANNOUNCE_TIMEOUT = 0.25  # seconds


def channel_for(url: str) -> str:
    """The bus channel. Redis pub/sub ignores the db number, so it is part of the name:
    deployments on different dbs of one Redis do not wake each other's hubs."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        return "lendgraph:outbox"
    db = parsed.path.strip("/") or "0"
    return f"lendgraph:outbox:{db}"


def broadcast_for(url: str) -> Broadcast:
    """`memory://` (one process) or `redis://host:port/db` (any number of processes)."""
    if urlparse(url).scheme in ("redis", "rediss"):
        return Broadcast(backend=ResilientRedisBackend(url))
    return Broadcast(url)


class EventBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.channel = channel_for(url)
        self.broadcast = broadcast_for(url)

    async def connect(self) -> None:
        await self.broadcast.connect()

    async def disconnect(self) -> None:
        await self.broadcast.disconnect()

    async def announce(self) -> None:
        """Tell every process that new events were committed; never fails nor stalls the caller."""
        try:
            # A hung Redis must not hold a committed mutation's response.
            async with asyncio.timeout(ANNOUNCE_TIMEOUT):  # not wait_for, which can swallow a cancel (3.11)
                await self.broadcast.publish(self.channel, "new")
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("could not announce new events (%r); hubs will find them by polling", error)

    @asynccontextmanager
    async def hints(self) -> AsyncIterator[Any]:  # broadcaster's Subscriber, which it does not export
        async with self.broadcast.subscribe(self.channel) as subscriber:
            yield subscriber
