"""A lender's notifications: marking them read."""

from datetime import datetime

from tortoise.transactions import in_transaction

from lending.errors import InvalidInput, NotFound
from models import Notification

MAX_IDS = 100


async def mark_read(lender_id: int, now: datetime, *, ids: list[int] | None = None, everything: bool = False) -> int:
    """Mark the lender's notifications `ids` (or, with `everything`, all of them) read at `now`.

    Returns how many were unread. One already read keeps the time it was first read. If any
    id is not one of the lender's notifications, nothing is marked: NotFound names that id.
    """
    if (ids is None) == (not everything):
        raise InvalidInput("Give ids or all: true, one of the two.", "ids")
    if ids is not None and not 0 < len(ids) <= MAX_IDS:
        raise InvalidInput(f"ids must hold 1 to {MAX_IDS} notifications.", "ids")
    unread = Notification.filter(lender_id=lender_id, read_at=None)
    async with in_transaction():
        if ids is not None:
            wanted = set(ids)
            found = set(await Notification.filter(lender_id=lender_id, id__in=wanted).values_list("id", flat=True))
            if missing := [i for i in ids if i not in found]:
                raise NotFound("notification", missing[0])
            unread = unread.filter(id__in=wanted)
        return await unread.update(read_at=now)


async def unread_count(lender_id: int) -> int:
    """How many of the lender's notifications are unread."""
    return await Notification.filter(lender_id=lender_id, read_at=None).count()
