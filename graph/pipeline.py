"""One GraphQL operation, from its text to its result: the steps every transport runs.

1. Parse, once per text (graph/documents.py parse_document), within the lexical-token limit.
2. Refuse what must not run (`refusals`): a WebSocket operation over its rate limits, a
   subscription over HTTP, depth, aliases and cost (graph/limits/operation.py), validation
   (cached; without "Did you mean ...?" hints in production), variables that do not coerce,
   and a lender over the money rate limit. A refusal is a pre-execution error: nothing runs.
3. Execute with graph/execution.py's executor; over HTTP, an anonymous public read of loans
   may instead be answered from memory (graph/response_cache.py), after the same refusals,
   and an operation executes once it has its turn (graph/limits/admission.py).
4. Finish the errors (`finish`): domain errors get their code, unexpected exceptions are masked
   as "Internal error" with an id in the log, a transient database failure is a retryable
   UNAVAILABLE (HTTP 503 with Retry-After).

Over HTTP the executor is built before the money limit is counted: building it coerces the
variables (a refusal then), and so it executes with what it coerced rather than coercing them
twice. An answer kept in memory is answered before: it was kept for variables that coerced.

Over HTTP, `Schema.execute` runs the steps straight through. An HTTP request is one operation,
and strawberry's extension runner (contexts and hooks for every extension, every request) cost
about a fifth of a request's CPU (bench/profile_request.py). Over WebSocket, strawberry runs
operations itself, and the one extension of graph/extensions.py calls the same steps from its
hooks.
"""

import contextlib
import logging
import uuid
from typing import Any

from graphql import (
    SKIP,
    DocumentNode,
    ExperimentalIncrementalExecutionResults,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationRule,
    VisitorAction,
    get_named_type,
    get_operation_ast,
    get_variable_values,
    is_introspection_type,
    specified_rules,
    validate,
)
from graphql import OperationType as GraphQLOperationType
from graphql.validation import ASTValidationRule
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.exceptions import MissingQueryError
from strawberry.relay import GlobalIDValueError
from strawberry.types import ExecutionResult

from graph import errorlog
from graph.context import Context
from graph.documents import OperationNameRequired, parse_document
from graph.limits import limits_of
from graph.limits.admission import Overloaded
from graph.limits.operation import DocumentCache, money_fields
from graph.limits.rate import rate_limited_error
from graph.plain_fields import is_awaitable
from graph.response_cache import ResponseCache
from graph.strawberry_internals import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    MaybeNullValidationRule,
    OneOfInputValidationRule,
    OperationType,
    PreExecutionError,
    graphql_core_schema,
)
from lending.errors import LendingError
from lending.outbox import Written, watch_writes
from models.db import is_transient

log = logging.getLogger("lendgraph.errors")
UNAVAILABLE = "UNAVAILABLE"
RETRY_AFTER_SECONDS = 1
ALL_OPERATION_TYPES = frozenset(OperationType)
SUBSCRIPTION_NEEDS_WEBSOCKET = (
    "Subscriptions are served over WebSocket only: open ws(s)://<host>/graphql with graphql-transport-ws."
)


# ---------------------------------------------------------------- 2. refusals


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


RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)
_validated: DocumentCache[list[GraphQLError]] = DocumentCache()


def _validate(
    schema: Any, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...], hide_suggestions: bool
) -> list[GraphQLError]:
    """Validation, cached: clients send the same few documents over and over."""
    errors = _validated.get(document, schema, rules, hide_suggestions)
    if errors is None:
        errors = validate(schema, document, rules, hide_suggestions=hide_suggestions)
        _validated.put(document, schema, rules, hide_suggestions, value=errors)
    return errors


async def refusals(
    context: Any, document: DocumentNode, named: str | None, variables: Any, schema: Any
) -> list[GraphQLError]:
    """Why the operation must not run (graph/limits/, validation, variables), or nothing.

    `named` is the operation name the client sent (None: the document must hold one operation);
    `schema` is the strawberry schema.
    """
    errors = _refusals_of_the_document(context, document, named, variables, schema)
    if errors:
        return errors
    operation = get_operation_ast(document, named)
    if operation is not None and isinstance(variables or {}, dict):
        limits = limits_of(context)
        coerced = get_variable_values(
            graphql_core_schema(schema),
            operation.variable_definitions or (),
            variables or {},
            hide_suggestions=limits is not None and limits.hide_suggestions,
        )
        if isinstance(coerced, list):
            return coerced
    return await money_refusals(context, document, named)


