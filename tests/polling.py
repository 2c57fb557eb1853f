"""Waiting for state that other code shows only as a flag or a count: uvicorn's `started`, the hub's
subscribers, a Redis server's subscribers, a backend's connection. There is no event to await, so
the condition is polled, within a deadline that turns a hang into a failure saying what never came."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLL_INTERVAL = 0.01  # seconds


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, within: float = 10.0, every: float = POLL_INTERVAL
) -> None:
    """Return once `condition()` (a function or a coroutine function) holds, asking every `every` seconds;
    fail after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while not await _holds(condition):  # noqa: ASYNC110 (the code that owns the state offers no event)
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from None


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = condition()
    return await result if inspect.isawaitable(result) else result
