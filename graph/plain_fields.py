"""Plain fields, answered by the executor itself (graph/direct_fields.py).

Most fields of a page are plain: a loan's name, amount or status is an
attribute of the node, read and coerced. graphql-core and strawberry spend
several microseconds on each (resolve info, the resolver's wrappers, the
completion's dispatch on the type): a page of 100 shares is well over a
thousand such fields. The executor answers those itself (the attribute, or
what a resolver taking nothing but the node makes, coerced by the field's
leaf type), and hands any plain one whose value is null where null is not
allowed or fails to coerce to graphql-core, which reports it as usual.
"""

from collections.abc import Awaitable, Callable
from types import GeneratorType
from typing import Any, TypeGuard

from graphql import GraphQLLeafType, GraphQLObjectType, Undefined, is_leaf_type, is_non_null_type
from graphql.pyutils import is_awaitable as graphql_is_awaitable
from strawberry.relay import to_base64

from graph.strawberry_internals import direct_resolver, node_id_attribute, plain_attribute

AWAITABLE_TYPES: dict[type, bool] = {}
# The attribute, its leaf type (None: a relay Node's global id, from the attribute), whether null is refused,
# and the resolver that makes the value from the source (None: the attribute is the value).
PlainField = tuple[str, GraphQLLeafType | None, bool, Callable[[Any], Any] | None]
# By the id of the object type (graphql-core's types are not hashable), with the type, for the check.
_PLAIN_FIELDS: dict[int, tuple[GraphQLObjectType, dict[str, PlainField]]] = {}


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """graphql-core's test of a resolver's value, remembered by type.

    graphql-core asks it of every value it completes (thousands for a page of 100 rows), and its own
    test is three checks deep for every plain value (a Decimal, a datetime, a node). Whether
    `await` takes an object depends on its type alone (`__await__` is looked up on the type), but
    for a generator, whose code says so: graphql-core's test then.
    """
    kind = type(value)
    found = AWAITABLE_TYPES.get(kind)
    if found is None:
        if kind is GeneratorType:
            return graphql_is_awaitable(value)
        found = AWAITABLE_TYPES[kind] = hasattr(kind, "__await__")
    return found


def plain_fields(parent_type: GraphQLObjectType) -> dict[str, PlainField]:
    """The fields of `parent_type` of a scalar or enum type whose value is an attribute of the source or what
    a resolver taking nothing but the source makes of it, and its relay `id` when strawberry makes it from
    an attribute as it does by default."""
    found = _PLAIN_FIELDS.get(id(parent_type))
    if found is None or found[0] is not parent_type:
        fields: dict[str, PlainField] = {}
        for name, field in parent_type.fields.items():
            attribute = plain_attribute(field)
            refuses_null = is_non_null_type(field.type)
            leaf = field.type.of_type if refuses_null else field.type
            resolver = direct_resolver(field) if attribute is None else None
            if attribute is not None and is_leaf_type(leaf):
                fields[name] = (attribute, leaf, refuses_null, None)
            elif resolver is not None and resolver.takes_source and resolver.info_name is None and is_leaf_type(leaf):
                fields[name] = (name, leaf, refuses_null, resolver.function)
            elif (key := node_id_attribute(field)) is not None:
                fields[name] = (key, None, refuses_null, None)
        found = _PLAIN_FIELDS[id(parent_type)] = (parent_type, fields)
    return found[1]


def plain_value(plain: PlainField, parent_type: GraphQLObjectType, source: Any) -> Any:
    """A plain field's value, as graphql-core and strawberry would complete it; Undefined when it must go
    their way (a null where null is refused, a value its type refuses, a missing key: they report it)."""
    attribute, leaf, refuses_null, resolve = plain
    value = getattr(source, attribute, Undefined) if resolve is None else resolved(resolve, source)
    missing = value is None or value is Undefined
    if leaf is None:  # a relay id, as strawberry's Node makes it
        return Undefined if missing else to_base64(parent_type.name, str(value))
    if value is None and not refuses_null:
        return None
    if missing:
        return Undefined
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:  # graphql-core's own path reports it, located
        return Undefined
    return Undefined if coerced is None else coerced


def resolved(resolve: Callable[[Any], Any], source: Any) -> Any:
    """What a plain field's resolver makes of its source; Undefined (graphql-core's way, which calls it again
    and reports or awaits what it gives) if it raises or gives something to await."""
    try:
        value = resolve(source)
    except Exception:
        return Undefined
    return Undefined if unawaited(value) else value


def unawaited(value: Any) -> bool:
    """Whether a resolver's value is something to await, closed if it is a coroutine never started (not
    warned about): graphql-core's way then, which calls the resolver again."""
    if not is_awaitable(value):
        return False
    close = getattr(value, "close", None)
    if close is not None:
        close()
    return True
