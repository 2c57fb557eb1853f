"""GET /debug/memory: off unless MEMORY_STATS_DIR is set; with it, the sizes that must come back down and
where the process's heap stands (Python's allocator and, under glibc, malloc's)."""

import gc
import os
import platform

from graph.memory_stats import heap, left_in_cycles
from tests.api import Api, new_key, partner_token
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
    # A collection while the objects are made would free earlier tests' garbage and hide part of the growth.
    gc.collect()
    gc.disable()
    try:
        before = heap()["pymalloc_in_blocks"]
        held = [object() for _ in range(200_000)]  # 16 bytes each, in pymalloc's blocks
        # Reading the figures frees a few blocks of its own: allow them, far below one object in a hundred.
        assert heap()["pymalloc_in_blocks"] - before >= 200_000 * 16 * 0.99
        del held
    finally:
        gc.enable()


async def test_the_route_answers_with_the_heap_only_when_configured(database_url, clock, tmp_path):
    async with serve(database_url, clock) as api:
        assert (await api.http.get("/debug/memory")).status_code == 404
    async with serve(database_url, clock, memory_stats_dir=str(tmp_path)) as api:
        body = (await api.http.get("/debug/memory")).json()
    assert body["pid"] == os.getpid() and body["subscribers"] == 0
    assert body["pymalloc_arenas"] > 0 and body["python_blocks"] > 0


async def test_the_garbage_census_names_what_was_left_in_reference_cycles(database_url, clock, tmp_path):
    class Knot:
        def __init__(self) -> None:
            self.me = self

    async with serve(database_url, clock, memory_stats_dir=str(tmp_path)) as api:
        assert (await api.http.get("/debug/memory", params={"garbage": "start"})).status_code == 200
        for _ in range(7):
            Knot()
        census = (await api.http.get("/debug/memory", params={"garbage": "50"})).json()["garbage"]
        assert census["types"][f"{__name__}.{Knot.__qualname__}"] == 7
        assert census["objects"] >= 7
        # The census ends it: the collector frees again what it finds.
        Knot()
        assert (await api.http.get("/debug/memory", params={"garbage": "50"})).json()["garbage"]["objects"] == 0


async def test_requests_leave_nothing_for_the_collector_beyond_the_clients_own(api: Api):
    # Garbage in cycles waits for a collection, which a serving process makes seldom (GC_THRESHOLD): its peaks
    # keep arenas that RSS never gives back. The test client leaves its own; the server must add none to it.
    _, token = await api.funded_lender("500.00")
    loan = await api.loan_id(await partner_token())
    await api.deposit(token, "1.00")  # a new document's parsing and checks leave some, once
    await api.lend(token, loan)
    await api.post("{ __typename }", token=token)
    await api.post("{ me { id balance } }", token=token)
    client_only = await left_in_cycles(lambda: api.post("{ __typename }", token=token), 5)
    assert await left_in_cycles(lambda: api.deposit(token, "1.00", new_key()), 5) == client_only
    assert await left_in_cycles(lambda: api.lend(token, loan, key=new_key()), 5) == client_only
    assert await left_in_cycles(lambda: api.post("{ me { id balance } }", token=token), 5) == client_only
    # Refusals too: a typed error is an answer, not an exception kept with its frames.
    assert (await api.lend(token, loan, "1000.00"))["__typename"] == "ExceedsRemaining"
    assert await left_in_cycles(lambda: api.lend(token, loan, "1000.00", new_key()), 5) == client_only
    too_many = "{ loans(first: 1000) { edges { node { id } } } }"
    assert (await api.post(too_many, token=token))["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert await left_in_cycles(lambda: api.post(too_many, token=token), 5) == client_only
