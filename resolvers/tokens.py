"""Scoped API tokens for third parties."""

from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import returns_user_errors
from graph.types.tokens import ApiTokenNode
from lending import tokens
from lending.tokens import SCOPES


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[str] = strawberry.field(description=f"Some of: {', '.join(SCOPES)}.")


@strawberry.type
class CreateApiTokenSuccess:
    api_token: ApiTokenNode
    token: str = strawberry.field(description="Shown once: keep it, it cannot be read again.")


CreateApiTokenResult = Annotated[
    CreateApiTokenSuccess | e.InvalidInput | e.Forbidden, strawberry.union("CreateApiTokenResult")
]


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiTokenSuccess:
    api_token: ApiTokenNode


RevokeApiTokenResult = Annotated[
    RevokeApiTokenSuccess | e.NotFound | e.Forbidden, strawberry.union("RevokeApiTokenResult")
]


@strawberry.type
class TokenMutation:
    @strawberry.mutation(
        description="Make a token with limited scopes, e.g. a read-only one for a third party.",
        extensions=requires(IsLender()),
    )
    @returns_user_errors
    async def create_api_token(self, info: Info, input: CreateApiTokenInput) -> CreateApiTokenResult:
        viewer = info.context.require_lender_viewer()
        record, secret = await tokens.create_api_token(viewer, input.name, input.scopes)
        return CreateApiTokenSuccess(api_token=ApiTokenNode.from_model(record), token=secret)

    @strawberry.mutation(
        description="Revoke a token at once, for requests and for open WebSockets.",
        extensions=requires(IsLender()),
    )
    @returns_user_errors
    async def revoke_api_token(self, info: Info, input: RevokeApiTokenInput) -> RevokeApiTokenResult:
        viewer = info.context.require_lender_viewer()
        record = await tokens.revoke_api_token(viewer, decode_id(input.id, "ApiToken"), info.context.now())
        return RevokeApiTokenSuccess(api_token=ApiTokenNode.from_model(record))
