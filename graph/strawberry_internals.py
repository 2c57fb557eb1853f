"""The parts of strawberry that graph/ needs and strawberry does not publish, in one place.

strawberry's public API is the `strawberry` package and the packages it
documents (strawberry.asgi, .dataloader, .exceptions, .extensions, .http,
.permission, .relay, .subscriptions, .tools, .types). What lendgraph adds to
the WebSocket protocols, to execution and to HTTP refusals cannot be built
on those alone, so the names below come from modules a strawberry release
may move or change without notice. graph/ imports them from here only, and
tests/test_dependency_internals.py imports each from its strawberry module,
naming the module of ours to adapt when an upgrade moves one.
"""

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import strawberry

# cross-web is the library strawberry's views read requests through (a dependency of strawberry,
# not of lendgraph). graph/http.py hands the view a request adapter that reads Content-Type
# case-insensitively, and answers the HTTPException the view refuses a request with.
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter

# graphql-core's own (public) type, for graphql_core_schema below.
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLUnionType

# Relay ids (graph/execution.py answers a Node's `id` itself when strawberry would make it as Node does).
from strawberry import relay

# The WebSocket protocols (graph/websocket.py): strawberry's handlers and the socket adapter
# they talk through, subclassed to close malformed messages with 4400, answer a document that
# cannot run with an `error` message, stop the operations of a revoked token and ping on
# graphql-transport-ws. strawberry has no hook for any of these.
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected

# Refusals before execution (graph/http.py): strawberry raises these as the cause of the
# HTTPException it answers with; they tell an unknown operation name (a GraphQL request error)
# and a mutation over GET (405) from other bad requests.
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

# Execution (graph/execution.py): `strawberry.Schema(execution_context_class=...)` is public,
# but a class that keeps strawberry's own execution must extend strawberry's default. It answers
# the fields that only read an attribute itself (plain_attribute below): the converter's name for
# the strawberry field behind a GraphQL field, and the resolver it gives those fields.
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# Validation (graph/pipeline.py): refusals validates in strawberry's place (cached, and
# without "Did you mean ...?" hints in production), so it adds the two rules strawberry adds.
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# The WebSocket protocols' handlers (graph/websocket.py; see the socket adapter above).
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

# Input objects (graph/input_builders.py): what an input type's `from_input` hook is handed (it converts a
# value as strawberry does), and the wrappers of a field's resolved type it tells apart.
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional

# A cast (`strawberry.cast(Type, obj)`) is an attribute of the object: graph/direct_fields.py trusts an
# object's class only when it carries none.
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

# Results (graph/http.py, graph/websocket.py): the result strawberry gives a request that failed
# before execution (nothing ran), and the type of ExecutionContext.operation_type.
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

# Where strawberry keeps, on a graphql-core type or field, the strawberry definition it was made from.
DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
BASIC_RESOLVER = "_get_basic_result"  # strawberry's resolver of a field that reads one attribute, and does nothing else
SYNC_RESOLVER = "_resolver"  # strawberry's resolver of a field whose own resolver is not a coroutine function
EXCEPTION_HANDLERS = "field_exception_handlers"  # what SYNC_RESOLVER's closure calls the field's exception handlers
# The type check strawberry gives an object type that implements interfaces (a relay Node, say).
STRAWBERRY_IS_TYPE_OF = "GraphQLCoreConverter.from_object.<locals>._get_is_type_of.<locals>.is_type_of"
STRAWBERRY_UNION_RESOLVER = "StrawberryUnion.get_type_resolver.<locals>._resolve_union_type"


