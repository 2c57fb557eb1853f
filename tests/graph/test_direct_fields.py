"""Direct objects (an object or a list of objects read from an attribute, or returned by a resolver that
takes only its source and `info`) are completed by graph/direct_fields.py's executor itself: the answer,
and every error, must be what graphql-core and strawberry give.

Generated trees of nodes put in each object field an object of the right type, one of another type,
null, an exception, or something to await, and in each list a mix of those; the same documents run with
the app's executor and with strawberry's own, synchronously and asynchronously.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLUnionType
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry import relay

from graph.direct_fields import direct_objects
from graph.execution import SharingExecutor
from graph.schema import schema as app_schema
from graph.strawberry_internals import StrawberryGraphQLCoreExecutionContext, graphql_core_schema, union_member


@strawberry.type
class Leaf(relay.Node):
    key: relay.NodeID[int]
    label: str


@strawberry.type
class Other:
    label: str


@strawberry.type
class Stranger:
    """In no union of the schema's."""

    label: str


class SubLeaf(Leaf):
    """A Leaf by inheritance, not a strawberry type of its own."""


async def later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


@dataclass(frozen=True)
class Later:
    """In a generated tree: a coroutine giving `value`, made afresh for every run (a coroutine runs once)."""

    value: Any


@strawberry.type
class Box:
    name: str
    leaf: Leaf | None
    sure: Leaf
    leaves: list[Leaf] | None
    sure_leaves: list[Leaf | None]
    inner: "Box | None"
    either: Leaf | Other | None  # a union

    @strawberry.field
    def via_method(self) -> Leaf | None:
        return self.leaf

    @strawberry.field
    def sure_via_info(self, info: strawberry.Info) -> Leaf:
        assert info.context["seen"] is not None  # the context reaches a resolver answered directly
        # Whatever else of strawberry's Info it reads is strawberry's: the path, the field's names.
        info.context["seen"].append((tuple(info.path.as_list()), info.field_name, info.python_name))
        return self.sure

    @strawberry.field
    def leaves_via_method(self) -> list[Leaf]:
        return self.leaves  # type: ignore[return-value]  # null and wrong values on purpose

    @strawberry.field
    async def leaf_later(self) -> Leaf | None:
        return self.leaf


BOXES: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def boxes(self) -> list[Box]:
        return BOXES

    @strawberry.field
    def first(self) -> Box | None:
        return BOXES[0] if BOXES else None


FAST = strawberry.Schema(query=Query, execution_context_class=SharingExecutor)
STRAWBERRY = strawberry.Schema(query=Query)
DOCUMENTS = (
    "{ boxes { name leaf { id label } sure { label } leaves { id } sureLeaves { label } } }",
    "{ first { viaMethod { label } sureViaInfo { id } leavesViaMethod { label } inner { name leaf { label } } } }",
    "{ boxes { leafLater { label } inner { sure { id } inner { leaves { label } } } } }",
    "{ boxes { either { __typename ... on Leaf { id label } ... on Other { label } }"
    " inner { either { __typename } } } }",
)


def leaf_values() -> st.SearchStrategy[Any]:
    good = st.builds(Leaf, key=st.integers(1, 99), label=st.text(max_size=3))
    odd = st.one_of(
        st.none(),
        st.builds(Other, label=st.just("other")),
        st.just(ValueError("a value that is an error")),
        st.builds(Later, good),  # something to await
        st.builds(lambda leaf: strawberry.cast(Other, leaf), good),  # a Leaf that says it is another type
        st.builds(lambda leaf: strawberry.cast(Leaf, leaf), good),
    )
    return st.one_of(good, good, good, odd)


def leaf_lists() -> st.SearchStrategy[Any]:
    single = st.builds(Leaf, key=st.integers(1, 99), label=st.just("alone"))  # an object where a list belongs
    return st.one_of(st.none(), st.lists(leaf_values(), max_size=3), st.tuples(leaf_values()), st.just("text"), single)


boxes = st.deferred(
    lambda: st.builds(
        Box,
        name=st.text(max_size=3),
        leaf=leaf_values(),
        sure=leaf_values(),
        leaves=leaf_lists(),
        sure_leaves=leaf_lists(),
        inner=st.one_of(st.none(), boxes, st.builds(Other, label=st.just("x"))),
        either=st.one_of(
            leaf_values(),
            st.builds(Stranger, label=st.just("s")),
            st.builds(SubLeaf, key=st.integers(1, 9), label=st.just("sub")),
        ),
    )
)


def answered(schema: strawberry.Schema, document: str) -> tuple[Any, list[tuple[str, tuple[Any, ...]]], list[Any]]:
    seen: list[Any] = []

    async def execute() -> Any:
        result = await schema.execute(document, context_value={"seen": seen})
        # A null that took a parent with it leaves its siblings' awaitables settling in the background.
        settling = asyncio.all_tasks() - {asyncio.current_task()}
        await asyncio.gather(*settling, return_exceptions=True)
        return result

    result = asyncio.run(execute())
    errors = sorted((error.message, tuple(error.path or ())) for error in result.errors or ())
    return result.data, errors, sorted(seen)


