"""Who may see what and who may do what: one rule per area, declared on the fields it guards.

- A lender's private fields (Lender.email, balance, portfolio, transactions, notifications,
  autoLendRule, savedSearches): CanReadPortfolio; their tokens (Lender.apiTokens): CanManageTokens;
  the lender an auto-lend allocation names (Allocation.lender): IsAllocationOwner. To anyone else
  these fields are null or an empty list, not an error, so public profiles stay usable (`private`).
- A lender's private objects by global id (node(id) of a Share, Transaction, Notification,
  SavedSearch or ApiToken): `owned_nodes`, in each type's resolve_nodes. Another lender's object
  does not exist as far as the viewer can tell.
- What lenders do or read of their own (deposit, withdraw, lend, setAutoLendRule, autoLendPreview,
  autoLendBacktest, saveSearch, deleteSavedSearch, markNotificationsRead, myEvents): IsLender(scope),
  checked before the resolver runs (`requires`). The refusal is the typed Forbidden of the field's
  result union (ForbiddenAsResult, registered on the schema), or an error with the code FORBIDDEN
  where there is no union (myEvents). createApiToken and revokeApiToken: IsLender(); the
  tokens:manage scope, and which scopes a token may grant, are lending.tokens' rules.
- What partners do (listLoan, postRepayment, markDefault): the domain decides
  (lending.loans.acting_partner), after it has found the loan: which partner a caller acts for and
  whose loan it is are rules of lending. Its Forbidden is the typed member of the union too.
- Fields whose value depends on who asks though no permission guards them (me, node) carry
  `metadata=VIEWER_DEPENDENT`.

`viewer_fields` reads every field guarded here, and every marked one, off the schema: a shared
subscription result (graph/execution.py) that selects one is never reused for another viewer.
"""

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterable
from types import MappingProxyType
from typing import Any

import strawberry
from graphql import GraphQLInterfaceType, GraphQLObjectType
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from graph.context import Info
from graph.strawberry_internals import graphql_core_schema
from graph.types import errors as e
from lending import errors
from lending.tokens import PORTFOLIO_READ, TOKENS_MANAGE

# Field metadata: the field shows each viewer something else, though no permission guards it.
VIEWER_DEPENDENT = MappingProxyType({"viewer_dependent": True})


class CanReadPortfolio(BasePermission):
    """Money fields of a lender: readable by that lender only, with a token that may read them."""

    message = "Only the lender may read this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        reader = info.context.reader(PORTFOLIO_READ)
        return reader is not None and reader == source.id


class CanManageTokens(BasePermission):
    """A lender's tokens: listed to that lender only, with a token that may manage them."""

    message = "Only the lender, with the tokens:manage scope, may read this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        reader = info.context.reader(TOKENS_MANAGE)
        return reader is not None and reader == source.id


class IsAllocationOwner(BasePermission):
    """The lender an auto-lend allocation names: shown to that lender only (with any scope)."""

    message = "Only the lender may see this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == source.lender_id


class IsLender(BasePermission):
    """The signed-in lender, with a token that carries `scope` (Context.require_lender)."""

    def __init__(self, scope: str | None = None) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        # Raises rather than returns False: Forbidden says which of sign-in, role or scope is missing.
        info.context.require_lender(self.scope)
        return True


# schema.graphql has always marked the fields these guard with a directive named after them.
_MARKED_IN_SCHEMA = (CanReadPortfolio, CanManageTokens)


def private(permission: BasePermission) -> list[FieldExtension]:
    """Field extensions: null (or an empty list), not an error, for anyone `permission` refuses."""
    marked = isinstance(permission, _MARKED_IN_SCHEMA)
    return [PermissionExtension(permissions=[permission], fail_silently=True, use_directives=marked)]


class Required(PermissionExtension):
    """Permissions checked before the resolver runs; on a subscription, as its stream starts.

    A subscription's refusal is then what a check in its own generator would give: the stream's one
    result, with the error, and its end (not a refused `subscribe`).
    """

    def apply(self, field: Any) -> None:
        super().apply(field)
        self._stream = bool(field.is_subscription)

    async def resolve_async(self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        if not self._stream:
            return await super().resolve_async(next_, source, info, **kwargs)
        return self._checked_stream(next_, source, info, kwargs)

    async def _checked_stream(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        for permission in self.permissions:
            allowed = permission.has_permission(source, info, **kwargs)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if allowed is not True:
                permission.on_unauthorized()
        async with contextlib.aclosing(next_(source, info, **kwargs)) as stream:
            async for item in stream:
                yield item


def requires(permission: BasePermission) -> list[FieldExtension]:
    """Field extensions: `permission` is checked before the resolver runs; its Forbidden is the answer."""
    return [Required(permissions=[permission], use_directives=isinstance(permission, _MARKED_IN_SCHEMA))]


class ForbiddenAsResult(strawberry.ExceptionHandler[errors.Forbidden, e.Forbidden]):
    """A refusal (IsLender's) as the typed Forbidden of a result union that has one; elsewhere an error."""

    def handle(self, exception: errors.Forbidden, *, field: object, info: strawberry.Info) -> e.Forbidden:
        return e.Forbidden(code=exception.code, message=exception.message)


async def owned_nodes(model: Any, info: Info, node_ids: Iterable[str], scope: str = PORTFOLIO_READ) -> list[Any]:
    """Rows of `model` for `node_ids`, None where the viewer may not read it as their own (with `scope`).

    Another lender's object does not exist as far as this viewer can tell.
    """
    ids = [int(i) for i in node_ids]
    reader = info.context.reader(scope)
    mine = {row.id: row for row in await model.filter(id__in=ids, lender_id=reader)} if reader else {}
    return [mine.get(i) for i in ids]


def depends_on_viewer(field: Any) -> bool:
    """Whether a strawberry field's value depends on who asks: a permission guards it, or it is marked so."""
    if field is None:  # not a field of ours (strawberry's own, such as relay's PageInfo)
        return False
    marked = bool(field.metadata.get("viewer_dependent"))
    return marked or any(isinstance(extension, PermissionExtension) for extension in field.extensions)


def viewer_fields(schema: strawberry.Schema) -> frozenset[tuple[str, str]]:
    """(type, field), by their GraphQL names, of every field whose value depends on who asks."""
    return fields_where(schema, depends_on_viewer)


def fields_where(schema: strawberry.Schema, test: Callable[[Any], bool]) -> frozenset[tuple[str, str]]:
    """(type, field), by their GraphQL names, of every field for whose strawberry field `test` holds.

    `test` is given None for a field that is not ours (strawberry's own, such as relay's PageInfo).
    An interface's field counts when it does for any type implementing it: a selection may name either.
    """
    graphql = graphql_core_schema(schema)
    composite = [t for t in graphql.type_map.values() if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    found = {
        (type_.name, name)
        for type_ in composite
        if not type_.name.startswith("__")
        for name in type_.fields
        if test(schema.get_field_for_type(name, type_.name))
    }
    for interface in (t for t in composite if isinstance(t, GraphQLInterfaceType)):
        implementations = {t.name for t in graphql.get_implementations(interface).objects}
        found |= {
            (interface.name, name)
            for type_name, name in found
            if type_name in implementations and name in interface.fields
        }
    return frozenset(found)
