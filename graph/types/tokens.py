"""API tokens as their owner sees them (never the secret itself, except once on creation)."""

from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from graph.context import Info
from graph.permissions import owned_nodes
from lending.tokens import SCOPES, TOKENS_MANAGE
from models import ApiToken

# What each scope allows (lending.tokens, graph.permissions), for the token types' descriptions.
SCOPE_MEANINGS = (
    "lend: deposit, withdraw and lend. portfolio:read: read the lender's own balance, email, portfolio, "
    "transactions, notifications, auto-lend rule, saved searches, autoLendPreview, autoLendBacktest and "
    "myEvents. autolend:write: setAutoLendRule. searches:write: saveSearch and deleteSavedSearch. tokens:manage: "
    "list, create and revoke tokens. notifications:write: markNotificationsRead."
)


@strawberry.type(
    name="ApiToken",
    description="A bearer token of a lender's, as its owner sees it: never the secret. Only the lender reads "
    "it, with a token that has tokens:manage; node(id) answers null to anyone else.",
)
class ApiTokenNode(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(
        description='The label its lender gave it, 1 to 100 characters; "registration" for the first token.'
    )
    scopes: list[str] = strawberry.field(
        description=f"What the token may do, some of: {', '.join(SCOPES)}. {SCOPE_MEANINGS}"
    )
    created_at: datetime = strawberry.field(description="When the token was made.")
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; null while it works. Tokens do not expire."
    )

    @classmethod
    def from_model(cls, token: ApiToken) -> "ApiTokenNode":
        return cls(
            id=token.id,
            name=token.name,
            scopes=list(token.scopes),
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [cls.from_model(t) if t else None for t in await owned_nodes(ApiToken, info, node_ids, TOKENS_MANAGE)]
