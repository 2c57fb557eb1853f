"""Bearer tokens from HTTP headers and WebSocket connection_init payloads."""

from datetime import datetime

from lending.accounts import mark_seen
from lending.tokens import SignIn, Viewer, sign_in


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def signed_in(authorization: str | None, now: datetime) -> SignIn | None:
    """What an Authorization value names (None when absent or invalid); marks a lender as seen."""
    token = bearer_token(authorization)
    found = await sign_in(token) if token else None
    if found is not None and found.viewer.lender_id is not None:
        await mark_seen(found.viewer.lender_id, found.viewer.last_seen_at, now)
    return found


async def viewer_for(authorization: str | None, now: datetime) -> Viewer | None:
    """The viewer an Authorization value names (None when absent or invalid); marks a lender as seen."""
    found = await signed_in(authorization, now)
    return found.viewer if found is not None else None
