"""Scoped API tokens for third parties."""

from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import returns_user_errors
from graph.types.tokens import SCOPE_MEANINGS, ApiTokenNode
from lending import tokens
from lending.tokens import MAX_TOKENS_PER_LENDER, SCOPES


@strawberry.input(description="The token to make.")
class CreateApiTokenInput:
    name: str = strawberry.field(
        description=f"A label, 1 to 100 characters. A lender holds at most {MAX_TOKENS_PER_LENDER} live tokens."
    )
    scopes: list[str] = strawberry.field(
        description=f"Some of: {', '.join(SCOPES)}; at least one, and only scopes the token making it holds. "
        f"{SCOPE_MEANINGS}"
    )


@strawberry.type(description="The token was made.")
class CreateApiTokenSuccess:
    api_token: ApiTokenNode = strawberry.field(description="The new token, as its owner sees it.")
    token: str = strawberry.field(description="The bearer token itself. Shown once: keep it, it cannot be read again.")


CreateApiTokenResult = Annotated[
    CreateApiTokenSuccess | e.InvalidInput | e.Forbidden,
    strawberry.union("CreateApiTokenResult", description="createApiToken's answer; on failure nothing is made."),
]


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput:
    id: strawberry.ID = strawberry.field(description="The global id of one of your tokens (ApiToken.id).")


@strawberry.type(description="The token is revoked.")
class RevokeApiTokenSuccess:
    api_token: ApiTokenNode = strawberry.field(
        description="The token, with revokedAt (the first revocation's time, when it was revoked already)."
    )


RevokeApiTokenResult = Annotated[
    RevokeApiTokenSuccess | e.NotFound | e.Forbidden,
    strawberry.union("RevokeApiTokenResult", description="revokeApiToken's answer; on failure nothing changed."),
]


@strawberry.type
class TokenMutation:
    @strawberry.mutation(
        description="Make a token with limited scopes, e.g. a read-only one for a third party. Needs a lender "
        "token with the tokens:manage scope.",
        extensions=requires(IsLender()),
    )
    @returns_user_errors
    async def create_api_token(
        self, info: Info, input: Annotated[CreateApiTokenInput, strawberry.argument(description="The token to make.")]
    ) -> CreateApiTokenResult:
        viewer = info.context.require_lender_viewer()
        record, secret = await tokens.create_api_token(viewer, input.name, input.scopes)
        return CreateApiTokenSuccess(api_token=ApiTokenNode.from_model(record), token=secret)

    @strawberry.mutation(
        description="Revoke a token at once, for requests and for open WebSockets (closed with 4403). Needs a "
        "lender token with the tokens:manage scope.",
        extensions=requires(IsLender()),
    )
    @returns_user_errors
    async def revoke_api_token(
        self, info: Info, input: Annotated[RevokeApiTokenInput, strawberry.argument(description="The token.")]
    ) -> RevokeApiTokenResult:
        viewer = info.context.require_lender_viewer()
        record = await tokens.revoke_api_token(viewer, decode_id(input.id, "ApiToken"), info.context.now())
        return RevokeApiTokenSuccess(api_token=ApiTokenNode.from_model(record))