def _refusals_of_the_document(
    context: Any, document: DocumentNode, named: str | None, variables: Any, schema: Any
) -> list[GraphQLError]:
    """Why the operation must not run, before its variables are coerced: over HTTP, a subscription; its
    size (graph/limits/operation.py); validation."""
    limits = limits_of(context)
    core = graphql_core_schema(schema)
    operation = get_operation_ast(document, named)
    over_http = isinstance(getattr(context, "request", None), Request)
    if operation is not None and operation.operation is GraphQLOperationType.SUBSCRIPTION and over_http:
        # Over HTTP a subscription would run as a plain query of a stream, and fail.
        return [GraphQLError(SUBSCRIPTION_NEEDS_WEBSOCKET, extensions={"code": "WEBSOCKET_REQUIRED"})]
    if limits is not None and (error := limits.query.check(core, document, named, variables)):
        return [error]
    hide = limits is not None and limits.hide_suggestions
    rules: tuple[type[ASTValidationRule], ...] = RULES
    if limits is not None and not limits.introspection:
        rules = (*rules, NoIntrospection)
    if named is None:
        rules = (*rules, OperationNameRequired)
    return list(_validate(core, document, rules, hide))


async def money_refusals(context: Any, document: DocumentNode, named: str | None) -> list[GraphQLError]:
    """A lender's deposits, withdrawals and loans, across all its tokens, are limited on their own."""
    limits = limits_of(context)
    if limits is None:
        return []
    count = money_fields(document, named)
    bucket = limits.rate.money(getattr(context, "viewer", None))
    if not count or bucket is None:
        return []
    [usage] = await limits.rate.hit([bucket], count)
    if not usage.exceeded:
        return []
    now = limits.rate.clock()
    response = getattr(context, "response", None)
    if not isinstance(context.request, WebSocket) and response is not None:
        response.status_code = 429
        response.headers.update({**usage.headers(), "Retry-After": str(usage.retry_after(now))})
    return [rate_limited_error(usage, now)]


# ---------------------------------------------------------------- 4. finish


def unavailable(error: GraphQLError | None = None) -> GraphQLError:
    """The retryable answer to a transient database failure (`error`, if any, says where it happened)."""
    return GraphQLError(
        f"The service is briefly unavailable: try again in {RETRY_AFTER_SECONDS} s. A money "
        "mutation retried with the same idempotency key moves money at most once.",
        error.nodes if error else None,
        path=error.path if error else None,
        extensions={"code": UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    )


def masked(error: GraphQLError) -> GraphQLError:
    """`error` as the client may see it, holding no traceback.

    Expected failures keep their message: domain errors (with their code), GraphQL validation
    errors and malformed global ids. A transient database failure (a deadlock that outlasted its
    retries, a lost connection, a server restarting or out of connections) is no bug: it is a
    retryable UNAVAILABLE error. Any other exception is "Internal error" with an id that is in
    the log, with its traceback.
    """
    try:
        return _masked(error)
    finally:
        # The answer needs no frames. Kept, they hold the operation's execution context, loaders and
        # request, and a frame that raised often holds its error: cycles only the collector frees.
        _drop_tracebacks(error)


def _masked(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, LendingError):
        if (error.extensions or {}).get("code") != original.code:
            error.extensions = {**(error.extensions or {}), "code": original.code}
        return error
    if original is None or isinstance(original, (GraphQLError, GlobalIDValueError)):
        if "tokens. Parsing aborted" in error.message:  # graphql-core's lexical-token limit
            error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS"}
        return error
    if is_transient(original):
        log.warning("unavailable at %s: %r", error.path, original)
        return unavailable(error)
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        "Internal error", error.nodes, path=error.path, extensions={"code": "INTERNAL", "errorId": error_id}
    )


def _drop_tracebacks(error: BaseException) -> None:
    """`error`, its original error and every exception chained to them, without their tracebacks."""
    pending, seen = [error], set()
    while pending:
        exception = pending.pop()
        if id(exception) in seen:
            continue
        seen.add(id(exception))
        exception.__traceback__ = None
        chained = (exception.__cause__, exception.__context__, getattr(exception, "original_error", None))
        pending += [e for e in chained if isinstance(e, BaseException)]


def finish(result: Any, context: Any) -> None:
    """Make `result`'s errors what the client may see (`masked`); a retryable one makes HTTP 503."""
    errors = getattr(result, "errors", None)
    if not errors:
        return
    result.errors = [masked(error) for error in errors]
    if any((error.extensions or {}).get("code") == UNAVAILABLE for error in result.errors):
        response = getattr(context, "response", None)
        if response is not None:
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


