"""Schema extensions."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    SKIP,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ValidationRule,
    VisitorAction,
    get_named_type,
    get_operation_ast,
    get_variable_values,
    is_introspection_type,
    validate,
)
from graphql import OperationType as GraphQLOperationType
from graphql.validation import ASTValidationRule
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.relay import GlobalIDValueError
from strawberry.types import ExecutionContext, StreamExecutionResult

from graph.limits import Limits, client_ip, limits_of
from graph.limits.operation import DocumentCache, money_fields
from graph.limits.rate import rate_limited_error
from graph.strawberry_internals import (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
    OperationType,
    graphql_core_schema,
)
from lending.errors import LendingError
from models.db import is_transient

log = logging.getLogger("lendgraph.errors")
UNAVAILABLE = "UNAVAILABLE"
RETRY_AFTER_SECONDS = 1


class DomainErrorCodes(SchemaExtension):
    """Give errors raised by the domain in queries (a bad cursor, say) their code in `extensions`."""

    def on_operation(self) -> Iterator[None]:
        yield
        self._tag(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Over WebSockets every result (subscription events, queries and mutations) comes this way.
        self._tag(result)
        yield

    @staticmethod
    def _tag(result: object) -> None:
        for error in getattr(result, "errors", None) or []:
            if isinstance(error.original_error, LendingError):
                error.extensions = {**(error.extensions or {}), "code": error.original_error.code}


class AnnounceEvents(SchemaExtension):
    """After a mutation, wake every process's hub: the mutation's events are committed by now."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if self.execution_context.graphql_document is None:  # it did not parse: nothing ran
            return
        if self.execution_context.operation_type is OperationType.MUTATION and hasattr(context, "hub"):
            await context.hub.bus.announce()


