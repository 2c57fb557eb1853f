"""Input objects built as strawberry builds them, by a function made once per input type.

strawberry turns an argument's input object into its class field by field
on every request: it derives each field's GraphQL name, resolves its
annotation and walks the type's wrappers again (convert_argument), about a
tenth of a lend's CPU. Here each input type's `from_input`, the hook
strawberry gives integrations that build their own values, is a function
that knows its fields already: a scalar or an enum (graphql-core parsed it
when it coerced the variables) is taken as it is, a list of them copied,
and anything else (a nested input, a relay GlobalID, a Maybe) converted by
strawberry as before (InputContext.convert). Fields the client left out get
None unless they have a default, as strawberry gives them.
tests/graph/test_input_builders.py compares the two on generated values.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import strawberry
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLScalarType
from strawberry import relay

from graph.strawberry_internals import (
    DEFINITION_BACKREF,
    InputContext,
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    graphql_core_schema,
)

# How one field's value becomes the class's: as it is (None), copied as a list, or by strawberry.
Convert = Callable[[Any, InputContext, str], Any] | None


def build_inputs_directly(schema: strawberry.Schema) -> None:
    """Give every input type of `schema` that builds no value of its own a builder made for it."""
    for graphql_type in graphql_core_schema(schema).type_map.values():
        if not isinstance(graphql_type, GraphQLInputObjectType):
            continue
        definition = (graphql_type.extensions or {}).get(DEFINITION_BACKREF)
        if definition is not None and definition.from_input is None:
            definition.from_input = _builder(schema, definition, graphql_type)


def _builder(schema: strawberry.Schema, definition: Any, graphql_type: GraphQLInputObjectType) -> Callable[..., Any]:
    name_of = schema.config.name_converter.from_field
    # strawberry passes None for a field the client left out unless the field has a default of its own.
    omitted = {field.python_name: None for field in definition.fields if _no_default(field)}
    plan = []
    for field in definition.fields:
        name = name_of(field)
        strawberry_type = field.resolve_type(type_definition=definition)
        plan.append((name, field.python_name, _convert(strawberry_type, graphql_type.fields[name].type)))

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs = omitted.copy()
        for name, python_name, convert in plan:
            if name in value:
                given = value[name]
                kwargs[python_name] = given if convert is None else convert(given, context, name)
        return cls(**kwargs)

    return from_input


def _no_default(field: Any) -> bool:
    return field.default_value is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _convert(strawberry_type: Any, graphql_type: Any) -> Convert:
    if _is_leaf(strawberry_type, graphql_type):
        return None
    wrapped = _stripped(strawberry_type)
    listed = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    # A list of leaves is copied, as strawberry does: graphql-core gives every request that omits it the same
    # default list.
    listed_leaves = isinstance(listed, GraphQLList) and _is_leaf(getattr(wrapped, "of_type", None), listed.of_type)
    if isinstance(wrapped, StrawberryList) and listed_leaves:
        return _copied
    return _by_strawberry(strawberry_type)


def _stripped(strawberry_type: Any) -> Any:
    """The type inside an Optional (not inside a Maybe, which strawberry wraps in Some)."""
    if isinstance(strawberry_type, StrawberryOptional) and not isinstance(strawberry_type, StrawberryMaybe):
        return strawberry_type.of_type
    return strawberry_type


def _is_leaf(strawberry_type: Any, graphql_type: Any) -> bool:
    """Whether strawberry passes a value of this type on as graphql-core parsed it."""
    if isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    inner = _stripped(strawberry_type)
    return (
        isinstance(graphql_type, (GraphQLScalarType, GraphQLEnumType))
        and not isinstance(inner, StrawberryMaybe)
        and inner is not relay.GlobalID
    )


def _copied(value: Any, context: InputContext, name: str) -> list[Any] | None:
    return None if value is None else list(value)


def _by_strawberry(strawberry_type: Any) -> Convert:
    def convert(value: Any, context: InputContext, name: str) -> Any:
        return context.convert(value, strawberry_type, name)

    return convert
