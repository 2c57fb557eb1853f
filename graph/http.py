"""GraphQL over HTTP as the spec has it (https://graphql.github.io/graphql-over-http/draft/).

- The response's media type comes from the request's Accept header, q-values
  and wildcards included: `application/graphql-response+json` when the client
  prefers it, `application/json` when it prefers that, sends `*/*` or
  `application/*`, or sends no Accept at all (what the spec's audit suite and
  legacy clients expect). A client that accepts neither gets 406, but for a
  streaming one (`text/event-stream`, `multipart/mixed`), which gets JSON
  saying that subscriptions are served over WebSocket.
- With `application/graphql-response+json` a request error (the document does
  not parse or validate, a variable does not coerce, no operation can be
  chosen, a limit refuses it before it runs) is a response without `data`,
  400 (500 or 503 if the server failed); a response with `data`, even null, is
  200. With `application/json` the legacy statuses stay: 200 and `data: null`.
- A request that is not well-formed GraphQL over HTTP (unreadable JSON, no
  query, a parameter of the wrong type) is 400 with an `errors` body; a
  mutation over GET is 405 with `Allow: POST`.
- `Content-Type` is matched without regard to case (`Application/JSON`).

Every refusal made here is logged as one bounded line (graph/errorlog.py).
"""

import json
from collections.abc import Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from graph.context import Context
from graph.errorlog import log_refusal
from graph.limits.transport import essence
from graph.pipeline import masked
from graph.strawberry_internals import (
    AsyncHTTPRequestAdapter,
    CannotGetOperationTypeError,
    HTTPException,
    InvalidOperationTypeError,
    OperationType,
    PreExecutionError,
    StarletteRequestAdapter,
)
from models.pool import holding

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
STREAMING = ("text/event-stream", "multipart/mixed")  # subscription transports served over WebSocket instead
# Request errors caused by the server rather than the request: their status with graphql-response+json.
SERVER_ERROR_STATUS = {"INTERNAL": 500, "UNAVAILABLE": 503}
POST_OPERATIONS = OperationType.from_http("POST")
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE"}


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q-values; a range with an unreadable q is dropped."""
    ranges = []
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        if "/" not in media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = -1.0
        if q >= 0:
            ranges.append((media, q))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The q-value the client gives `media`, from its most specific matching range, and that specificity.

    RFC 9110, section 12.5.1.
    """
    kind = media.split("/", 1)[0]
    best: tuple[int, float] | None = None
    for candidate, q in ranges:
        specificity = 2 if candidate == media else 1 if candidate == f"{kind}/*" else 0 if candidate == "*/*" else -1
        if specificity >= 0 and (best is None or (specificity, q) > best):
            best = (specificity, q)
    return (0.0, -1) if best is None else (best[1], best[0])


