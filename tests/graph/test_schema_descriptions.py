"""Every part of the schema a third party reads tells what it means: no bare type, field,
argument, enum value or input field (issue 14). Explorers and code generators show these."""

from collections.abc import Iterator

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


def described_parts(graphql: GraphQLSchema) -> Iterator[tuple[str, str | None]]:
    """(schema coordinate, description) of every type, field, argument, enum value and input field.

    Coordinates as the GraphQL spec writes them: Type, Type.field, Type.field(argument:), Enum.VALUE.
    """
    for name, type_ in sorted(graphql.type_map.items()):
        # GraphQL describes its introspection types and built-in scalars itself.
        if name.startswith("__") or name in specified_scalar_types:
            continue
        yield name, type_.description
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in type_.fields.items():
                yield f"{name}.{field_name}", field.description
                for arg_name, arg in field.args.items():
                    yield f"{name}.{field_name}({arg_name}:)", arg.description
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                yield f"{name}.{field_name}", input_field.description
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                yield f"{name}.{value_name}", value.description


def undescribed(graphql: GraphQLSchema) -> list[str]:
    """The coordinates of the parts whose description is missing or blank."""
    return [coordinate for coordinate, description in described_parts(graphql) if not (description or "").strip()]


def test_the_walk_reaches_every_kind_of_part():
    coordinates = {coordinate for coordinate, _ in described_parts(graphql_core_schema(schema))}
    assert {
        "Loan", "Loan.amount", "Query.loans(first:)", "LoanStatus.FUNDED", "LoanFilter.keywords", "UserError.code",
        "LendResult", "Decimal",
    } <= coordinates  # fmt: skip
    assert not {"String", "__Schema", "__Type.fields"} & coordinates


def test_every_part_of_the_schema_is_described():
    missing = undescribed(graphql_core_schema(schema))
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)
