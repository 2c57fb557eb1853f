"""What the log says about requests that fail: one bounded line per request.

strawberry logs every error of a request on its own, with the document's source
around it and any traceback (Schema.process_errors, StrawberryLogger): a 5.5 KB
document of 500 unknown directives writes about 100 KB. Here a request's errors
are one line of at most a few hundred bytes, whatever the client sent: the
operation's name, a hash of the document, how many errors, and the first
message, cut short.

Unexpected exceptions are not logged here: graph/pipeline.py masked()
logs each once, with its traceback, under the id the
client sees. Nor are rate-limit refusals: a line for each would let a client
over its limit write to the log as fast as it can send.
"""

import contextlib
import hashlib
import logging

import strawberry
from graphql import GraphQLError
from strawberry.relay import GlobalIDValueError
from strawberry.types import ExecutionContext

from graph.limits.rate import RATE_LIMITED
from lending.errors import LendingError

log = logging.getLogger("lendgraph.requests")

MESSAGE_CHARS = 300
NAME_CHARS = 80


def clip(text: str, limit: int) -> str:
    """`text` on one printable line of at most `limit` characters: no client text can forge or flood log lines."""
    line = "".join(c if c.isprintable() else " " for c in text[: limit * 4])
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def document_hash(query: str | None) -> str:
    return hashlib.sha256(query.encode("utf-8", "replace")).hexdigest()[:12] if query else "-"


def is_unexpected(error: GraphQLError) -> bool:
    """An exception that is no client's fault: the same test as graph/pipeline.py masked()'s."""
    original = error.original_error
    return original is not None and not isinstance(original, (LendingError, GraphQLError, GlobalIDValueError))


def log_refusal(status: int, reason: str, *, operation: str | None = None, query: str | None = None) -> None:
    """One line for a request refused before GraphQL ran it (bad JSON, no query, a mutation over GET, ...)."""
    log.warning(
        "HTTP %d: operation %s, document %s: %s",
        status,
        clip(operation or "-", NAME_CHARS),
        document_hash(query),
        clip(reason, MESSAGE_CHARS),
    )


def log_errors(errors: list[GraphQLError], *, query: str | None, operation_name: str | None) -> None:
    """One line for the client's errors in one result (parse, validation, limits, variables, domain errors)."""
    errors = [error for error in errors if not is_unexpected(error)]
    if any((error.extensions or {}).get("code") == RATE_LIMITED for error in errors):
        return
    if not errors:
        return
    first = errors[0]
    code = (first.extensions or {}).get("code")
    log.warning(
        "%d GraphQL error%s in operation %s, document %s: %s%s",
        len(errors),
        "" if len(errors) == 1 else "s",
        clip(operation_name or "-", NAME_CHARS),
        document_hash(query),
        f"[{clip(str(code), NAME_CHARS)}] " if code else "",
        clip(first.message, MESSAGE_CHARS),
    )


class Schema(strawberry.Schema):
    """strawberry's Schema, logging each result's errors as one bounded line (see the module docstring)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        name, query = None, None
        if execution_context is not None:
            query = execution_context.query
            with contextlib.suppress(Exception):  # a name is only a nicety in a log line
                name = execution_context.operation_name
        log_errors(errors, query=query, operation_name=name)


__all__ = ["Schema", "clip", "is_unexpected", "log_errors", "log_refusal"]
