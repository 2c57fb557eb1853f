"""Saved searches: a lender's named LoanFilter, and alerts when a new listing matches."""

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from lending import matchers
from lending.countries import country_name
from lending.errors import InvalidInput, NotFound
from lending.filters import LoanFilter
from lending.money import to_decimal
from lending.outbox import Draft, emit
from lending.text import clean_text
from models import EventKind, Loan, Notification, NotificationKind, SavedSearch
from models.bulk import with_rows

MAX_SEARCHES_PER_LENDER = 50


async def save_search(lender_id: int, name: str, loan_filter: LoanFilter, alert: bool, now: datetime) -> SavedSearch:
    """Save (or replace, by name) a lender's search; every process's match index hears of it (lending.matchers)."""
    name = clean_text(name, "name", 100)
    async with in_transaction():
        existing = await SavedSearch.get_or_none(lender_id=lender_id, name=name)
        if existing is None:
            if await SavedSearch.filter(lender_id=lender_id).count() >= MAX_SEARCHES_PER_LENDER:
                raise InvalidInput(f"A lender may keep at most {MAX_SEARCHES_PER_LENDER} saved searches.", "name")
            try:
                search = await SavedSearch.create(
                    lender_id=lender_id, name=name, criteria=loan_filter.to_json(), alert=alert, created_at=now
                )
            except IntegrityError:
                raise InvalidInput("A saved search with this name was just created.", "name") from None
        else:
            search = existing
            search.criteria, search.alert = loan_filter.to_json(), alert
            await search.save(update_fields=["criteria", "alert"])
        event = matchers.search_saved(search)
        [event_id] = await emit([event], now)
    matchers.committed(event, event_id)
    return search


async def delete_search(lender_id: int, search_id: int, now: datetime) -> None:
    """Delete one of the lender's saved searches (another lender's is NotFound)."""
    async with in_transaction():
        search = await SavedSearch.get_or_none(id=search_id, lender_id=lender_id)
        if search is None:
            raise NotFound("saved search", search_id)
        await search.delete()
        event = matchers.search_deleted(search_id)
        [event_id] = await emit([event], now)
    matchers.committed(event, event_id)


@dataclass(frozen=True)
class Match:
    """A saved search that matches a listing: what its alert needs."""

    id: int
    lender_id: int
    name: str


async def matching_searches(loan: Loan, risk_tenths: int) -> list[Match]:
    """Each lender's first (lowest id) alerting saved search that matches `loan`, in id order.

    The matches are the match index's answer: no filter is judged here. Only
    each lender's first is read (its lender and name), as it is in this
    transaction: one deleted or silenced since the index heard of it is not
    there, and the lender's next match stands in for it.
    """
    found = (await matchers.SEARCHES.index()).match(loan, risk_tenths)
    # Thousands of ids: one array parameter (one VALUES list on SQLite), never one bind parameter each.
    rows = await with_rows(
        "SELECT s.id, s.lender_id, s.name FROM saved_search s WHERE s.id IN ("
        "SELECT min(m.id) FROM saved_search m JOIN v ON v.id = m.id WHERE m.alert GROUP BY m.lender_id"
        ") ORDER BY s.id",
        {"id": "integer"},
        [(search_id,) for search_id in found],
    )
    first: dict[int, Match] = {}  # SQLite reads past 32,766 ids in parts: a lender may come once per part
    for row in sorted(rows, key=lambda row: row["id"]):
        first.setdefault(row["lender_id"], Match(row["id"], row["lender_id"], row["name"]))
    return list(first.values())


async def alert_saved_searches(loan: Loan, risk_tenths: int, now: datetime) -> list[Draft]:
    """Notify each lender whose alerting search matches a new listing; return their events.

    One notification per lender, however many of their searches match (it names the first).
    """
    first_match = {search.lender_id: search for search in await matching_searches(loan, risk_tenths)}  # one each
    if not first_match:
        return []
    await Notification.bulk_create(
        [
            Notification(
                lender_id=lender_id,
                kind=NotificationKind.SAVED_SEARCH_MATCH,
                message=(
                    f"New loan for your search \u201c{search.name}\u201d: {loan.name} in "
                    f"{country_name(loan.country_code)}, {loan.sector.value.replace('_', ' ').title()}, "
                    f"{to_decimal(loan.amount_cents)} USD: {loan.use}"
                ),
                loan_id=loan.id,
                created_at=now,
            )
            for lender_id, search in first_match.items()
        ]
    )
    created = await Notification.filter(loan_id=loan.id, kind=NotificationKind.SAVED_SEARCH_MATCH).values_list(
        "id", "lender_id"
    )
    return [
        Draft(EventKind.NOTIFICATION, loan_id=loan.id, lender_id=lender_id, payload={"notification_id": nid})
        for nid, lender_id in created
    ]
