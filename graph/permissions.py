"""Who may read what."""

from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension

from graph.context import Context
from lending.errors import Forbidden


class IsAuthenticated(BasePermission):
    message = "Sign in: send Authorization: Bearer <token>."

    def has_permission(self, source: Any, info: strawberry.Info[Context, None], **kwargs: Any) -> bool:
        return info.context.viewer is not None


class CanReadPortfolio(BasePermission):
    """Money fields of a lender: readable by that lender only."""

    message = "Only the lender may read this."

    def has_permission(self, source: Any, info: strawberry.Info[Context, None], **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == source.id


def own_only() -> list[PermissionExtension]:
    """Field extensions: null, not an error, for anyone but the owner (public profiles stay usable)."""
    return [PermissionExtension(permissions=[CanReadPortfolio()], fail_silently=True)]


def lender_id_of(info: strawberry.Info[Context, None]) -> int:
    """The signed-in lender's id; Forbidden for anyone else."""
    viewer = info.context.viewer
    if viewer is None:
        raise Forbidden("Sign in with a lender token: Authorization: Bearer <token>.")
    if viewer.lender_id is None:
        raise Forbidden("Only a lender may do this.")
    return viewer.lender_id
