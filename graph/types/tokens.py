"""API tokens as their owner sees them (never the secret itself, except once on creation)."""

from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from graph.context import Info
from graph.permissions import owned_nodes
from lending.tokens import SCOPES, TOKENS_MANAGE
from models import ApiToken


@strawberry.type(name="ApiToken")
class ApiTokenNode(relay.Node):
    id: relay.NodeID[int]
    name: str
    scopes: list[str] = strawberry.field(description=", ".join(SCOPES))
    created_at: datetime
    revoked_at: datetime | None

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
