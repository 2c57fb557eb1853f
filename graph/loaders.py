"""DataLoaders: one batched query per kind of object per operation, whatever the page size."""

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from strawberry.dataloader import AbstractCache, DataLoader
from tortoise.functions import Count
from tortoise.models import Model

from lending.filters import LOAN_LENDERS
from lending.paging import Page, first_pages
from lending.partners import PartnerRecord, partner_records
from models import Lender, Loan, LoanStatus, Partner, Share
from models.bulk import one_of, select_every_column, select_rows
from models.tortoise_internals import read_with

T = TypeVar("T")
R = TypeVar("R")


class RowCache(AbstractCache[int, T]):
    """A row loader's cache. Rows the operation already holds (a page's loans and partners, read with it) are
    kept as they are, and made into the settled future a load returns only when one is asked for: a page
    primes its loaders with a hundred loans, and few of them are then asked for by id."""

    def __init__(self) -> None:
        self._futures: dict[int, asyncio.Future[T]] = {}
        self._known: dict[int, T] = {}
        self._later: list[Callable[[], Mapping[int, T]]] = []

    def know(self, rows: Mapping[int, T]) -> None:
        """Remember `rows`, without replacing a row loaded or known already (as DataLoader.prime_many)."""
        for key, row in rows.items():
            if key not in self._futures:
                self._known.setdefault(key, row)

    def know_later(self, rows: Callable[[], Mapping[int, T]]) -> None:
        """Remember the rows `rows()` makes when a key is first looked up: a page's hundred rows are then
        not sorted into the cache for an operation that asks for none of them by id."""
        self._later.append(rows)

    def _learn(self) -> None:
        later, self._later = self._later, []
        for rows in later:
            self.know(rows())

    def get(self, key: int) -> "asyncio.Future[T] | None":
        future = self._futures.get(key)
        if future is None:
            if self._later:
                self._learn()
            if key in self._known:
                future = self._futures[key] = asyncio.get_running_loop().create_future()
                future.set_result(self._known.pop(key))
        return future

    def set(self, key: int, value: "asyncio.Future[T]") -> None:
        if self._later:  # a row known later must not replace this one
            self._learn()
        self._futures[key] = value
        self._known.pop(key, None)

    def delete(self, key: int) -> None:
        if self._later:  # nor come back once deleted
            self._learn()
        self._futures.pop(key, None)
        self._known.pop(key, None)

    def clear(self) -> None:
        self._futures.clear()
        self._known.clear()
        self._later.clear()


class RowLoader(DataLoader[int, T | None]):
    """A DataLoader of rows by id whose primed rows become futures only when asked for (RowCache)."""

    cache_map: RowCache[T | None]

    def __init__(self, load_fn: Callable[[list[int]], Awaitable[Sequence[T | None]]]) -> None:
        super().__init__(load_fn, cache_map=RowCache())

    def prime_many(self, data: Mapping[int, T | None], force: bool = False) -> None:
        batch = self.batch
        if force or (batch is not None and not batch.dispatched):
            super().prime_many(data, force)  # strawberry's own way, which also answers loads waiting for the batch
        else:
            self.cache_map.know(data)

    def prime_later(self, data: Callable[[], Mapping[int, T | None]]) -> None:
        """prime_many(data()), the rows made only when the operation first looks a key up."""
        batch = self.batch
        if batch is not None and not batch.dispatched:
            self.prime_many(data())  # loads are waiting for the batch: answered now
        else:
            self.cache_map.know_later(data)


def _by_id(model) -> Callable:
    async def load(ids: list[int]) -> list:
        # Plain SQL, the columns filter() selects: one of these runs in almost every read, and building
        # the same query with the ORM each time cost more CPU than reading its rows.
        condition, values = one_of("id", ids, 1)
        found = {
            row.id: row for row in await select_rows(model, f"{select_every_column(model)} WHERE {condition}", values)
        }
        return [found.get(i) for i in ids]

    return load


def _partner_records(clock: Callable[[], datetime]) -> Callable[[list[int]], Awaitable[list[PartnerRecord]]]:
    # A function of the clock, not a method: a loader holding its Loaders would make every request's
    # loaders a reference cycle, freed only by a full collection.
    async def load(ids: list[int]) -> list[PartnerRecord]:
        records = await partner_records(list(ids), clock())
        return [records[i] for i in ids]

    return load


