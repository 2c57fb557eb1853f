"""API tokens: random bearer strings, stored only as their SHA-256."""

import functools
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from lending.errors import Forbidden, InvalidInput, NotFound
from lending.outbox import Draft, emit
from lending.text import clean_text
from models import ApiToken, EventKind, Lender, Role
from models.bulk import columns_as, select_values
from models.tortoise_internals import instance_from_row

TOKEN_PREFIX = "lg_"

# What a lender's token may do. The token from registerLender has them all.
LEND = "lend"  # move money: deposit, withdraw, lend
PORTFOLIO_READ = "portfolio:read"  # read own balance, portfolio, transactions, notifications, events
AUTOLEND_WRITE = "autolend:write"  # set the auto-lend rule
SEARCHES_WRITE = "searches:write"  # save and delete saved searches
TOKENS_MANAGE = "tokens:manage"  # create and revoke tokens
NOTIFICATIONS_WRITE = "notifications:write"  # mark notifications read
# Migration 0007 gave notifications:write to every token that held all the scopes before it.
SCOPES = (LEND, PORTFOLIO_READ, AUTOLEND_WRITE, SEARCHES_WRITE, TOKENS_MANAGE, NOTIFICATIONS_WRITE)
MAX_TOKENS_PER_LENDER = 50


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is calling: the holder of a valid token."""

    token_id: int
    role: Role
    lender_id: int | None = None
    partner_id: int | None = None
    scopes: frozenset[str] = frozenset(SCOPES)
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

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        """Forbidden unless this token carries `scope`."""
        if scope not in self.scopes:
            raise Forbidden(f"This token lacks the {scope} scope.")


async def issue_token(
    role: Role,
    *,
    lender_id: int | None = None,
    partner_id: int | None = None,
    name: str = "",
    scopes: tuple[str, ...] = SCOPES,
) -> str:
    """Create a token and return it; this is the only time it can be read."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        token_hash=hash_token(token),
        role=role,
        lender_id=lender_id,
        partner_id=partner_id,
        name=name,
        scopes=list(scopes),
    )
    return token


async def create_api_token(viewer: Viewer, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """A lender makes a token for a third party, with some of the scopes of the token asking.

    A token may grant only scopes it holds itself: one that may only manage
    tokens cannot make a token that moves money. Nothing is created when a
    scope is unknown or not held (InvalidInput, Forbidden).
    """
    viewer.require(TOKENS_MANAGE)
    if viewer.lender_id is None:
        raise Forbidden("Only a lender may make tokens.")
    name = clean_text(name, "name", 100)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(
            f"scopes must be some of {', '.join(SCOPES)}; unknown: {', '.join(unknown) or 'none given'}.", "scopes"
        )
    beyond = [scope for scope in SCOPES if scope in scopes and not viewer.may(scope)]
    if beyond:
        raise Forbidden(f"A token may grant only scopes it holds; this one lacks {', '.join(beyond)}.")
    if await ApiToken.filter(lender_id=viewer.lender_id, revoked_at=None).count() >= MAX_TOKENS_PER_LENDER:
        raise InvalidInput(f"A lender may hold at most {MAX_TOKENS_PER_LENDER} live tokens.", "name")
    ordered = tuple(scope for scope in SCOPES if scope in scopes)
    token = await issue_token(Role.LENDER, lender_id=viewer.lender_id, name=name, scopes=ordered)
    return await ApiToken.get(token_hash=hash_token(token)), token


async def revoke_api_token(viewer: Viewer, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the lender's tokens at once, for HTTP and for open WebSockets."""
    viewer.require(TOKENS_MANAGE)
    async with in_transaction():
        record = await ApiToken.get_or_none(id=token_id, lender_id=viewer.lender_id)
        if record is None:
            raise NotFound("token", token_id)
        if record.revoked_at is None:
            record.revoked_at = now
            await record.save(update_fields=["revoked_at"])
            # Every process's hub learns of it and closes sockets signed in with it.
            await emit([Draft(EventKind.TOKEN_REVOKED, payload={"token_id": token_id})], now)
    return record


async def is_live(token_id: int) -> bool:
    """Whether the token may still be used: not revoked (tokens do not expire).

    One read by primary key: a WebSocket asks before each operation, since a
    socket outlives the revocation of the token it signed in with.
    """
    return bool(await select_values('SELECT 1 FROM "api_token" WHERE "id" = $1 AND "revoked_at" IS NULL', [token_id]))


@dataclass(frozen=True)
class SignIn:
    """A valid token's viewer and, for a lender's token, the lender's row and credit as the lookup read them.

    A query may answer from them (graph.context.Context.answer_from_sign_in): `{ me { displayName
    balance } }` then costs the lookup alone. Anything that writes reads again.
    """

    viewer: Viewer
    lender: Lender | None = None
    balance_cents: int | None = None


_LENDER = "lender__"  # the prefix of the lender's columns in the lookup's row


@functools.cache
def _lookup() -> str:
    """The token lookup: one fixed statement, sent as it is on every authenticated request (building it
    with the ORM each time cost a fraction of the request); the lender's columns derived."""
    return (
        f'SELECT t."id", t."role", t."lender_id", t."partner_id", t."scopes", {columns_as(Lender, "l", _LENDER)},'
        ' a."balance_cents"'
        ' FROM "api_token" t LEFT OUTER JOIN "lender" l ON l."id" = t."lender_id"'
        ' LEFT OUTER JOIN "account" a ON a."lender_id" = t."lender_id"'
        ' WHERE t."token_hash" = $1 AND t."revoked_at" IS NULL'
    )


async def authenticate(token: str) -> Viewer | None:
    """The viewer a bearer token stands for, or None for an unknown or revoked token."""
    found = await sign_in(token)
    return found.viewer if found is not None else None


async def sign_in(token: str) -> SignIn | None:
    """What a bearer token stands for (its viewer, and a lender's row and credit), or None for an unknown
    or revoked token. One statement."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = await select_values(_lookup(), [hash_token(token)])
    if not found:
        return None
    record = found[0]
    role = Role(record["role"])
    # The fields convert as the ORM would: scopes from JSON text, times aware on both databases.
    scopes = ApiToken._meta.fields_map["scopes"].to_python_value(record["scopes"])
    lender = None
    if record[f"{_LENDER}id"] is not None:
        lender = instance_from_row(Lender, record, prefix=_LENDER)
    viewer = Viewer(
        token_id=record["id"],
        role=role,
        lender_id=record["lender_id"],
        partner_id=record["partner_id"],
        # Partner and admin tokens act by role; a lender token from before scopes existed has them all.
        scopes=frozenset(scopes or SCOPES) if role is Role.LENDER else frozenset(SCOPES),
        last_seen_at=lender.last_seen_at if lender is not None else None,
    )
    return SignIn(viewer, lender, record["balance_cents"])
