"""API tokens: random bearer strings, stored only as their SHA-256."""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from models import ApiToken, Role

TOKEN_PREFIX = "lg_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is calling: the holder of a valid token."""

    token_id: int
    role: Role
    lender_id: int | None = None
    partner_id: int | None = None
    last_seen_at: datetime | None = field(default=None, compare=False)

    @property
    def actor(self) -> str:
        """A stable name for idempotency keys and logs."""
        if self.lender_id is not None:
            return f"lender:{self.lender_id}"
        if self.partner_id is not None:
            return f"partner:{self.partner_id}"
        return f"token:{self.token_id}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


async def issue_token(
    role: Role, *, lender_id: int | None = None, partner_id: int | None = None, name: str = ""
) -> str:
    """Create a token and return it; this is the only time it can be read."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        token_hash=hash_token(token), role=role, lender_id=lender_id, partner_id=partner_id, name=name
    )
    return token


async def authenticate(token: str) -> Viewer | None:
    """The viewer a bearer token stands for, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = await ApiToken.filter(token_hash=hash_token(token), revoked_at=None).values(
        "id", "role", "lender_id", "partner_id", "lender__last_seen_at"
    )
    if not found:
        return None
    record = found[0]
    return Viewer(
        token_id=record["id"],
        role=Role(record["role"]),
        lender_id=record["lender_id"],
        partner_id=record["partner_id"],
        last_seen_at=record["lender__last_seen_at"],
    )
