"""Saved searches: a lender's named LoanFilter, and alerts when a new listing matches."""

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from lending.countries import country_name
from lending.errors import InvalidInput, NotFound
from lending.filters import LoanFilter
from lending.matching import candidates, file_under
from lending.money import to_decimal
from lending.outbox import Draft
from lending.text import clean_text
from models import EventKind, Loan, Notification, NotificationKind, SavedSearch, SearchAnchor

MAX_SEARCHES_PER_LENDER = 50


async def save_search(lender_id: int, name: str, loan_filter: LoanFilter, alert: bool, now: datetime) -> SavedSearch:
    """Save (or replace, by name) a lender's search, filed in the match index."""
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
        await file_under(SearchAnchor, "search_id", search.id, loan_filter)
    return search


async def delete_search(lender_id: int, search_id: int) -> None:
    """Delete one of the lender's saved searches (another lender's is NotFound)."""
    async with in_transaction():
        search = await SavedSearch.get_or_none(id=search_id, lender_id=lender_id)
        if search is None:
            raise NotFound("saved search", search_id)
        await SearchAnchor.filter(search_id=search_id).delete()
        await search.delete()


@dataclass(frozen=True)
class Match:
    """A saved search that matches a listing: what its alert needs."""

    id: int
    lender_id: int
    name: str


async def matching_searches(loan: Loan, risk_tenths: int) -> list[Match]:
    """Alerting saved searches that match `loan`, found through the index, not by a scan."""
    # Tens of thousands of candidates: plain rows, not models, which cost several times more to build.
    rows = (
        await SavedSearch.filter(id__in=candidates(SearchAnchor, "search_id", loan), alert=True)
        .order_by("id")
        .values_list("id", "lender_id", "name", "criteria")
    )
    return [
        Match(id_, lender_id, name)
        for id_, lender_id, name, criteria in rows
        if LoanFilter.from_json(criteria).matches(loan, risk_tenths)
    ]


async def alert_saved_searches(loan: Loan, risk_tenths: int, now: datetime) -> list[Draft]:
    """Notify each lender whose alerting search matches a new listing; return their events.

    One notification per lender, however many of their searches match.
    """
    first_match: dict[int, Match] = {}
    for search in await matching_searches(loan, risk_tenths):
        first_match.setdefault(search.lender_id, search)
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
