"""What a GraphQL-over-WebSocket message must look like, and which documents a socket may run.

Checked as the graphql-ws reference server checks them, on both protocols
(graph/websocket.py closes the socket with 4400 on a malformed message).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, get_operation_ast
from graphql import OperationType as GraphQLOperationType

from graph.context import Context
from graph.documents import parse_document, shared_text
from graph.limits import limits_of


def _object_or_null(value: object) -> bool:
    return value is None or isinstance(value, dict)


def _id_problem(message: Mapping[str, Any]) -> str | None:
    value = message.get("id")
    return None if isinstance(value, str) and value else "The id must be a non-empty string"


def _payload_problem(payload: object) -> str | None:
    """Why a subscribe (start) payload is malformed, or None."""
    if not isinstance(payload, dict):
        return "The payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "The payload's query must be a string"
    if not _object_or_null(payload.get("variables")):
        return "The payload's variables must be an object or null"
    if not _object_or_null(payload.get("extensions")):
        return "The payload's extensions must be an object or null"
    name = payload.get("operationName")
    if name is not None and not isinstance(name, str):
        return "The payload's operationName must be a string or null"
    return None


@dataclass(frozen=True)
class Protocol:
    start: str  # the type that starts an operation
    stop: str  # the type that stops one
    with_payload: tuple[str, ...]  # other types whose payload, if any, is an object


TRANSPORT = Protocol("subscribe", "complete", ("connection_init", "ping", "pong"))
LEGACY = Protocol("start", "stop", ("connection_init",))


def message_problem(message: object, protocol: Protocol) -> str | None:
    """Why a message is malformed, or None. Unknown types are left to the protocol's handler."""
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string type"
    if kind == protocol.start:
        return _id_problem(message) or _payload_problem(message.get("payload"))
    if kind == protocol.stop:
        return _id_problem(message)
    if kind in protocol.with_payload and not _object_or_null(message.get("payload")):
        return f"The {kind} payload must be an object or null"
    return None


def share_text(message: dict[str, Any], protocol: Protocol) -> None:
    """Replace a well-formed start message's query by the one copy kept of equal texts (graph/documents.py)."""
    if message["type"] == protocol.start:
        payload = message["payload"]
        payload["query"] = shared_text(payload["query"])


def operation_problem(
    context: Context, query: str, operation_name: str | None, *, subscriptions_only: bool = False
) -> GraphQLError | None:
    """The error for a document that names no operation to run (or, on graphql-ws, no subscription).

    Strawberry would raise these as exceptions, which reach a WebSocket client
    as internal errors. A document that does not parse is left to the schema,
    whose error (with its code, say TOO_MANY_TOKENS) the handler sends.
    """
    if not query:
        return GraphQLError("No GraphQL query found in the request", extensions={"code": "BAD_REQUEST"})
    limits = limits_of(context)
    try:
        document = parse_document(query, limits.max_lexical_tokens if limits else 0)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None:  # the messages and codes of HTTP (graph/http.py)
        if operation_name is not None:
            message, code = f'Unknown operation named "{operation_name}".', "OPERATION_NOT_FOUND"
        elif any(isinstance(definition, OperationDefinitionNode) for definition in document.definitions):
            message, code = (
                "Must provide operation name if query contains multiple operations.",
                "OPERATION_NAME_REQUIRED",
            )
        else:
            message, code = "Must provide an operation.", "OPERATION_NOT_FOUND"
        return GraphQLError(message, extensions={"code": code})
    if subscriptions_only and operation.operation is not GraphQLOperationType.SUBSCRIPTION:
        return GraphQLError(
            "graphql-ws serves subscriptions only: send queries and mutations over HTTP or graphql-transport-ws.",
            extensions={"code": "BAD_REQUEST"},
        )
    return None
