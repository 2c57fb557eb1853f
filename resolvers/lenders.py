"""Lenders: the signed-in lender and public profiles."""

from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.loaders import existing
from graph.permissions import VIEWER_DEPENDENT
from graph.types.lenders import LenderNode
from lending.errors import NotFound


@strawberry.type
class LenderQuery:
    @strawberry.field(description="The signed-in lender; null without a lender token.", metadata=VIEWER_DEPENDENT)
    async def me(self, info: Info) -> LenderNode | None:
        viewer = info.context.viewer
        if viewer is None or viewer.lender_id is None:
            return None
        return LenderNode.from_model(await existing(info.context.loaders.lender, viewer.lender_id))

    @strawberry.field(
        description="A lender by id: the public profile to anyone, every field to that lender. Null when the id "
        "names no lender."
    )
    async def lender(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The lender's global id.")]
    ) -> LenderNode | None:
        try:
            found = await info.context.loaders.lender.load(decode_id(id, "Lender"))
        except NotFound:
            return None
        return LenderNode.from_model(found) if found else None