def close_awaitables(nodes: list[Any]) -> None:
    """Coroutines a run never reached (their parent was null first) are closed, not warned about."""
    stack: list[Any] = list(nodes)
    while stack:
        node = stack.pop()
        if asyncio.iscoroutine(node):
            node.close()
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, Box):
            stack.extend([node.leaf, node.sure, node.leaves, node.sure_leaves, node.inner, node.either])


@settings(max_examples=150, deadline=None)
@given(st.lists(boxes, max_size=3))
def test_direct_objects_answer_and_fail_as_graphql_core_does(made: list[Any]) -> None:
    for document in DOCUMENTS:
        BOXES[:] = rebuilt(made)
        fast = answered(FAST, document)
        close_awaitables(BOXES)
        BOXES[:] = rebuilt(made)
        assert fast == answered(STRAWBERRY, document)
        close_awaitables(BOXES)


def rebuilt(node: Any) -> Any:
    """The generated tree, with a fresh coroutine for every Later."""
    if isinstance(node, Later):
        return later(rebuilt(node.value))
    if isinstance(node, list):
        return [rebuilt(item) for item in node]
    if isinstance(node, tuple):
        return tuple(rebuilt(item) for item in node)
    if isinstance(node, Box):
        return Box(
            name=node.name,
            leaf=rebuilt(node.leaf),
            sure=rebuilt(node.sure),
            leaves=rebuilt(node.leaves),
            sure_leaves=rebuilt(node.sure_leaves),
            inner=rebuilt(node.inner),
            either=rebuilt(node.either),
        )
    return node


def test_the_objects_answered_directly() -> None:
    box = direct_objects(graphql_core_schema(FAST).type_map["Box"])  # type: ignore[arg-type]
    assert set(box) == {"leaf", "sure", "leaves", "sureLeaves", "inner", "viaMethod", "sureViaInfo", "leavesViaMethod"}
    assert "leafLater" not in box  # a coroutine function: strawberry's way

    types = graphql_core_schema(app_schema).type_map
    assert {"loan"} <= set(direct_objects(types["Share"]))  # type: ignore[arg-type]
    assert {"partner"} <= set(direct_objects(types["Loan"]))  # type: ignore[arg-type]
    assert {"edges"} <= set(direct_objects(types["ShareConnection"]))  # type: ignore[arg-type]
    # Guarded by a permission, or taking arguments: never answered here.
    assert "portfolio" not in direct_objects(types["Lender"])  # type: ignore[arg-type]
    assert "lenders" not in direct_objects(types["Loan"])  # type: ignore[arg-type]


def test_every_member_of_the_apps_unions_completes_without_strawberrys_type_resolver() -> None:
    # A mutation's answer is a union of its payload and its errors (strawberry renaming its resolver or
    # type check would quietly send every one of them back its slow way).
    unions = [t for t in graphql_core_schema(app_schema).type_map.values() if isinstance(t, GraphQLUnionType)]
    assert len(unions) >= 10
    for union in unions:
        for member in union.types:
            origin = member.extensions["strawberry-definition"].origin
            assert union_member(union, origin) is member, (union.name, member.name)


# ---------------------------------------------------------------- the app's own pages, through the API

PAGES = (
    """query($first: Int) { me { portfolio { shares(first: $first) { totalCount
      edges { cursor node { id amount repaidAmount loan { id name status fundedAmount riskRating
        partner { id name riskRating country { isoCode name } } schedule { number dueDate amount } } } }
      pageInfo { hasNextPage endCursor } } } } }""",
    """query($first: Int) { loans(first: $first) { totalCount edges { cursor node { id name status amount
      fundedAmount remainingAmount partner { name riskRating } lenders(first: 2) { edges { node { displayName } } } } }
      pageInfo { hasNextPage endCursor } } }""",
    """query($first: Int) { me { transactions(first: $first) { edges { node { kind amount
      loan { name partner { name } } } } } } }""",
)


async def test_the_apps_pages_answer_as_strawberrys_own_executor_does(api, clock, monkeypatch):
    from tests.graph.test_portfolio import mixed_portfolio

    ada = await mixed_portfolio(api, clock)
    for first in (1, 3, 10):
        for document in PAGES:
            # A token on every request: the response cache keeps anonymous answers only.
            ours = await api.post(document, {"first": first}, token=ada)
            with monkeypatch.context() as patched:
                patched.setattr(app_schema, "execution_context_class", StrawberryGraphQLCoreExecutionContext)
                theirs = await api.post(document, {"first": first}, token=ada)
            assert "errors" not in ours, ours
            assert ours == theirs
    moves = ours["data"]["me"]["transactions"]["edges"]
    assert any(edge["node"]["loan"] and edge["node"]["loan"]["partner"]["name"] for edge in moves)