class Loaders:
    """An operation's loaders, each made at its first use: most operations use one or two of them, and a
    subscription makes a new set for every event it sends.

    `carried`: a loan an event carries (with its partner, if read with it), known to the loaders that
    the event's fields would otherwise read it with.
    """

    def __init__(self, clock: Callable[[], datetime], carried: Loan | None = None) -> None:
        self.clock = clock
        self._carried = carried

    @functools.cached_property
    def loan(self) -> RowLoader[Loan]:
        loader: RowLoader[Loan] = RowLoader(_by_id(Loan))
        if self._carried is not None:
            loader.prime(self._carried.id, self._carried)
        return loader

    @functools.cached_property
    def partner(self) -> RowLoader[Partner]:
        loader: RowLoader[Partner] = RowLoader(_by_id(Partner))
        if self._carried is not None and isinstance(self._carried.partner, Partner):
            loader.prime(self._carried.partner_id, self._carried.partner)
        return loader

    @functools.cached_property
    def lender(self) -> DataLoader[int, Lender | None]:
        return RowLoader(_by_id(Lender))

    @functools.cached_property
    def partner_record(self) -> DataLoader[int, PartnerRecord]:
        return DataLoader(_partner_records(self.clock))

    @functools.cached_property
    def loan_count(self) -> DataLoader[int, int]:
        return DataLoader(_loan_counts)

    @functools.cached_property
    def first_lenders(self) -> DataLoader[tuple[int, int], Page[Share]]:
        """(loan id, page size): the first page of the loan's shares, in the order its lenders joined."""
        return DataLoader(_first_lenders)


def prime_loans(loaders: Loaders, loans: Callable[[], list[Loan]]) -> None:
    """Remember the loans `loans()` gives, read with their partners (select_related), for the rest of the
    operation: sorted into the loaders only if the operation looks one up by id (a page of a hundred shows
    them through the rows it was read with, and seldom asks for one again)."""
    loans = functools.cache(loans)  # made once, whichever loader looks first
    loaders.loan.prime_later(lambda: {loan.id: loan for loan in loans()})
    loaders.partner.prime_later(lambda: {loan.partner_id: loan.partner for loan in loans()})


async def existing(loader: DataLoader[int, T | None], key: int) -> T:
    """The row a foreign key of ours names: it exists, unlike one for an id a client sent (None then)."""
    return (await existing_many(loader, [key]))[0]


def then(loader: DataLoader[int, T | None], key: int, convert: Callable[[T], R]) -> R | Awaitable[R]:
    """`convert` of the row a foreign key of ours names: at once when the operation holds the row already
    (read with the page that shows it, or loaded before), else once it is loaded.

    A field that answers at once makes no coroutine: graphql-core completes it without the event loop,
    which for a page of 100 rows is most of what reading the page costs.
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        row = future.result()
        if row is not None:
            return convert(row)
    return _converted(loader, key, convert)


def related(
    instance: Model, name: str, loader: DataLoader[int, T | None], convert: Callable[[T], R]
) -> R | Awaitable[R]:
    """`convert` of the row the foreign key `name` of `instance` names: the instance read with it, if it was
    (a portfolio page reads each share's loan and the loan's partner in the share's own row), else as `then`
    finds it."""
    found = read_with(instance, name)
    if found is not None:
        return convert(found)  # type: ignore[arg-type]  # the model the foreign key names is the loader's
    return then(loader, getattr(instance, name + "_id"), convert)


async def _converted(loader: DataLoader[int, T | None], key: int, convert: Callable[[T], R]) -> R:
    return convert(await existing(loader, key))


async def existing_many(loader: DataLoader[int, T | None], keys: list[int]) -> list[T]:
    """The rows foreign keys of ours name, in one batch."""
    rows = await loader.load_many(keys)
    missing = [key for key, row in zip(keys, rows, strict=True) if row is None]
    if missing:
        raise LookupError(f"no rows {missing}, though foreign keys name them")
    return [row for row in rows if row is not None]


async def _first_lenders(keys: list[tuple[int, int]]) -> list[Page[Share]]:
    loans_by_size: dict[int, set[int]] = defaultdict(set)
    for loan_id, size in keys:
        loans_by_size[size].add(loan_id)
    pages = {}
    for size, loan_ids in loans_by_size.items():
        for loan_id, found in (await first_pages(Share, "loan_id", loan_ids, LOAN_LENDERS, size)).items():
            pages[loan_id, size] = found
    return [pages[key] for key in keys]


async def _loan_counts(lender_ids: list[int]) -> list[int]:
    counts = dict(
        await Share.filter(lender_id__in=lender_ids)
        .exclude(loan__status=LoanStatus.EXPIRED)
        .group_by("lender_id")
        .annotate(n=Count("id"))
        .values_list("lender_id", "n")
    )
    return [counts.get(i, 0) for i in lender_ids]
