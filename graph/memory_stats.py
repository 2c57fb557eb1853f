"""`GET /debug/memory`: what a serving process holds, for the churn soak (bench/churn) and for diagnosis.

Off unless MEMORY_STATS_DIR is set (never in production: it shows internal sizes). It answers with the
sizes of the structures that grow with connections (the hub's subscribers and revocation watchers, the
shared-results caches, the rate limiter's in-process windows, the event loop's tasks) and the number of
objects the garbage collector tracks, with where the process's heap stands: the blocks Python's allocator
hands out and, under glibc, malloc's arena size and the part of it in use, so a growing RSS can be told
apart into live data and fragmentation. `?collect=1` collects garbage first; `?types=N` adds the N most
numerous types among those objects;
`?garbage=start` makes the collector keep what it finds unreachable (gc.DEBUG_SAVEALL) and `?garbage=N`
reports the N most numerous types of it since then and stops keeping: the objects the process's work leaves
in reference cycles, which only the collector frees; `?stacks=N`, the N most common stacks of
live tasks; `?snapshot=NAME` (while tracemalloc traces, PYTHONTRACEMALLOC=1) writes a tracemalloc snapshot to
MEMORY_STATS_DIR/NAME.tracemalloc.
"""

import asyncio
import ctypes
import ctypes.util
import functools
import gc
import os
import re
import sys
import tempfile
import tracemalloc
import types
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from graph.execution import SharedResults
from graph.limits.rate import MemoryCounters, RateLimiter, RedisCounters
from graph.response_cache import ResponseCache
from subscriptions.hub import Hub

_NAME = re.compile(r"^\w{1,64}$")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


_PYMALLOC = {
    "pymalloc_arenas": "# arenas allocated current",
    "pymalloc_arenas_highwater": "# arenas highwater mark",
    "pymalloc_in_blocks": "# bytes in allocated blocks",
    "pymalloc_free_blocks": "# bytes in available blocks",
}


def pymalloc() -> dict[str, int]:
    """Python's small-object allocator: its 1 MiB arenas (current and most ever) and how full they are.

    CPython prints these only to the C stderr (sys._debugmallocstats), so it is caught there.
    """
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        lines = sink.read().decode(errors="replace").splitlines()
    found = {}
    for name, label in _PYMALLOC.items():
        line = next((line for line in lines if line.startswith(label)), None)
        if line is not None:
            found[name] = int(line.rsplit("=", 1)[1].replace(",", ""))
    unused = next((line for line in lines if "unused pools *" in line), None)
    if unused is not None:
        found["pymalloc_unused_pools"] = int(unused.rsplit("=", 1)[1].replace(",", ""))
    return found


@functools.cache
def _mallinfo2() -> Any:
    """glibc's mallinfo2 (2.33 or later), or None; looked up once (find_library runs ldconfig)."""
    library = ctypes.util.find_library("c")
    function = getattr(ctypes.CDLL(library), "mallinfo2", None) if library else None
    if function is not None:
        function.restype = _MallInfo2
    return function


def heap() -> dict[str, int]:
    """Python's allocated blocks and, where the C library is glibc (2.33 or later), malloc's own view in bytes."""
    found = {"pid": os.getpid(), "python_blocks": sys.getallocatedblocks(), **pymalloc()}
    mallinfo2 = _mallinfo2()
    if mallinfo2 is not None:
        info = mallinfo2()
        found |= {"malloc_arena": info.arena, "malloc_mmapped": info.hblkhd, "malloc_in_use": info.uordblks}
        found["malloc_free"] = info.fordblks
    return found


def sizes(hub: Hub, shared: SharedResults, rate: RateLimiter, responses: ResponseCache | None = None) -> dict[str, int]:
    """The sizes that must come back down when the connections that made them are gone."""
    counters = rate.counters
    memory = counters.fallback if isinstance(counters, RedisCounters) else counters
    return {
        "subscribers": hub.subscriber_count(),
        "topics": hub.topic_count(),
        "revocation_watchers": hub.watcher_count(),
        "revoked_tokens": len(hub.revoked),
        **{f"shared_{name}": size for name, size in shared.sizes().items()},
        "responses": len(responses) if responses is not None else 0,
        "responses_bytes": responses.bytes if responses is not None else 0,
        "responses_hits": responses.hits if responses is not None else 0,
        "rate_buckets": sum(len(w) for w in memory.windows.values()) if isinstance(memory, MemoryCounters) else 0,
        "tasks": len(asyncio.all_tasks()),
        "gc_objects": len(gc.get_objects()),
        **heap(),
    }


def task_stacks(top: int) -> list[tuple[int, list[str]]]:
    """The `top` most common stacks of live tasks (their innermost frames), with how many tasks share each."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=12)
        stacks[tuple(f"{Path(f.f_code.co_filename).name}:{f.f_code.co_name}:{f.f_lineno}" for f in frames)] += 1
    return [(count, list(stack)) for stack, count in stacks.most_common(top)]


def _garbage_name(obj: object) -> str:
    """An object's type; for a function, which one (a closure in a cycle is named by where it was made)."""
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


async def left_in_cycles(work: Callable[[], Awaitable[object]], times: int = 1) -> Counter[str]:
    """What `times` runs of `work` leave in reference cycles, by type (functions by name).

    The collector is off meanwhile and keeps what it finds (gc.DEBUG_SAVEALL): every object counted was
    unreachable and needed a collection. For tests and bench.profile_request, in-process.
    """
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(times):
            await work()
        gc.collect()
        return Counter(_garbage_name(o) for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


def garbage_census(top: int) -> dict[str, Any]:
    """What the collector found unreachable since `?garbage=start`, by type, and it is dropped; keeping stops."""
    gc.collect()
    found = Counter(_garbage_name(o) for o in gc.garbage)
    gc.garbage.clear()
    gc.set_debug(gc.get_debug() & ~gc.DEBUG_SAVEALL)
    return {"objects": sum(found.values()), "types": dict(found.most_common(top))}


def endpoint(
    directory: str, hub: Hub, shared: SharedResults, rate: RateLimiter, responses: ResponseCache | None = None
) -> Any:
    """The route's handler, for create_app."""

    async def memory(request: Request) -> Response:
        if request.query_params.get("collect"):
            gc.collect()
        body: dict[str, Any] = sizes(hub, shared, rate, responses)
        top = request.query_params.get("types")
        if top and top.isdigit():
            counts = Counter(type(o).__qualname__ for o in gc.get_objects())
            body["types"] = dict(counts.most_common(int(top)))
        census = request.query_params.get("garbage")
        if census == "start":
            gc.collect()
            gc.garbage.clear()
            gc.set_debug(gc.get_debug() | gc.DEBUG_SAVEALL)
        elif census and census.isdigit():
            body["garbage"] = garbage_census(int(census))
        top = request.query_params.get("stacks")
        if top and top.isdigit():
            body["stacks"] = task_stacks(int(top))
        name = request.query_params.get("snapshot")
        if name:
            if not _NAME.match(name) or not tracemalloc.is_tracing():
                return JSONResponse({"error": "snapshot needs a plain name and PYTHONTRACEMALLOC"}, 400)
            path = Path(directory) / f"{name}.tracemalloc"
            tracemalloc.take_snapshot().dump(str(path))
            body["snapshot"] = str(path)
        return JSONResponse(body)

    return memory