def negotiate(accept: str | None) -> str | None:
    """The response's media type for an Accept header, or None when the client accepts neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    choices = []
    for media in (GRAPHQL_RESPONSE, JSON):
        q, specificity = _quality(media, ranges)
        if q > 0:
            # Equal q: a type named outright beats a wildcard; between two named outright the spec's
            # own type wins, and a wildcard (*/*, application/*) keeps legacy clients on application/json.
            preferred = (media == GRAPHQL_RESPONSE) if specificity == 2 else (media == JSON)
            choices.append((q, specificity, preferred, media))
    if choices:
        return max(choices)[3]
    if any(media in STREAMING for media, q in ranges if q > 0):
        # A streaming client (SSE, multipart subscriptions) gets JSON, as the spec permits, so that it
        # learns why: subscriptions are served over WebSocket (WEBSOCKET_REQUIRED), queries in JSON.
        return JSON
    return None


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def json_response(body: Any, status: int, media: str, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"))
    return Response(content, status_code=status, headers=headers, media_type=f"{media}; charset=utf-8")


class RequestAdapter(StarletteRequestAdapter):
    """strawberry matches `application/json` case-sensitively: hand it the type in lower case."""

    @property
    def content_type(self) -> str | None:
        value = super().content_type
        if value is None:
            return None
        essence, sep, params = value.partition(";")
        return essence.strip().lower() + sep + params


def media_type(request: Request) -> str:
    """The media type negotiated for this request (GraphQLOverHTTP.__call__)."""
    return getattr(request.state, "graphql_media_type", JSON)


class GraphQLOverHTTP(GraphQL[Context, None]):
    """strawberry's ASGI view, answering HTTP as the spec says (see the module docstring)."""

    request_adapter_class = RequestAdapter

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # A socket's call is strawberry's own: not awaited here, it keeps no frame of this for the socket's life.
        if scope["type"] != "http":
            return super().__call__(scope, receive, send)
        return self._over_http(scope, receive, send)

    async def _over_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        # As strawberry's GraphQL.__call__ does for HTTP, with Accept negotiated first and its
        # HTTPException (otherwise plain text, always 400) turned into a GraphQL answer.
        request = Request(scope, receive=receive)
        media = negotiate(request.headers.get("accept"))
        request.state.graphql_media_type = media or JSON
        if media is None and not self.should_render_graphql_ide(self.request_adapter_class(request)):
            message = f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}; the Accept header allows neither."
            log_refusal(406, message)
            response = json_response(error_body(message, "NOT_ACCEPTABLE"), 406, JSON)
        else:
            try:
                async with holding():  # one pooled connection for the request's statements (models/pool.py)
                    operation = await self.plain_post(request)
                    response = await (self.run(request) if operation is None else self.answer(request, operation))
            except HTTPException as error:
                response = self.refusal(error, media or JSON)
        await response(scope, receive, send)

    async def plain_post(self, request: Request) -> GraphQLRequestData | None:
        """The operation of a plain POST: a JSON object whose members are of the types the spec allows,
        from a client that does not ask for a stream. None for anything else, which strawberry's view
        answers (GET, the IDE, batches, streaming transports, and the errors of bodies it cannot use)."""
        if request.method != "POST" or essence(request.headers.get("content-type", "")) != JSON:
            return None
        accept = request.headers.get("accept", "").lower()
        if any(kind in accept for kind in STREAMING):
            return None
        try:
            data = self.decode_json(await request.body())
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if not (isinstance(query, str) and isinstance(variables, dict | None) and isinstance(extensions, dict | None)):
            return None
        if not isinstance(name, str | None):
            return None
        return GraphQLRequestData(query, variables, name or None, extensions, "http")

    async def answer(self, request: Request, operation: GraphQLRequestData) -> Response:
        """A plain POST's answer, as strawberry's view would give it (`run`, then `execute_single`), without
        the steps a plain POST does not need: about a tenth of a small mutation's CPU."""
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        try:
            result = await self.schema.execute(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=POST_OPERATIONS,
                operation_extensions=operation.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason("POST")) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        return self.create_response(await self.process_result(request, result), sub_response)

    def refusal(self, error: HTTPException, media: str) -> Response:
        """The answer to a request strawberry refused with an HTTPException.

        What refused it is only in the exception's cause (strawberry raises it `from` the error).
        """
        cause = error.__cause__
        status, reason, headers = error.status_code, error.reason, None
        if isinstance(cause, CannotGetOperationTypeError):
            # No operation of that name: a GraphQL request error, answered as validation errors are.
            log_refusal(200 if media == JSON else 400, reason, operation=cause.operation_name)
            body = error_body(reason, "OPERATION_NOT_FOUND")
            return json_response(
                {"data": None, **body} if media == JSON else body, 200 if media == JSON else 400, media
            )
        if isinstance(cause, InvalidOperationTypeError) and cause.operation_type is OperationType.MUTATION:
            status, headers = 405, {"Allow": "POST"}  # GET never runs a mutation
        log_refusal(status, reason)
        code = "BAD_REQUEST" if isinstance(cause, MissingQueryError) else _CODES.get(status, "BAD_REQUEST")
        return json_response(error_body(reason, code), status, media, headers)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request):
            sub_response.media_type = media_type(request)  # read by create_response; this object is never sent
        return sub_response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            # strawberry reads a JSON body that is not an object or a list (a string, a number, null) as if
            # it were one, and fails with AttributeError: a 500 for the client's mistake.
            try:
                body = self.decode_json(await request.get_body())
            except json.JSONDecodeError:
                body = {}  # strawberry's own answer follows
            if not isinstance(body, dict | list):
                raise HTTPException(400, "The body of a GraphQL POST must be a JSON object.")
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            if data.operation_name is not None and not isinstance(data.operation_name, str):
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null, if provided."
                )
            if data.operation_name == "":
                data.operation_name = None  # the spec: an empty operationName is no operationName
        return data

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # graph/pipeline.py has masked them; masking is idempotent, and this keeps the promise for
            # whatever else might make a result (logged once under its id).
            result.errors = [masked(error) for error in result.errors]
        response = await super().process_result(request, result)
        if media_type(request) == GRAPHQL_RESPONSE and isinstance(result, PreExecutionError):
            response.pop("data", None)  # nothing ran: a request error has no data entry
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media}; charset=utf-8"
        request_error = isinstance(response_data, dict) and "data" not in response_data
        if media == GRAPHQL_RESPONSE and not sub_response.status_code and request_error:
            errors: list[Any] = response_data.get("errors") or []  # type: ignore[union-attr]
            codes = [str((error.get("extensions") or {}).get("code")) for error in errors]
            response.status_code = max([SERVER_ERROR_STATUS.get(code, 400) for code in codes] or [400])
        return response