def unavailable(error: GraphQLError | None = None) -> GraphQLError:
    """The retryable answer to a transient database failure (`error`, if any, says where it happened)."""
    return GraphQLError(
        f"The service is briefly unavailable: try again in {RETRY_AFTER_SECONDS} s. A money "
        "mutation retried with the same idempotency key moves money at most once.",
        error.nodes if error else None,
        path=error.path if error else None,
        extensions={"code": UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    )


class MaskUnexpectedErrors(SchemaExtension):
    """Unexpected exceptions reach the client as "Internal error" with an id that is in the log.

    Expected failures keep their message: domain errors, GraphQL validation
    errors and malformed global ids. A transient database failure (a
    deadlock that outlasted its retries, a lost connection, a server
    restarting or out of connections) is no bug: it is a retryable
    UNAVAILABLE error, and over HTTP the response is 503 with Retry-After.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        self._mask(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Over WebSockets every result (subscription events, queries and mutations) comes this way.
        self._mask(result)
        yield

    def _mask(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if not errors:
            return
        result.errors = [self._masked(error) for error in errors]  # type: ignore[attr-defined]
        if any((error.extensions or {}).get("code") == UNAVAILABLE for error in result.errors):  # type: ignore[attr-defined]
            response = getattr(self.execution_context.context, "response", None)
            if response is not None:
                response.status_code = 503
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)

    @staticmethod
    def _masked(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, (LendingError, GraphQLError, GlobalIDValueError)):
            return error
        if is_transient(original):
            log.warning("unavailable at %s: %r", error.path, original)
            return unavailable(error)
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s at %s", error_id, error.path, exc_info=original)
        return GraphQLError(
            "Internal error", error.nodes, path=error.path, extensions={"code": "INTERNAL", "errorId": error_id}
        )


_validated: DocumentCache[list[GraphQLError]] = DocumentCache()


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...], hide_suggestions: bool
) -> list[GraphQLError]:
    """Validation, cached: clients send the same few documents over and over."""
    errors = _validated.get(document, schema, rules, hide_suggestions)
    if errors is None:
        everything = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
        errors = validate(schema, document, everything, hide_suggestions=hide_suggestions)
        _validated.put(document, schema, rules, hide_suggestions, value=errors)
    return errors


class NoIntrospection(ValidationRule):
    """Refuse __schema and __type (INTROSPECTION=0): one error each, with a code. __typename stays."""

    def enter_field(self, node: FieldNode, *_args: Any) -> VisitorAction:
        named = get_named_type(self.context.get_type())
        if named is None or not is_introspection_type(named):
            return None
        self.report_error(
            GraphQLError(
                f"Introspection is disabled on this server: {node.name.value} cannot be queried.",
                node,
                extensions={"code": "INTROSPECTION_DISABLED"},
            )
        )
        return SKIP  # the fields inside are introspection too: one error is enough


SUBSCRIPTION_NEEDS_WEBSOCKET = (
    "Subscriptions are served over WebSocket only: open ws(s)://<host>/graphql with graphql-transport-ws."
)


def _tag_lexical_token_limit(error: GraphQLError) -> None:
    if "tokens. Parsing aborted" in error.message:
        error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS"}


class OperationLimits(SchemaExtension):
    """The per-operation limits of graph/limits/ (operation and rate), over HTTP and WebSocket alike.

    - Before parsing: the token limit; a WebSocket operation counts against
      its IP's and its token's rate limits (an HTTP request was counted in
      graph/app.py before its body was read).
    - Before validation: depth, aliases and cost, so a refused document is
      never validated.
    - Validation itself, cached (this replaces strawberry's ValidationCache);
      in production without "Did you mean ...?" hints, and variables are
      coerced here then too, because graphql-core's own coercion would hint.
    - After validation: the lender's money-mutation rate limit.
    A refusal is a pre-execution error: nothing runs.
    """

    def __init__(self) -> None:
        self.limits: Limits | None = None
        self.refusal: GraphQLError | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        self.limits = limits_of(context)
        if self.limits is not None:
            if self.limits.max_lexical_tokens:
                self.execution_context.parse_options["max_tokens"] = self.limits.max_lexical_tokens
            if isinstance(getattr(context, "request", None), WebSocket):
                self.refusal = await self._count_operation(context)
        try:
            yield
        except GraphQLError as error:  # ParserCache's parse raises through the hooks
            _tag_lexical_token_limit(error)
            raise
        result = self.execution_context.result
        for found in (result.errors or []) if result else []:
            _tag_lexical_token_limit(found)

    async def on_validate(self) -> AsyncIterator[None]:
        self.execution_context.pre_execution_errors = await self._errors(self.execution_context)
        yield

    async def _count_operation(self, context: Any) -> GraphQLError | None:
        assert self.limits is not None
        rate = self.limits.rate
        for usage in await rate.hit([rate.ip(client_ip(context)), rate.token(context.viewer)]):
            if usage.exceeded:
                return rate_limited_error(usage, rate.clock())
        return None

    async def _errors(self, ec: ExecutionContext) -> list[GraphQLError]:
        limits = self.limits
        if self.refusal is not None:
            return [self.refusal]
        schema, document = graphql_core_schema(ec.schema), ec.graphql_document
        assert document is not None
        operation = get_operation_ast(document, ec.operation_name)
        over_http = not isinstance(getattr(ec.context, "request", None), WebSocket)
        if operation is not None and operation.operation is GraphQLOperationType.SUBSCRIPTION and over_http:
            # Over HTTP a subscription would run as a plain query of a stream, and fail.
            return [GraphQLError(SUBSCRIPTION_NEEDS_WEBSOCKET, extensions={"code": "WEBSOCKET_REQUIRED"})]
        if limits is not None and (error := limits.query.check(schema, document, ec.operation_name, ec.variables)):
            return [error]
        hide = limits is not None and limits.hide_suggestions
        rules = tuple(ec.validation_rules)
        if limits is not None and not limits.introspection:
            rules = (*rules, NoIntrospection)
        errors = list(_validate(schema, document, rules, hide))
        if errors:
            return errors
        if hide and operation is not None:
            coerced = get_variable_values(
                schema, operation.variable_definitions or (), ec.variables or {}, hide_suggestions=True
            )
            if isinstance(coerced, list):
                return coerced
        if limits is not None:
            return await self._money(limits, ec, document)
        return []

    @staticmethod
    async def _money(limits: Limits, ec: ExecutionContext, document: DocumentNode) -> list[GraphQLError]:
        """A lender's deposits, withdrawals and loans, across all its tokens, are limited on their own."""
        count = money_fields(document, ec.operation_name)
        bucket = limits.rate.money(getattr(ec.context, "viewer", None))
        if not count or bucket is None:
            return []
        [usage] = await limits.rate.hit([bucket], count)
        if not usage.exceeded:
            return []
        now = limits.rate.clock()
        response = getattr(ec.context, "response", None)
        if not isinstance(ec.context.request, WebSocket) and response is not None:
            response.status_code = 429
            response.headers.update({**usage.headers(), "Retry-After": str(usage.retry_after(now))})
        return [rate_limited_error(usage, now)]
