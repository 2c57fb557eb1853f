"""Who may read what."""

from collections.abc import Iterable
from typing import Any

from strawberry.permission import BasePermission, PermissionExtension

from graph.context import Info
from lending.errors import Forbidden
from lending.tokens import PORTFOLIO_READ, TOKENS_MANAGE


class IsAuthenticated(BasePermission):
    message = "Sign in: send Authorization: Bearer <token>."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class CanReadPortfolio(BasePermission):
    """Money fields of a lender: readable by that lender only, with a token that may read them."""

    message = "Only the lender may read this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == source.id and viewer.may(PORTFOLIO_READ)


def own_only() -> list[PermissionExtension]:
    """Field extensions: null, not an error, for anyone but the owner (public profiles stay usable)."""
    return [PermissionExtension(permissions=[CanReadPortfolio()], fail_silently=True)]


def lender_id_of(info: Info, scope: str | None = None) -> int:
    """The signed-in lender's id, if their token carries `scope`; Forbidden for anyone else."""
    viewer = info.context.viewer
    if viewer is None:
        raise Forbidden("Sign in with a lender token: Authorization: Bearer <token>.")
    if viewer.lender_id is None:
        raise Forbidden("Only a lender may do this.")
    if scope is not None:
        viewer.require(scope)
    return viewer.lender_id


def reader_id(info: Info, scope: str = PORTFOLIO_READ) -> int | None:
    """The lender whose private objects this viewer may read (with `scope`), else None."""
    viewer = info.context.viewer
    return viewer.lender_id if viewer is not None and viewer.may(scope) else None


async def owned_nodes(model: Any, info: Info, node_ids: Iterable[str], scope: str = PORTFOLIO_READ) -> list[Any]:
    """Rows of `model` for `node_ids`, None where the viewer may not read it as their own (with `scope`).

    Another lender's object does not exist as far as this viewer can tell.
    """
    ids = [int(i) for i in node_ids]
    reader = reader_id(info, scope)
    mine = {row.id: row for row in await model.filter(id__in=ids, lender_id=reader)} if reader else {}
    return [mine.get(i) for i in ids]


class CanManageTokens(BasePermission):
    """A lender's tokens: listed to that lender only, with a token that may manage them."""

    message = "Only the lender, with the tokens:manage scope, may read this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == source.id and viewer.may(TOKENS_MANAGE)
