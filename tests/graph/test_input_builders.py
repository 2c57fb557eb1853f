"""Every input object of the schema is built by its own function (graph/input_builders.py) exactly as
strawberry's field-by-field conversion builds it, for generated input values; and through the API."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.ids import decode_id
from graph.schema import schema
from graph.strawberry_internals import DEFINITION_BACKREF, InputContext, graphql_core_schema
from models import Share
from tests.api import partner_token
from tests.conftest import serve

INPUT_TYPES = sorted(
    (t for t in graphql_core_schema(schema).type_map.values() if isinstance(t, GraphQLInputObjectType)),
    key=lambda t: t.name,
)
# A leaf's value is passed on as graphql-core parsed it: any value stands for one here.
LEAF = st.one_of(st.text(max_size=5), st.integers(), st.booleans())


def values(graphql_type: GraphQLInputType, nullable: bool = True) -> st.SearchStrategy[Any]:
    """Input values as graphql-core hands them to strawberry, after coercing a request's variables."""
    if isinstance(graphql_type, GraphQLNonNull):
        return values(graphql_type.of_type, nullable=False)
    if isinstance(graphql_type, GraphQLScalarType):
        made = LEAF
    elif isinstance(graphql_type, GraphQLEnumType):
        made = st.sampled_from([value.value for value in graphql_type.values.values()])
    elif isinstance(graphql_type, GraphQLList):
        made = st.lists(values(graphql_type.of_type), max_size=3)
    else:
        assert isinstance(graphql_type, GraphQLInputObjectType)
        fields = graphql_type.fields.items()
        required = {n: values(f.type) for n, f in fields if isinstance(f.type, GraphQLNonNull)}
        optional = {n: values(f.type) for n, f in fields if not isinstance(f.type, GraphQLNonNull)}
        made = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(st.none(), made) if nullable else made


@contextlib.contextmanager
def strawberry_s_own_conversion() -> Iterator[None]:
    """Every input type converted field by field, as strawberry does without a `from_input`."""
    definitions = [t.extensions[DEFINITION_BACKREF] for t in INPUT_TYPES]
    builders = [d.from_input for d in definitions]
    for definition in definitions:
        definition.from_input = None
    try:
        yield
    finally:
        for definition, builder in zip(definitions, builders, strict=True):
            definition.from_input = builder


def convert(value: Any, cls: type) -> Any:
    context = InputContext(
        info=None, config=schema.config, scalar_registry=schema.schema_converter.scalar_registry, path=()
    )
    return context.convert(value, cls)


def test_every_input_type_has_a_builder_of_its_own():
    assert INPUT_TYPES
    for graphql_type in INPUT_TYPES:
        assert graphql_type.extensions[DEFINITION_BACKREF].from_input is not None, graphql_type.name


@pytest.mark.parametrize("graphql_type", INPUT_TYPES, ids=lambda t: t.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_builder_builds_what_strawberry_builds(graphql_type: GraphQLInputObjectType, data: st.DataObject):
    value = data.draw(values(graphql_type, nullable=False))
    cls = graphql_type.extensions[DEFINITION_BACKREF].origin
    built = convert(value, cls)
    with strawberry_s_own_conversion():
        expected = convert(value, cls)
    assert built == expected
    assert type(built) is type(expected)
    for name, given_value in value.items():
        if isinstance(given_value, list):  # a copy, never the list graphql-core may hand the next request too
            python_name = next(
                f.python_name
                for f in cls.__strawberry_definition__.fields
                if schema.config.name_converter.from_field(f) == name
            )
            assert getattr(built, python_name) is not given_value


async def test_a_lend_s_input_reaches_the_ledger_as_sent(pg_url, clock):
    async with serve(pg_url, clock) as api:
        lender, token = await api.funded_lender("100.00")
        loan = await api.loan_id(await partner_token())
        lent = await api.lend(token, loan, "50.00", key="lend-input-1")
        assert lent["__typename"] == "LendSuccess", lent
        assert lent["lender"]["balance"] == "50.00"
        assert lent["loan"]["fundedAmount"] == "50.00"
        replayed = await api.lend(token, loan, "50.00", key="lend-input-1")
        assert replayed["lender"]["balance"] == "50.00"
        shares = await Share.filter(lender_id=decode_id(lender, "Lender")).values_list("amount_cents", flat=True)
        assert shares == [5000]
