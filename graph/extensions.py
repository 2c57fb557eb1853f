"""The steps of graph/pipeline.py for the operations strawberry runs itself: those over WebSocket.

An HTTP request runs the steps straight through (graph/pipeline.py Schema.execute). Over
WebSocket strawberry's `subscribe` parses, validates and executes every operation (queries and
mutations included) and calls this extension's hooks around each step; every result it sends,
each event of a subscription included, passes through on_stream_result.
"""

import contextlib
from collections.abc import AsyncIterator, Iterator

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from graph.documents import parse_document
from graph.limits import Limits, client_ip, limits_of
from graph.limits.rate import rate_limited_error
from graph.pipeline import announce_events, finish, refusals
from lending.outbox import watch_writes
from subscriptions.parking import PARKING


class OperationSteps(SchemaExtension):
    """Parse once per text, refuse before execution, finish every result, and announce a mutation's events.

    A WebSocket operation also counts against its IP's and its token's rate limits here (an HTTP
    request was counted in graph/app.py before its body was read).
    """

    def __init__(self) -> None:
        self.named: str | None = None
        self.refusal: GraphQLError | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        ec = self.execution_context
        limits = limits_of(ec.context)
        # Before parsing, the name the client sent (or None): strawberry falls back to the
        # document's first operation only once the document is parsed.
        self.named = ec.operation_name
        written = watch_writes()
        if limits is not None:
            if limits.max_lexical_tokens:
                ec.parse_options["max_tokens"] = limits.max_lexical_tokens
            if isinstance(getattr(ec.context, "request", None), WebSocket) and not _resumed():
                self.refusal = await _count_operation(limits, ec.context)
        yield
        finish(ec.result, ec.context)
        if ec.graphql_document is None:  # it did not parse: nothing ran
            return
        await announce_events(ec.operation_type, ec.context, written)

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            # A document that does not parse is left to strawberry, which parses it again and makes
            # the error the operation's result (raised from this hook, it would end the socket's task).
            with contextlib.suppress(GraphQLError):
                ec.graphql_document = parse_document(ec.query, ec.parse_options.get("max_tokens") or 0)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        assert ec.graphql_document is not None
        if self.refusal is not None:
            ec.pre_execution_errors = [self.refusal]
        else:
            ec.pre_execution_errors = await refusals(
                ec.context, ec.graphql_document, self.named, ec.variables, ec.schema
            )
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        finish(result, self.execution_context.context)
        yield


async def _count_operation(limits: Limits, context: object) -> GraphQLError | None:
    rate = limits.rate
    for usage in await rate.hit([rate.ip(client_ip(context)), rate.token(getattr(context, "viewer", None))]):
        if usage.exceeded:
            return rate_limited_error(usage, rate.clock())
    return None


def _resumed() -> bool:
    """This run continues a parked subscription (subscriptions/parking.py): the same operation, counted once."""
    parking = PARKING.get()
    return parking is not None and parking.resumed
