"""Every part of the schema a third party reads tells what it means: no bare type, field,
argument, enum value or input field (issue 14). Explorers and code generators show these."""

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    specified_scalar_types,
)

from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema


def undescribed(graphql: GraphQLSchema) -> list[str]:
    """The schema coordinates (Type, Type.field, Type.field(arg:), Enum.VALUE) with no description."""
    missing: list[str] = []

    def check(coordinate: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(coordinate)

    for name, type_ in sorted(graphql.type_map.items()):
        # GraphQL describes its introspection types and built-in scalars itself.
        if name.startswith("__") or name in specified_scalar_types:
            continue
        check(name, type_.description)
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in type_.fields.items():
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name}:)", arg.description)
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                check(f"{name}.{field_name}", input_field.description)
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                check(f"{name}.{value_name}", value.description)
    return missing


def test_every_part_of_the_schema_is_described():
    missing = undescribed(graphql_core_schema(schema))
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)
