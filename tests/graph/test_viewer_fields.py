"""Which fields depend on who asks is read off the schema, and shared subscription results respect it.

A subscription event is executed once per distinct selection and the result is shared between
subscribers (graph/execution.py); a selection that reaches a field whose value depends on the
viewer is executed per viewer. The set of such fields is derived from the schema
(graph.permissions.viewer_fields): every field a permission guards and every field marked
VIEWER_DEPENDENT. So a field added with a permission is private to the shared results at once,
with no list to edit: the small schema below stands for "a field added tomorrow".
"""

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.permission import PermissionExtension

from graph.context import Context, Info
from graph.documents import parse_document
from graph.execution import SharedResults, SharingExecutor
from graph.limits import Limits
from graph.limits.operation import QueryLimits
from graph.limits.rate import RateLimiter
from graph.permissions import VIEWER_DEPENDENT, private, viewer_fields
from graph.schema import VIEWER_FIELDS, schema
from graph.strawberry_internals import graphql_core_schema
from lending.tokens import Viewer
from models import Role
from subscriptions.bus import EventBus
from subscriptions.hub import Hub
from tests.security.access_control.audit import Audit, report, shared_loan_allocations
from tests.security.access_control.world import build_world
from tests.ws import Socket

# ------------------------------------------------------------------ a small schema: a field added tomorrow


class IsHolder(strawberry.BasePermission):
    """The new rule: a vault's secret is shown to its holder only."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == source.holder


@strawberry.type
class Vault:
    name: str
    holder: strawberry.Private[int]

    @strawberry.field(extensions=private(IsHolder()))
    def secret(self) -> str | None:
        return f"the secret of lender {self.holder}"

    @strawberry.field(metadata=VIEWER_DEPENDENT)
    def yours(self, info: Info) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.lender_id == self.holder


@strawberry.type
class Opened:
    event_id: str
    vault: Vault


@strawberry.type
class Query:
    hello: str = "hello"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def opened(self, after: str | None = None) -> AsyncIterator[Opened]:
        yield Opened(event_id="0000000000000001", vault=Vault(name="Blue", holder=1))


class ParseOnce(SchemaExtension):
    """The app's parse step alone (graph/documents.py): one document per text, which sharing needs."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = parse_document(context.query or "", 0)
        yield


SMALL = strawberry.Schema(
    query=Query, subscription=Subscription, execution_context_class=SharingExecutor, extensions=[ParseOnce]
)
CLOCK = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731 (a clock is a function that answers the time)


def context(shared: SharedResults, lender_id: int | None) -> Context:
    """The app's own Context (the executor shares only under it), outside the app."""
    request = Request({"type": "http", "method": "POST", "path": "/graphql", "headers": [], "client": ("t", 1)})
    return Context(
        request=request,
        response=None,
        viewer=None if lender_id is None else Viewer(token_id=lender_id, role=Role.LENDER, lender_id=lender_id),
        clock=CLOCK,
        hub=Hub(EventBus("memory://")),
        shared=shared,
        limits=Limits(query=QueryLimits(), max_lexical_tokens=0, hide_suggestions=False, rate=RateLimiter(clock=CLOCK)),
    )


async def first_result(document: str, shared: SharedResults, lender_id: int | None) -> dict[str, Any]:
    stream = await SMALL.subscribe(document, context_value=context(shared, lender_id), variable_values={"a": "0"})
    assert not isinstance(stream, strawberry.types.ExecutionResult), stream
    async with contextlib.aclosing(stream):
        result = await anext(stream)
    assert not result.errors, result.errors
    return result.data


def test_the_new_guarded_and_marked_fields_are_viewer_fields_without_a_list():
    assert viewer_fields(SMALL) == {("Vault", "secret"), ("Vault", "yours")}


SECRET = ["the secret of lender 1", None, None]  # as the holder, another lender, an anonymous subscriber
YOURS = [True, False, False]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("subscription($a: String) { opened(after: $a) { eventId vault { name secret } } }", SECRET),
        ("subscription($a: String) { opened(after: $a) { eventId vault { name yours } } }", YOURS),
        # The root field inside an inline fragment, and inside a named fragment.
        ("subscription($a: String) { ... on Subscription { opened(after: $a) { vault { secret } } } }", SECRET),
        ("subscription { ...Vaults } fragment Vaults on Subscription { opened { vault { yours } } }", YOURS),
    ],
)
async def test_a_selection_of_a_new_viewer_field_is_executed_for_each_viewer(document: str, expected: list[Any]):
    shared = SharedResults(viewer_fields(SMALL))
    results = [await first_result(document, shared, lender_id) for lender_id in (1, 2, None)]
    assert shared.executions == 3
    vaults = [result["opened"]["vault"] for result in results]
    assert [vault.get("secret", vault.get("yours")) for vault in vaults] == expected


async def test_a_public_selection_is_executed_once_for_every_viewer():
    # The same machinery shares what depends on no viewer: the test above is not passing by accident.
    document = "subscription($a: String) { opened(after: $a) { eventId vault { name } } }"
    shared = SharedResults(viewer_fields(SMALL))
    results = [await first_result(document, shared, lender_id) for lender_id in (1, 2, None)]
    assert shared.executions == 1
    assert results == [{"opened": {"eventId": "0000000000000001", "vault": {"name": "Blue"}}}] * 3


# ------------------------------------------------------------------ the real schema


def test_every_guarded_field_of_the_schema_is_a_viewer_field():
    graphql = graphql_core_schema(schema)
    guarded = set()
    for type_name, graphql_type in graphql.type_map.items():
        if type_name.startswith("__") or not hasattr(graphql_type, "fields"):
            continue
        for field_name in graphql_type.fields:
            field = schema.get_field_for_type(field_name, type_name)
            if field is not None and any(isinstance(e, PermissionExtension) for e in field.extensions):
                guarded.add((type_name, field_name))
    assert guarded <= VIEWER_FIELDS
    # What the hand-kept list held, for the types a subscription reaches, and the fields marked so.
    private_lender = {"email", "balance", "portfolio", "transactions", "notifications", "savedSearches"}
    private_lender |= {"autoLendRule", "apiTokens"}
    assert {("Lender", name) for name in private_lender} | {("Allocation", "lender")} <= guarded
    assert {("Query", "me"), ("Query", "node")} <= VIEWER_FIELDS - guarded


async def test_a_root_field_in_an_inline_fragment_still_shows_each_subscriber_only_their_own_fields(live):
    """The Shared loan's allocations name Ada to Ada and Bob to Bob, through `... on Subscription`."""
    world = await build_world(live)
    shared_loan, problems = world.ids["Shared"], []
    document = """subscription($loan: ID!) { ... on Subscription { loanProgress(loanId: $loan) {
        loan { allocations { __typename amount matched lender { __typename id displayName } } } } } }"""
    viewers = ("Ada", "Bob", "anonymous")
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            name: await stack.enter_async_context(Socket.open(live.ws_url, token=world.token(name))) for name in viewers
        }
        for ws in opened.values():
            await ws.subscribe("progress", document, {"loan": shared_loan})
        await live.listening(len(opened))
        assert (await live.lend(world.token("Carol"), shared_loan, "25.00"))["__typename"] == "LendSuccess"
        for name, ws in opened.items():
            event = (await ws.next("progress"))["loanProgress"]
            problems += Audit(world, world.who[name], "inline").walk(event).problems
            problems += shared_loan_allocations(event["loan"]["allocations"], world.who[name], world, "inline")
    assert not problems, report(problems)
