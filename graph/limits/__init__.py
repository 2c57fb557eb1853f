"""Limits: what one client may ask of the server, and how often. Each module holds one kind.

- operation.py: one GraphQL operation: its depth, aliases and cost, measured
  before it is validated, and its time while it runs (queries); with the
  lexical tokens of its document, which graphql-core counts as it parses.
- rate.py: how often: requests and operations per IP address and per API
  token, money mutations per lender, in fixed windows (the rate limiter).
  Query.rateLimit shows where a caller stands (graph/types/rate_limits.py,
  resolvers/rate_limits.py).
- admission.py: how many operations one process executes at once; the
  others wait their turn, for a bounded time.
- transport.py: what reaches GraphQL at all: HTTP bodies, WebSocket messages
  and sockets per IP address (an ASGI middleware).

graph/pipeline.py enforces the
first two for every operation, over HTTP and WebSocket alike; create_app
(graph/app.py) makes one `Limits` of the settings.
"""

from dataclasses import dataclass, field
from typing import Any

from graph.limits.admission import Admission
from graph.limits.operation import QueryLimits
from graph.limits.rate import RateLimiter


@dataclass(frozen=True)
class Limits:
    """Everything the schema extension enforces for one application (graph/pipeline.py)."""

    query: QueryLimits
    max_lexical_tokens: int  # names, punctuation and values in a document; graphql-core stops parsing beyond
    hide_suggestions: bool
    rate: RateLimiter
    introspection: bool = True
    max_query_seconds: float = 0.0
    admission: Admission = field(default_factory=lambda: Admission(0, 0))  # as many at once as come


def limits_of(context: Any) -> Limits | None:
    """The limits of the application serving this request (kept in its `state` by create_app)."""
    request = getattr(context, "request", None)
    app = request.scope.get("app") if request is not None else None
    return getattr(getattr(app, "state", None), "limits", None)


def client_ip(context: Any) -> str | None:
    client = getattr(getattr(context, "request", None), "client", None)
    return client.host if client else None