def plain_attribute(field: GraphQLField) -> str | None:
    """The attribute of its source a GraphQL field's value is, if strawberry resolves it by reading that
    attribute and nothing else (no resolver, no extension or permission, no exception handler, the
    default resolver `getattr`); else None."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or getattr(field.resolve, "__name__", None) != BASIC_RESOLVER:
        return None
    if not definition.is_basic_field or definition.default_resolver is not getattr:
        return None
    return str(definition.python_name)


class DirectResolver(NamedTuple):
    """A resolver strawberry calls as `function(source, info=...)` (or without either) and nothing else."""

    function: Callable[..., Any]
    takes_source: bool
    info_name: str | None
    definition: Any  # the strawberry field, which its Info carries


def direct_resolver(field: GraphQLField) -> DirectResolver | None:
    """The resolver behind `field`, if strawberry only calls it: it takes no argument but its source and
    `info` and is not a coroutine function, and the field has no extension, permission or exception
    handler (strawberry's resolver for it then builds an Info, converts no argument and calls it)."""
    definition: Any = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or definition.extensions or definition.permission_classes or field.args:
        return None
    if resolver.is_async or resolver.arguments or resolver.parent_parameter or resolver.root_parameter:
        return None
    resolve = field.resolve
    if resolve is None or resolve.__name__ != SYNC_RESOLVER or not callable(resolver.wrapped_func):
        return None
    if inspect.getclosurevars(resolve).nonlocals.get(EXCEPTION_HANDLERS, True):
        return None
    info = resolver.info_parameter
    info_name = info.name if info is not None else None
    return DirectResolver(resolver.wrapped_func, resolver.self_parameter is not None, info_name, definition)


def checked_class(object_type: GraphQLObjectType) -> type | None:
    """The class whose instances strawberry's type check for `object_type` accepts, when the check is the
    one strawberry makes (an object not cast to another type passes when it is an instance of the class or
    of one of its interfaces); None for any other check."""
    check = object_type.is_type_of
    definition: Any = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if check is None or definition is None or definition.is_type_of is not None or definition.concrete_of:
        return None
    if getattr(check, "__qualname__", None) != STRAWBERRY_IS_TYPE_OF:
        return None
    origin: type = definition.origin
    return origin


def union_member(union: GraphQLUnionType, kind: type) -> GraphQLObjectType | None:
    """The member of `union` that strawberry's type resolver gives an instance of `kind` not cast to another
    type, when strawberry's resolver is the union's and that member has no type check of its own or one that
    passes every such instance (checked_class); None otherwise. strawberry gives the first member (in order) whose
    definition is the instance's: for a member that is no generic's concrete type, only that member."""
    resolver = union.resolve_type
    if resolver is None or getattr(resolver, "__qualname__", None) != STRAWBERRY_UNION_RESOLVER:
        return None
    definition: Any = getattr(kind, "__strawberry_definition__", None)
    if definition is None:
        return None
    for member in union.types:
        found: Any = (member.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if found is definition:
            passes = member.is_type_of is None or checked_class(member) is kind
            return member if passes and not definition.concrete_of else None
    return None


_NODE_ID = relay.Node.__dict__["_id"].__func__  # the resolver of every Node's `id`, a classmethod
_NODE_RESOLVE_ID = relay.Node.__dict__["resolve_id"].__func__
_NODE_RESOLVE_TYPENAME = relay.Node.__dict__["resolve_typename"].__func__


def node_id_attribute(field: GraphQLField) -> str | None:
    """The attribute holding the key, if `field` is a relay Node's `id` as strawberry resolves it by default
    (its own resolver, the type's `resolve_id` and `resolve_typename` not overridden, no extension or
    permission): its value is then the global id of the parent type's name and `str` of that attribute."""
    definition: Any = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or definition.extensions or definition.permission_classes:
        return None
    method = resolver.wrapped_func
    origin = getattr(method, "__self__", None)
    if getattr(method, "__func__", None) is not _NODE_ID:
        return None
    if not (isinstance(origin, type) and issubclass(origin, relay.Node)):
        return None
    own_id = getattr(origin.resolve_id, "__func__", None) is _NODE_RESOLVE_ID
    if not own_id or getattr(origin.resolve_typename, "__func__", None) is not _NODE_RESOLVE_TYPENAME:
        return None
    return origin.resolve_id_attr()


__all__ = [
    "BASIC_RESOLVER",
    "DEFINITION_BACKREF",
    "TYPE_CAST_ATTRIBUTE",
    "AsyncHTTPRequestAdapter",
    "AsyncWebSocketAdapter",
    "BaseGraphQLTransportWSHandler",
    "BaseGraphQLWSHandler",
    "CannotGetOperationTypeError",
    "DirectResolver",
    "GraphQLCoreConverter",
    "HTTPException",
    "InputContext",
    "InvalidOperationTypeError",
    "MaybeNullValidationRule",
    "NonJsonMessageReceived",
    "NonTextMessageReceived",
    "OneOfInputValidationRule",
    "Operation",
    "OperationType",
    "PreExecutionError",
    "StarletteRequestAdapter",
    "StrawberryGraphQLCoreExecutionContext",
    "StrawberryList",
    "StrawberryMaybe",
    "StrawberryOptional",
    "WebSocketDisconnected",
    "checked_class",
    "describe_enum_values",
    "direct_resolver",
    "forget_collected_subfields",
    "graphql_core_schema",
    "node_id_attribute",
    "plain_attribute",
    "union_member",
]


def forget_collected_subfields(executor: Any) -> None:
    """Give an executor an empty memo of collected subfields, in place of the one it shares.

    graphql-core memoizes, per executor, the subfields it collects, keyed by the identity of field
    lists that every execution builds anew; the per-event copy of a subscription's executor is a
    shallow copy, so every event added its entries to the subscription's memo for as long as the
    subscription lived (the load run's memory grew with the events delivered).
    """
    executor._relevant_sub_fields = {}


def graphql_core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema a strawberry schema executes with (kept in a private attribute).

    graph/ validates, coerces variables and measures cost against it; tests walk its types.
    """
    return schema._schema


def describe_enum_values(enum: Any, descriptions: Mapping[str, str]) -> None:
    """Describe, by name, the values of an enum that strawberry.enum has marked.

    strawberry.enum_value describes the values of an enum written for GraphQL; the models' enums
    are StrEnums whose values are the stored strings, so their descriptions are set on the enum
    definition strawberry keeps on the class. A value left out stays bare (the description test names it).
    """
    for value in enum.__strawberry_definition__.values:
        value.description = descriptions.get(value.name)