# ---------------------------------------------------------------- HTTP: the steps straight through


class Schema(errorlog.Schema):
    """The schema, executing an operation as the module docstring says."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Any = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if not query:
            raise MissingQueryError
        limits = limits_of(context_value)
        try:
            document = parse_document(query, limits.max_lexical_tokens if limits else 0)
        except GraphQLError as error:
            return self._refused([error], context_value, query, operation_name)
        operation = _chosen(document, operation_name)
        if operation is None:
            raise CannotGetOperationTypeError(operation_name)  # graph/http.py answers it
        kind = OperationType(operation.operation.value)
        if kind not in (allowed_operation_types or ALL_OPERATION_TYPES):
            raise InvalidOperationTypeError(kind)
        if isinstance(context_value, Context):
            context_value.answer_from_sign_in(reading=kind is OperationType.QUERY)
        try:
            errors = _refusals_of_the_document(context_value, document, operation_name, variable_values, self)
        except Exception as error:  # a failure of the server, not of the request: masked by finish
            errors = [GraphQLError(str(error), original_error=error)]
        if errors:
            return self._refused(errors, context_value, query, operation_name)
        responses = _response_cache(context_value) if kind is OperationType.QUERY else None
        key = responses.key(document, operation_name, variable_values) if responses is not None else None
        tag = None
        if responses is not None and key is not None:
            # An answer is kept only for variables that coerced: a kept one needs no coercion again.
            try:
                kept = await responses.fresh(key, document)
            except Exception as error:  # the database, briefly away: answered as a failed execution is
                kept = ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])
                finish(kept, context_value)
            if kept is not None:
                return kept
            tag = responses.tag()  # before executing: every event up to it has committed, so it is seen
        # The executor coerces the variables (once: they are refused here, before the money limit counts).
        executor = self.execution_context_class.build(
            graphql_core_schema(self),
            document,
            root_value,
            context_value,
            variable_values,
            operation.name.value if operation.name else None,
            is_awaitable=is_awaitable,
            hide_suggestions=limits is not None and limits.hide_suggestions,
            operation_extensions=operation_extensions,
        )
        if isinstance(executor, list):
            return self._refused(executor, context_value, query, operation_name)
        try:
            errors = await money_refusals(context_value, document, operation_name)
        except Exception as error:  # a failure of the server, not of the request: masked by finish
            errors = [GraphQLError(str(error), original_error=error)]
        if errors:
            return self._refused(errors, context_value, query, operation_name)
        written = watch_writes()
        try:
            async with limits.admission.turn() if limits else contextlib.nullcontext():
                done = executor.execute_operation()
                if is_awaitable(done):
                    done = await done
        except Overloaded as error:  # no turn came: nothing ran
            refused = ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])
            finish(refused, context_value)
            return refused
        if isinstance(done, ExperimentalIncrementalExecutionResults):  # as graphql-core's execute refuses it
            raise GraphQLError("Executing this GraphQL operation would unexpectedly produce multiple payloads.")
        result = ExecutionResult(data=done.data, errors=done.errors)  # type: ignore[union-attr]
        if result.errors:
            errorlog.log_errors(result.errors, query=query, operation_name=operation_name)
            finish(result, context_value)
        elif responses is not None and key is not None and tag is not None:
            responses.store(key, document, tag, result.data)
        await announce_events(kind, context_value, written)
        return result

    @staticmethod
    def _refused(errors: list[GraphQLError], context: Any, query: str, operation_name: str | None) -> ExecutionResult:
        errorlog.log_errors(errors, query=query, operation_name=operation_name)
        result = PreExecutionError(data=None, errors=errors)
        finish(result, context)
        return result


async def announce_events(kind: OperationType | None, context: Any, written: Written) -> None:
    """Wake every process's hub after a mutation that wrote events (committed by now); a mutation that wrote
    none (a refusal, a replay, a deposit without an auto-lend rule) leaves the hubs asleep."""
    if kind is OperationType.MUTATION and written.events and isinstance(context, Context):
        await context.hub.bus.announce()


def _response_cache(context: Any) -> ResponseCache | None:
    """The response cache, for an HTTP request without an Authorization header (graph/response_cache.py)."""
    if not isinstance(context, Context) or context.responses is None or context.viewer is not None:
        return None
    request = context.request
    if not isinstance(request, Request) or "authorization" in request.headers:
        return None
    return context.responses


def _chosen(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation to run: the one named, or the first (a document of several is then refused)."""
    operations = (d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    if name is None:
        return next(operations, None)
    return next((o for o in operations if o.name and o.name.value == name), None)
