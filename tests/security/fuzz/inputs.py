"""Mutation inputs built from the GraphQL input types: a valid input with one field, or a few, made hostile,
of another type, null or left out; fields the type does not have; `variables` of the wrong shape."""

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
)
from hypothesis import event
from hypothesis import strategies as st

from tests.security.fuzz.plans import MUTATIONS, Plan
from tests.security.fuzz.values import ANY_JSON, JSON_LEAVES, TEXTS, copies, good_values, scalar_values
from tests.security.fuzz.world import World


def typed_value(gtype: GraphQLInputType, world: World, depth: int = 0) -> st.SearchStrategy:
    """A hostile value of a GraphQL input type (not null: null comes from the field's mode)."""
    if isinstance(gtype, GraphQLNonNull):
        return typed_value(gtype.of_type, world, depth)
    if isinstance(gtype, GraphQLList):
        item = typed_value(gtype.of_type, world, depth + 1)
        return st.one_of(
            st.lists(item, max_size=6),
            item,  # one value where a list is expected: GraphQL coerces it to a list of one
            st.lists(st.one_of(item, st.none()), min_size=1, max_size=4),
            st.builds(copies, item, st.sampled_from([11, 50, 200])),
        )
    if isinstance(gtype, GraphQLInputObjectType):
        if depth > 2:
            return st.just({})
        return input_object(gtype, {}, world, depth + 1)
    if isinstance(gtype, GraphQLEnumType):
        names = sorted(gtype.values)
        return st.one_of(
            st.sampled_from(names),
            st.sampled_from(names).map(str.lower),
            st.sampled_from(names).map(lambda n: n + " "),
            TEXTS,
            st.integers(min_value=0, max_value=len(names)),
        )
    if isinstance(gtype, GraphQLScalarType):
        return scalar_values(world)[gtype.name]
    raise TypeError(f"no fuzz strategy for {gtype}")


FIELD_MODES = ["good"] * 3 + ["hostile"] * 3 + ["other type", "null", "omit"]
ONE_FIELD_MODES = ["hostile"] * 6 + ["good", "other type", "null", "omit"]
EXTRA_FIELD_NAMES = st.one_of(
    st.sampled_from(
        ["id", "lenderId", "role", "balance", "status", "__typename", "amountCents", "partnerId", "scopes"]
    ),
    st.text(max_size=10),
)


def _replaced(
    draw: st.DrawFn, mode: str, name: str, gtype: GraphQLInputType, world: World, depth: int, out: dict
) -> None:
    """Set (or drop) one field of `out` as `mode` says."""
    goods = good_values(world)
    if mode == "good" and name in goods:
        out[name] = draw(goods[name])
    elif mode in ("good", "hostile"):
        out[name] = draw(typed_value(gtype, world, depth))
    elif mode == "other type":
        out[name] = draw(ANY_JSON)
    elif mode == "null":
        out[name] = None
    else:
        out.pop(name, None)


def field_paths(type_: GraphQLInputObjectType, depth: int = 0) -> list[tuple[str, ...]]:
    """Every field of an input type, and every field of the input objects nested in it (not in lists)."""
    paths = []
    for name, input_field in sorted(type_.fields.items()):
        paths.append((name,))
        gtype = input_field.type.of_type if isinstance(input_field.type, GraphQLNonNull) else input_field.type
        if isinstance(gtype, GraphQLInputObjectType) and depth < 2:
            paths += [(name, *rest) for rest in field_paths(gtype, depth + 1)]
    return paths


def one_field(type_: GraphQLInputObjectType, base: dict, world: World) -> st.SearchStrategy:
    """`base` with one field, maybe of a nested filter, hostile, of another type, null or left out.

    The path is drawn evenly among all fields at every level, so a nested filter's fields are fuzzed
    as often as top-level ones; the other fields stay valid, so the odd value gets past their checks
    to wherever it can do harm.
    """
    paths = field_paths(type_)

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        path = draw(st.sampled_from(paths))
        out = dict(base)
        holder, holder_type = out, type_
        for name in path[:-1]:
            inner = holder.get(name)
            holder[name] = dict(inner) if isinstance(inner, dict) else {}
            holder, holder_type = holder[name], get_named_type(holder_type.fields[name].type)
        name = path[-1]
        mode = draw(st.sampled_from(ONE_FIELD_MODES))
        _replaced(draw, mode, name, holder_type.fields[name].type, world, len(path), holder)
        return out

    return build()


def input_object(type_: GraphQLInputObjectType, base: dict, world: World, depth: int = 0) -> st.SearchStrategy:
    """`base` with a few of its fields made plausible, hostile, of another type, null or left out."""
    names = sorted(type_.fields)

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        out = dict(base)
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)), unique=True)):
            _replaced(draw, draw(st.sampled_from(FIELD_MODES)), name, type_.fields[name].type, world, depth, out)
        return out

    return build()


def with_extra_fields(type_: GraphQLInputObjectType, value: dict) -> st.SearchStrategy:
    """Fields the input type does not have: GraphQL must refuse them, never pass them on."""
    names = EXTRA_FIELD_NAMES.filter(lambda name: name not in type_.fields)
    return st.dictionaries(names, ANY_JSON, min_size=1, max_size=2).map(lambda extra: {**value, **extra})


INPUT_SHAPES = (
    ["one field"] * 8
    + ["fields"] * 4
    + ["valid", "extra fields", "null", "missing", "not an object", "list of inputs", "bad variables"]
)


def variables_for(mutation: str, plan: "Plan", world: World) -> st.SearchStrategy:
    """The request's `variables`: mostly `{"input": <fuzzed input>}`, sometimes of the wrong shape."""
    arg = MUTATIONS[mutation].args["input"].type
    type_ = get_named_type(arg)
    assert isinstance(type_, GraphQLInputObjectType)

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        base = plan.valid(world)
        shape = draw(st.sampled_from(INPUT_SHAPES))
        event(f"input shape: {shape}")
        if shape == "one field":
            return {"input": draw(one_field(type_, base, world))}
        if shape == "fields":
            return {"input": draw(input_object(type_, base, world))}
        if shape == "valid":
            return {"input": base}
        if shape == "extra fields":
            return {"input": draw(with_extra_fields(type_, base))}
        if shape == "null":
            return {"input": None}
        if shape == "missing":
            return {}
        if shape == "not an object":
            return {"input": draw(JSON_LEAVES)}
        if shape == "list of inputs":
            return {"input": [base, draw(input_object(type_, base, world))]}
        return draw(st.one_of(JSON_LEAVES, st.lists(JSON_LEAVES, max_size=3)))  # variables themselves not an object

    return build()
