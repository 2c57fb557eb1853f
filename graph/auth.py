"""Bearer tokens from HTTP headers and WebSocket connection_init payloads."""

from datetime import datetime

from lending.accounts import mark_seen
from lending.tokens import Viewer, authenticate


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def viewer_for(authorization: str | None, now: datetime) -> Viewer | None:
    """The viewer an Authorization value names (None when absent or invalid); marks a lender as seen."""
    token = bearer_token(authorization)
    viewer = await authenticate(token) if token else None
    if viewer is not None and viewer.lender_id is not None:
        await mark_seen(viewer.lender_id, viewer.last_seen_at, now)
    return viewer
