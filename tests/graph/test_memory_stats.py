"""GET /debug/memory: off unless MEMORY_STATS_DIR is set; with it, the sizes that must come back down and
where the process's heap stands (Python's allocator and, under glibc, malloc's)."""

import os
import platform

from graph.memory_stats import heap
from tests.conftest import serve


def test_the_heap_figures_describe_this_process():
    found = heap()
    assert found["pid"] == os.getpid()
    assert found["python_blocks"] > 0
    # pymalloc's arenas are 1 MiB: the bytes in its allocated blocks fit in the arenas it holds now.
    assert 0 < found["pymalloc_in_blocks"] <= found["pymalloc_arenas"] * 2**20
    assert found["pymalloc_arenas_highwater"] >= found["pymalloc_arenas"] > 0
    if platform.libc_ver()[0] == "glibc":
        assert 0 < found["malloc_in_use"] <= found["malloc_arena"] + found["malloc_mmapped"]
        assert found["malloc_in_use"] + found["malloc_free"] <= found["malloc_arena"] + found["malloc_mmapped"]


def test_the_heap_figures_grow_with_what_the_process_holds():
    before = heap()["pymalloc_in_blocks"]
    held = [object() for _ in range(200_000)]  # 16 bytes each, in pymalloc's blocks
    assert heap()["pymalloc_in_blocks"] - before >= 200_000 * 16
    del held


async def test_the_route_answers_with_the_heap_only_when_configured(database_url, clock, tmp_path):
    async with serve(database_url, clock) as api:
        assert (await api.http.get("/debug/memory")).status_code == 404
    async with serve(database_url, clock, memory_stats_dir=str(tmp_path)) as api:
        body = (await api.http.get("/debug/memory")).json()
    assert body["pid"] == os.getpid() and body["subscribers"] == 0
    assert body["pymalloc_arenas"] > 0 and body["python_blocks"] > 0
