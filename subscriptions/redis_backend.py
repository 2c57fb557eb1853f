"""A broadcaster backend for Redis pub/sub that works with redis-py 8 and survives restarts.

broadcaster 0.3.1's own backend wakes its listener before the channel is
subscribed (with redis-py 8 it then never receives anything) and its
listener dies for good when Redis goes away. This one subscribes first,
then listens; on any connection error it backs off, reconnects and
subscribes again, and reports the reconnection as a message so that
consumers can catch up on what they missed meanwhile.
"""

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from broadcaster import BroadcastBackend, Event
from redis import asyncio as redis

log = logging.getLogger("lendgraph.redis")
RECONNECTED = "reconnected"
T = TypeVar("T")
_unfinished: set[asyncio.Future[Any]] = set()  # commands whose caller was cancelled, kept until they end


async def redis_call(command: Awaitable[T]) -> T:
    """Await a redis-py command so that a cancel of the caller is never lost.

    redis-py writes each command under asyncio.wait_for, which on Python 3.11 swallows a cancel
    that lands as the write completes: the command returns as if nothing happened. A WebSocket
    operation cancelled then (its client gone) ran on and waited for events forever, holding its
    subscriber and task (bench/churn). Run in a task of its own behind asyncio.shield, the command
    finishes (or fails) by itself, and the caller sees its cancel at once.
    """
    task = asyncio.ensure_future(command)
    _unfinished.add(task)
    task.add_done_callback(_unfinished.discard)
    return await asyncio.shield(task)


class ResilientRedisBackend(BroadcastBackend):
    def __init__(self, url: str, *, min_backoff: float = 0.05, max_backoff: float = 2.0) -> None:
        self._url = url
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._channels: set[str] = set()
        self._changed = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None
        self._publisher: redis.Redis | None = None
        self.connected = asyncio.Event()

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=5)

    async def connect(self) -> None:
        self._publisher = self._client()
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._publisher is not None:
            await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._changed.set()

    async def publish(self, channel: str, message: Any) -> None:
        assert self._publisher is not None, "connect() first"
        await redis_call(self._publisher.publish(channel, message))

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _listen(self) -> None:
        backoff = self._min_backoff
        # Even the first connection announces itself: a hint published before the
        # SUBSCRIBE took effect would otherwise wait for the next poll.
        announce = True
        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await self._follow(pubsub, announce=announce)
            except Exception as error:  # whatever breaks the connection, listen again (cancel still ends it)
                if self.connected.is_set():
                    log.warning("lost Redis (%s); reconnecting", error)
                    backoff = self._min_backoff
                self.connected.clear()
                announce = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                await pubsub.aclose()
                await client.aclose()

    async def _follow(self, pubsub: Any, *, announce: bool) -> None:
        """Subscribe to every channel, then relay messages until the connection fails."""
        subscribed: set[str] = set()
        while True:
            wanted = set(self._channels)
            if wanted - subscribed:
                await pubsub.subscribe(*(wanted - subscribed))
            if subscribed - wanted:
                await pubsub.unsubscribe(*(subscribed - wanted))
            self._changed.clear()
            subscribed = wanted
            if not subscribed:
                await self._changed.wait()
                continue
            if not self.connected.is_set():
                self.connected.set()
                if announce:
                    for channel in subscribed:
                        self._queue.put_nowait(Event(channel, RECONNECTED))
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "message":
                # A stray non-UTF-8 message from another publisher must not end the listener.
                channel, data = message["channel"], message["data"]
                self._queue.put_nowait(Event(channel.decode(errors="replace"), data.decode(errors="replace")))
