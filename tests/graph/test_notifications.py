"""Notifications: listing the unread ones and marking them read, one by one or all at once."""

from datetime import UTC, datetime

from graph.ids import encode_id
from models import Notification
from tests.api import partner_token

NOTIFICATIONS = """query($unreadOnly: Boolean!) { me { notifications(first: 10, unreadOnly: $unreadOnly) {
  totalCount edges { node { id readAt loan { name } } } } } }"""


async def alerted(api, name: str, loans: list[str]) -> tuple[str, list[str]]:
    """A lender with a saved search that `loans` (listed in that order) all match; their notification ids."""
    _, token = await api.register(name)
    assert (await api.save_search(token, "Kenya", {"countries": ["KE"]}))["__typename"] == "SaveSearchSuccess"
    return token, await notification_ids(api, token, loans)


async def notification_ids(api, token: str, loans: list[str]) -> list[str]:
    kenya = await partner_token()
    for loan in loans:
        await api.loan_id(kenya, name=loan)
    page = (await api.data(NOTIFICATIONS, {"unreadOnly": False}, token))["me"]["notifications"]
    return [edge["node"]["id"] for edge in reversed(page["edges"])][-len(loans) :]


def success(marked: int, unread: int) -> dict:
    return {"__typename": "MarkNotificationsReadSuccess", "marked": marked, "unreadCount": unread}


async def read_state() -> dict[int, datetime | None]:
    return dict(await Notification.all().order_by("id").values_list("id", "read_at"))


async def test_marking_notifications_read_by_id_then_all(api, clock):
    ada, (_, baraka, _) = await alerted(api, "Ada", ["Amina", "Baraka", "Chiku"])
    first_read = clock.now

    assert await api.mark_read(ada, ids=[baraka]) == success(marked=1, unread=2)
    unread = (await api.data(NOTIFICATIONS, {"unreadOnly": True}, ada))["me"]["notifications"]
    assert unread["totalCount"] == 2
    assert [edge["node"]["loan"]["name"] for edge in unread["edges"]] == ["Chiku", "Amina"]  # newest first
    everything = (await api.data(NOTIFICATIONS, {"unreadOnly": False}, ada))["me"]["notifications"]
    assert {e["node"]["loan"]["name"]: e["node"]["readAt"] for e in everything["edges"]} == {
        "Chiku": None, "Baraka": "2026-03-02T12:00:00+00:00", "Amina": None
    }  # fmt: skip

    # Marking again changes nothing: Baraka's notification keeps the time it was first read.
    clock.advance(hours=1)
    assert await api.mark_read(ada, ids=[baraka, baraka]) == success(marked=0, unread=2)
    assert await api.mark_read(ada, all=True) == success(marked=2, unread=0)
    later = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert list((await read_state()).values()) == [later, first_read, later]
    assert (await api.data(NOTIFICATIONS, {"unreadOnly": True}, ada))["me"]["notifications"] == {
        "totalCount": 0, "edges": []
    }  # fmt: skip
    assert await api.mark_read(ada, all=True) == success(marked=0, unread=0)


async def test_marking_read_refuses_bad_input_and_marks_nothing(api):
    ada, (amina,) = await alerted(api, "Ada", ["Amina"])
    bob, (bobs,) = await alerted(api, "Bob", ["Baraka"])
    before = await read_state()
    assert len(before) == 3  # Ada's two (Bob's listing matched her search too) and Bob's one

    refused = [
        ({}, "INVALID_INPUT", "ids"),  # neither ids nor all
        ({"ids": [amina], "all": True}, "INVALID_INPUT", "ids"),
        ({"ids": []}, "INVALID_INPUT", "ids"),
        ({"ids": [amina] * 101}, "INVALID_INPUT", "ids"),
        ({"ids": ["garbage"] * 101}, "INVALID_INPUT", "ids"),  # counted before any is decoded
        ({"ids": ["garbage"], "all": True}, "INVALID_INPUT", "ids"),
        ({"ids": [amina, bobs]}, "NOT_FOUND", None),  # Bob's notification, beside one of Ada's own
        ({"ids": [encode_id("SavedSearch", 1)]}, "NOT_FOUND", None),
        ({"ids": [encode_id("Notification", 2**40)]}, "NOT_FOUND", None),
        ({"ids": ["garbage"]}, "NOT_FOUND", None),
    ]
    for input, code, field in refused:
        answer = await api.mark_read(ada, **input)
        assert answer["code"] == code, (input, answer)
        assert answer.get("field") == field, (input, answer)
    assert "with id" in (await api.mark_read(ada, ids=[amina, bobs]))["message"]
    assert await read_state() == before

    # A lender may not mark another's notification, nor may a caller who is not a lender; Bob's all is his own.
    assert (await api.mark_read(bob, ids=[amina]))["code"] == "NOT_FOUND"
    assert await api.mark_read(bob, all=True) == success(marked=1, unread=0)
    assert {i: read_at for i, read_at in (await read_state()).items() if read_at is not None} == {
        (await Notification.get(lender__display_name="Bob")).id: datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    }
    before = await read_state()
    assert (await api.mark_read(await partner_token("Another"), all=True))["code"] == "FORBIDDEN"
    assert (await api.mark_read(None, all=True))["code"] == "FORBIDDEN"
    assert await read_state() == before
