"""Each process's match indexes (lending.matching) of saved searches and auto-lend rules, kept current.

Two indexes: the saved searches that alert (SEARCHES), and the enabled
auto-lend rules (RULES), each by its id. Every process holds its own and
all of them agree, through the outbox:

- A change is an event, written in the transaction of the change:
  SEARCH_SAVED (the search, and whether it alerts), SEARCH_DELETED, RULE_SET
  (a rule created or replaced, enabled or not). It names no loan and no
  lender: no subscriber's stream carries it.
- The process that writes applies its own change once it has committed
  (`committed`): a search saved and then a loan listed by the same process
  alerts at once. Every process's hub hands every event to `heard`, the
  writer's included: the event id is the change's version, so a change
  heard twice, or after a later one of the same filter, changes nothing.
- Building: an index is read whole from the database at the first use on
  a connection (the app builds both at start-up, once its hub knows where
  it starts reading: every event up to there has committed or never will,
  so the read sees its change). Changes heard while the rows are read are
  applied after them, in the order heard. One heard then is older than the
  row read when the row changed again meanwhile; its filter is stale until
  the hub delivers that later change, a moment later.

A process without a hub (the command line, a bench) sees the changes made
by others as they were when its index was built.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from tortoise import Tortoise

from lending.filters import LoanFilter
from lending.matching import FilterIndex
from lending.outbox import Draft
from models import AutoLendRule, Event, EventKind, SavedSearch, db

Rows = list[tuple[int, str]]  # (id, criteria as the JSON text LoanFilter.to_json stored)


class Change(NamedTuple):
    filter_id: int
    criteria: LoanFilter | None  # None: no longer in the index
    version: int | None  # the event's id


class Live:
    """One process's index of one kind of filter, built on first use and kept current by `heard`/`committed`."""

    def __init__(self, load: Callable[[], Awaitable[Rows]]) -> None:
        self._load = load
        self._index: FilterIndex | None = None
        self._opened = -1  # db.connections_opened when built: a reconnect may reach another database
        self._building: list[list[Change]] = []  # the changes heard by each build under way

    async def index(self) -> FilterIndex:
        """The index, built first if this process has none for its current connection."""
        if self._index is None or self._opened != db.connections_opened:
            return await self.build()
        return self._index

    async def build(self) -> FilterIndex:
        """Read every filter from the database into a new index; then apply what was heard meanwhile."""
        opened = db.connections_opened
        heard: list[Change] = []
        self._building.append(heard)
        try:
            parsed: dict[str, LoanFilter] = {}  # many filters share their criteria: each distinct one parsed once
            rows = await self._load()
            for _, text in rows:
                if text not in parsed:
                    parsed[text] = LoanFilter.from_json(json.loads(text))
            index = FilterIndex.of((filter_id, parsed[text]) for filter_id, text in rows)
        finally:
            self._building.remove(heard)
        for change in heard:
            index.put(*change)
        if opened == db.connections_opened:
            self._index, self._opened = index, opened
        return index

    def apply(self, change: Change) -> None:
        for heard in self._building:
            heard.append(change)
        if self._index is not None and self._opened == db.connections_opened:
            self._index.put(*change)


async def _criteria(model: type[SavedSearch | AutoLendRule], flag: str) -> Rows:
    """(id, criteria as JSON text) of the rows whose `flag` is set: text, so alike criteria are parsed once."""
    connection = Tortoise.get_connection("default")
    # jsonb prints its keys in one order; SQLite keeps the text LoanFilter.to_json wrote.
    text = "criteria::text" if connection.capabilities.dialect == "postgres" else "criteria"
    table = model._meta.db_table
    rows = await connection.execute_query_dict(f'SELECT id, {text} AS criteria FROM "{table}" WHERE {flag}')
    return [(row["id"], row["criteria"]) for row in rows]


SEARCHES = Live(lambda: _criteria(SavedSearch, "alert"))
RULES = Live(lambda: _criteria(AutoLendRule, "enabled"))


def search_saved(search: SavedSearch) -> Draft:
    """The event of a saved search written (created or replaced)."""
    payload = {"search_id": search.id, "criteria": search.criteria, "alert": search.alert}
    return Draft(EventKind.SEARCH_SAVED, payload=payload)


def search_deleted(search_id: int) -> Draft:
    return Draft(EventKind.SEARCH_DELETED, payload={"search_id": search_id})


def rule_set(rule: AutoLendRule) -> Draft:
    """The event of an auto-lend rule written (created or replaced; a disabled one leaves the index)."""
    payload = {"rule_id": rule.id, "criteria": rule.criteria, "enabled": rule.enabled}
    return Draft(EventKind.RULE_SET, payload=payload)


def change_of(kind: EventKind, payload: dict[str, Any], version: int) -> tuple[Live, Change] | None:
    """The index change an event reports, if it reports one."""
    if kind is EventKind.SEARCH_SAVED:
        criteria = LoanFilter.from_json(payload["criteria"]) if payload["alert"] else None
        return SEARCHES, Change(payload["search_id"], criteria, version)
    if kind is EventKind.SEARCH_DELETED:
        return SEARCHES, Change(payload["search_id"], None, version)
    if kind is EventKind.RULE_SET:
        criteria = LoanFilter.from_json(payload["criteria"]) if payload["enabled"] else None
        return RULES, Change(payload["rule_id"], criteria, version)
    return None


def committed(draft: Draft, event_id: int) -> None:
    """Apply, in this process, the change of an event this process has just committed."""
    if found := change_of(draft.kind, draft.payload, event_id):
        live, change = found
        live.apply(change)


def heard(event: Event) -> None:
    """Apply the change an event read from the outbox reports (the hub calls this for every event)."""
    if found := change_of(event.kind, event.payload, event.id):
        live, change = found
        live.apply(change)


async def build() -> None:
    """Build both indexes now (at start-up, once the hub knows where it starts reading)."""
    await SEARCHES.build()
    await RULES.build()
