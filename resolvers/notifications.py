"""Notifications: mark them read, one by one or all at once."""

from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import returns_user_errors
from lending import notifications
from lending.tokens import NOTIFICATIONS_WRITE


@strawberry.input(description="Either ids (1 to 100 of your notifications) or all: true.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Global ids of 1 to 100 of your notifications. If one is not yours, nothing is marked: NotFound.",
    )
    all: bool = strawberry.field(default=False, description="Mark every unread notification read.")


@strawberry.type(description="The notifications were marked read.")
class MarkNotificationsReadSuccess:
    marked: int = strawberry.field(description="How many of them were unread until now.")
    unread_count: int = strawberry.field(description="How many of your notifications are still unread.")


MarkNotificationsReadResult = Annotated[
    MarkNotificationsReadSuccess | e.InvalidInput | e.NotFound | e.Forbidden,
    strawberry.union(
        "MarkNotificationsReadResult", description="markNotificationsRead's answer; on failure nothing is marked."
    ),
]


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Mark notifications read (readAt); one already read keeps its readAt. Needs notifications:write.",
        extensions=requires(IsLender(NOTIFICATIONS_WRITE)),
    )
    @returns_user_errors
    async def mark_notifications_read(
        self,
        info: Info,
        input: Annotated[MarkNotificationsReadInput, strawberry.argument(description="Which notifications.")],
    ) -> MarkNotificationsReadResult:
        lender_id = info.context.require_lender()
        # Checked before decoding: a long list of ids is refused without decoding any of them.
        notifications.check_selection(None if input.ids is None else len(input.ids), input.all)
        ids = None if input.ids is None else [decode_id(i, "Notification") for i in input.ids]
        marked, unread = await notifications.mark_read(lender_id, info.context.now(), ids=ids, everything=input.all)
        return MarkNotificationsReadSuccess(marked=marked, unread_count=unread)
