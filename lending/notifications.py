"""A lender's notifications: marking them read."""

from datetime import datetime

from tortoise.transactions import in_transaction

from lending.errors import InvalidInput, NotFound
from lending.outbox import Draft, emit
from models import EventKind, Notification

MAX_IDS = 100


def check_selection(count: int | None, everything: bool) -> None:
    """InvalidInput unless the caller names 1 to MAX_IDS notifications (`count` ids) or all of them."""
    if (count is None) == (not everything):
        raise InvalidInput("Give ids or all: true, one of the two.", "ids")
    if count is not None and not 0 < count <= MAX_IDS:
        raise InvalidInput(f"ids must hold 1 to {MAX_IDS} notifications.", "ids")


async def mark_read(
    lender_id: int, now: datetime, *, ids: list[int] | None = None, everything: bool = False
) -> tuple[int, int]:
    """Mark the lender's notifications `ids` (or, with `everything`, all of them) read at `now`.

    Returns how many were unread, and how many of the lender's are unread now. One already
    read keeps the time it was first read. If any id is not one of the lender's notifications,
    nothing is marked: NotFound names that id. A change is an event on the lender's stream,
    so their other open clients update their unread count.
    """
    check_selection(None if ids is None else len(ids), everything)
    unread = Notification.filter(lender_id=lender_id, read_at=None)
    async with in_transaction():
        if ids is not None:
            wanted = set(ids)
            rows = await Notification.filter(lender_id=lender_id, id__in=wanted).values_list("id")
            found: set[int] = {notification_id for (notification_id,) in rows}
            if missing := [i for i in ids if i not in found]:
                raise NotFound("notification", missing[0])
            unread = unread.filter(id__in=wanted)
        marked = await unread.update(read_at=now)
        left = await Notification.filter(lender_id=lender_id, read_at=None).count()
        if marked:
            payload = {"ids": sorted(set(ids)) if ids is not None else None, "marked": marked, "unread": left}
            await emit([Draft(EventKind.NOTIFICATIONS_READ, lender_id=lender_id, payload=payload)], now)
    return marked, left
