"""Plain fields (an attribute of the node, of a scalar or enum type) are answered by graph/execution.py's
executor itself: the answer, and every error, must be what graphql-core and strawberry give.

A small schema holds one field of each kind; generated nodes give each field good values, nulls and
values its type refuses, and the same document runs with the app's executor and with strawberry's own.
"""

import asyncio
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from hypothesis import given
from hypothesis import strategies as st
from strawberry import relay

from graph.execution import SharingExecutor
from graph.plain_fields import plain_fields
from graph.schema import schema as app_schema
from graph.strawberry_internals import graphql_core_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    count: int
    amount: Decimal
    colour: Colour
    seen: datetime | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def echo(self) -> str:
        """A plain function giving something to await: answered graphql-core's way, awaited."""
        return later(str(self.name))  # type: ignore[return-value]

    @strawberry.field
    async def later(self) -> str:
        return str(self.name)


async def later(value: Any) -> Any:
    return value


@strawberry.type
class Item(relay.Node):
    key: relay.NodeID[int]
    label: str


@strawberry.type
class Renamed(relay.Node):
    """A Node whose id strawberry makes by the type's own resolve_id: never answered directly."""

    key: relay.NodeID[int]

    @classmethod
    def resolve_id(cls, root: "Renamed", *, info: strawberry.Info) -> str:
        return f"r{root.key}"


THINGS: list[Thing] = []
ITEMS: list[Item] = []


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return THINGS

    @strawberry.field
    def first(self) -> Thing | None:
        return THINGS[0] if THINGS else None

    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

    @strawberry.field
    def renamed(self) -> list[Renamed]:
        return [Renamed(key=item.key) for item in ITEMS]


FAST = strawberry.Schema(query=Query, execution_context_class=SharingExecutor)
STRAWBERRY = strawberry.Schema(query=Query)
DOCUMENTS = (
    "{ things { name nickname count amount colour seen shout } }",
    "{ first { a: name b: name nickname colour } things { count } }",
    "{ items { id label other: id } renamed { id } }",
)

anything = st.one_of(
    st.none(), st.integers(-(2**40), 2**40), st.text(max_size=5), st.sampled_from(list(Colour)), st.just("red")
)


@st.composite
def things(draw: st.DrawFn) -> Thing:
    """A node whose fields hold values of their type, nulls, or values of another type."""

    def value(good: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, good, anything))

    return Thing(
        name=value(st.text(max_size=5)),
        nickname=value(st.text(max_size=5)),
        count=value(st.integers(-(2**31), 2**31 - 1)),
        amount=value(st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=-(10**6))),
        colour=value(st.sampled_from(list(Colour))),
        seen=value(st.datetimes(timezones=st.just(UTC))),
    )


def answered(schema: strawberry.Schema, document: str) -> tuple[Any, list[tuple[str, tuple[Any, ...]]]]:
    result = schema.execute_sync(document)
    return result.data, sorted((error.message, tuple(error.path or ())) for error in result.errors or ())


@st.composite
def items(draw: st.DrawFn) -> Item:
    """A node whose key is a database id, or something else (a text, a negative number, null)."""
    key = draw(st.one_of(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), anything))
    return Item(key=key, label=draw(st.text(max_size=3)))  # type: ignore[arg-type]  # wrong keys on purpose


@given(st.lists(things(), max_size=4), st.lists(items(), max_size=3))
def test_plain_fields_answer_and_fail_as_graphql_core_does(nodes: list[Thing], keyed: list[Item]) -> None:
    THINGS[:] = nodes
    ITEMS[:] = keyed
    for document in DOCUMENTS:
        assert answered(FAST, document) == answered(STRAWBERRY, document)


@given(st.lists(things(), max_size=3))
def test_a_plain_resolver_that_gives_something_to_await_is_awaited(nodes: list[Thing]) -> None:
    THINGS[:] = nodes
    document = "{ things { echo later } }"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no coroutine left unawaited
        fast, slow = asyncio.run(FAST.execute(document)), asyncio.run(STRAWBERRY.execute(document))
    assert fast.data == slow.data
    assert sorted(map(str, fast.errors or ())) == sorted(map(str, slow.errors or ()))


def test_the_fields_answered_directly_are_the_plain_ones() -> None:
    thing = plain_fields(graphql_core_schema(FAST).type_map["Thing"])  # type: ignore[arg-type]
    # `shout` too: its resolver takes nothing but the node (it fails on a name that is not text: reported as
    # graphql-core reports it, the test above checks).
    assert set(thing) == {"name", "nickname", "count", "amount", "colour", "seen", "shout", "echo"}
    assert "later" not in thing  # a coroutine function: strawberry's way

    loan = plain_fields(graphql_core_schema(app_schema).type_map["Loan"])  # type: ignore[arg-type]
    assert {"name", "amount", "fundedAmount", "status", "expiresAt"} <= set(loan)
    # The relay id is made from the key as strawberry's Node makes it; objects have resolvers of their own.
    assert loan["id"][:2] == ("id", None)
    assert not {"partner", "country", "lenders"} & set(loan)
    assert plain_fields(graphql_core_schema(FAST).type_map["Item"])["id"][:2] == ("key", None)  # type: ignore[arg-type]
    assert "id" not in plain_fields(graphql_core_schema(FAST).type_map["Renamed"])  # type: ignore[arg-type]
    lender = plain_fields(graphql_core_schema(app_schema).type_map["Lender"])  # type: ignore[arg-type]
    assert "balance" not in lender  # guarded by a permission: never read without it
