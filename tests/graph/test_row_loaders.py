"""graph.loaders.RowLoader: rows an operation primes its loaders with become futures only when asked for,
and it answers as strawberry's DataLoader does otherwise."""

import asyncio

from graph.loaders import RowLoader, then


class Rows:
    """A load function over a table of rows, recording each batch it is asked for."""

    def __init__(self, rows: dict[int, str]) -> None:
        self.rows = rows
        self.batches: list[list[int]] = []

    async def __call__(self, ids: list[int]) -> list[str | None]:
        self.batches.append(list(ids))
        return [self.rows.get(i) for i in ids]


async def test_a_primed_row_is_loaded_without_a_query_and_made_a_future_only_when_asked_for():
    table = Rows({1: "one from the database", 2: "two from the database"})
    loader = RowLoader(table)
    loader.prime_many({1: "one from the page", 2: "two from the page"})
    assert await loader.load(1) == "one from the page"
    assert await loader.load_many([2, 1]) == ["two from the page", "one from the page"]
    assert await loader.load(3) is None
    assert table.batches == [[3]]
    assert then(loader, 2, str.upper) == "TWO FROM THE PAGE"  # at once, not awaited


async def test_priming_replaces_no_row_loaded_or_primed_before_unless_forced():
    table = Rows({1: "one from the database"})
    loader = RowLoader(table)
    assert await loader.load(1) == "one from the database"
    loader.prime_many({1: "one from a page", 2: "two from a page"})
    loader.prime_many({2: "two from another page"})
    assert await loader.load_many([1, 2]) == ["one from the database", "two from a page"]
    loader.prime_many({1: "one, forced"}, force=True)
    assert await loader.load(1) == "one, forced"
    assert table.batches == [[1]]


async def test_a_load_waiting_for_its_batch_is_answered_by_the_rows_primed_meanwhile():
    table = Rows({1: "one from the database", 2: "two from the database"})
    loader = RowLoader(table)
    waiting = asyncio.ensure_future(loader.load_many([1, 2]))
    await asyncio.sleep(0)  # the load is queued in a batch not yet sent
    loader.prime_many({1: "one from the page"})
    assert await waiting == ["one from the page", "two from the database"]
    assert table.batches == [[2]]


async def test_a_row_cleared_is_loaded_again():
    table = Rows({1: "one from the database"})
    loader = RowLoader(table)
    loader.prime_many({1: "one from the page"})
    loader.clear(1)
    assert await loader.load(1) == "one from the database"
    loader.prime_many({1: "one from the page"})
    loader.clear_all()
    assert await loader.load(1) == "one from the database"
    assert table.batches == [[1], [1]]


async def test_rows_primed_later_are_made_only_at_the_first_lookup_and_replace_nothing_loaded():
    table = Rows({1: "one from the database", 3: "three from the database"})
    loader = RowLoader(table)
    made = []

    def page() -> dict[int, str]:
        made.append("page")
        return {1: "one from the page", 2: "two from the page"}

    assert await loader.load(1) == "one from the database"
    loader.prime_later(page)
    assert made == []
    assert await loader.load_many([1, 2, 3]) == [
        "one from the database",
        "two from the page",
        "three from the database",
    ]
    assert made == ["page"]
    assert table.batches == [[1], [3]]


async def test_a_row_primed_later_and_cleared_is_loaded_again():
    table = Rows({1: "one from the database"})
    loader = RowLoader(table)
    loader.prime_later(lambda: {1: "one from the page"})
    loader.clear(1)
    assert await loader.load(1) == "one from the database"
    loader.prime_later(lambda: {1: "one from the page"})
    loader.clear_all()
    assert await loader.load(1) == "one from the database"
    assert table.batches == [[1], [1]]


async def test_a_load_waiting_for_its_batch_is_answered_by_rows_primed_later_meanwhile():
    table = Rows({1: "one from the database", 2: "two from the database"})
    loader = RowLoader(table)
    waiting = asyncio.ensure_future(loader.load_many([1, 2]))
    await asyncio.sleep(0)
    loader.prime_later(lambda: {2: "two from the page"})
    assert await waiting == ["one from the database", "two from the page"]
    assert table.batches == [[1]]
