"""The Starlette application: GraphQL over HTTP and WebSocket, and the loan expiry timer."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graph.auth import signed_in, viewer_for
from graph.browser.serving import VersionedFiles
from graph.context import Context
from graph.execution import SharedResults, result_message
from graph.graphiql import PREFIX, STATIC, GraphiQLPage
from graph.http import GraphQLOverHTTP
from graph.limits import Limits
from graph.limits.admission import Admission
from graph.limits.operation import QueryLimits
from graph.limits.rate import RATE_LIMIT_HEADERS, RateLimited, RateLimiter
from graph.limits.transport import TransportLimits
from graph.pipeline import RETRY_AFTER_SECONDS, unavailable
from graph.response_cache import ResponseCache
from graph.schema import VIEWER_FIELDS, schema
from graph.settings import Settings
from graph.uvicorn_internals import WireCapture
from graph.webapp import webapp_routes
from graph.websocket import KeepAlive, LegacyWSHandler, TransportWSHandler
from lending import autolend, matchers
from lending.loans import expire_loans
from models import db
from models.db import is_transient
from models.pool import let_go
from subscriptions.bus import EventBus
from subscriptions.hub import Hub

log = logging.getLogger("lendgraph")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LendGraphQL(GraphQLOverHTTP):
    """The GraphQL endpoint, over WebSocket and over HTTP (answered as graph/http.py says)."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, settings: Settings, clock: Clock, hub: Hub, limits: Limits) -> None:
        init_timeout = settings.ws_connection_init_timeout
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            allowed_origins=settings.allowed_origins,
            keep_alive=settings.keep_alive_interval > 0,
            keep_alive_interval=settings.keep_alive_interval,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection or None,
            # graphql-transport-ws: a socket that sends no connection_init in time is closed with 4408.
            connection_init_wait_timeout=timedelta(seconds=init_timeout) if init_timeout > 0 else timedelta(days=365),
        )
        self.clock = clock
        self.hub = hub
        self.limits = limits
        self.rate = limits.rate
        self.shared = SharedResults(VIEWER_FIELDS)
        # Answers to public reads, kept until an event about a loan commits (graph/response_cache.py).
        self.responses = (
            ResponseCache(schema, VIEWER_FIELDS, hub, settings.response_cache_size, settings.response_cache_bytes)
            if settings.response_cache_size > 0
            else None
        )
        # graphql-transport-ws pings, from one timer for every socket (strawberry keeps only graphql-ws alive).
        self.pings = KeepAlive(settings.keep_alive_interval) if settings.keep_alive_interval > 0 else None
        # Our own GraphiQL page (graph/graphiql), in place of strawberry's, which loads it from a CDN.
        self.graphiql = GraphiQLPage() if settings.graphiql else None

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # A socket's call is strawberry's own: not awaited here, it keeps no frame of this for the socket's life.
        if scope["type"] != "http":
            return super().__call__(scope, receive, send)
        return self._answered(scope, receive, send)

    async def _answered(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except RateLimited as limited:  # raised by get_context, before anything was sent
            body = {"errors": [limited.error.formatted]}
            await JSONResponse(body, status_code=429, headers=limited.headers)(scope, receive, send)
        except Exception as error:
            # The token is looked up before any resolver runs: a database restarting then is a
            # retryable 503 in GraphQL's shape, not a bare "Internal Server Error".
            if not is_transient(error):
                raise
            log.warning("unavailable before execution: %r", error)
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            await JSONResponse({"errors": [unavailable().formatted]}, 503, headers)(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        # Reached only when graphql_ide is set, that is with settings.graphiql on.
        assert self.graphiql is not None
        return self.graphiql.response(request)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # Over WebSocket strawberry passes the socket as the response: an HTTP response only over HTTP.
        http_response = response if isinstance(response, Response) else None
        http = not isinstance(request, WebSocket)
        ip = request.client.host if request.client else None
        # An HTTP request counts against its IP before the token is even looked up, then against its
        # token; over either limit it gets 429 (RateLimited). WebSocket operations are counted one
        # by one in graph/extensions.py OperationSteps.
        by_ip = await self.rate.check([self.rate.ip(ip)]) if http else []
        found = await signed_in(request.headers.get("authorization"), self.clock())
        viewer = found.viewer if found is not None else None
        if http:
            by_token = await self.rate.check([self.rate.token(viewer)])
            # X-RateLimit-* headers for the bucket Query.rateLimit shows: the token's, or the IP's without one.
            shown = by_token if viewer is not None else by_ip
            if shown and http_response is not None:
                http_response.headers.update(shown[0].headers())
        return Context(
            request=request,
            response=http_response,
            viewer=viewer,
            clock=self.clock,
            hub=self.hub,
            shared=self.shared,
            limits=self.limits,
            responses=self.responses if http else None,
            signed_in=found if http else None,  # a socket's context outlives what the lookup read
        )

    def encode_json(self, data: object) -> str | bytes:
        # A kept answer to a public read was encoded once, when it was kept (graph/response_cache.py).
        if (kept := ResponseCache.encoded(data)) is not None:
            return kept
        # A subscription result shared by many subscribers is encoded once (graph/execution.py).
        if isinstance(data, dict) and data.get("type") in ("next", "data"):
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                text = self.shared.encoded(payload["data"])
                if text is not None:
                    return result_message(data["id"], data["type"], text)
        return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        # JSON that Python cannot turn into values (an integer of more than 4,300 digits, arrays nested
        # thousands deep) is a bad request (HTTP 400, WebSocket 4400), not a server error.
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as error:
            raise json.JSONDecodeError(f"Unreadable JSON ({type(error).__name__})", "", 0) from error

    async def on_ws_connect(self, context: Context) -> None:
        # The token comes in connection_init. A missing or bad one leaves the socket anonymous:
        # public streams work, myEvents answers with a clear error.
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if isinstance(authorization, str):
            context.viewer = await viewer_for(authorization, self.clock())


class GraphQLShortcut:
    """ASGI middleware: a WebSocket to /graphql, and a POST to it without an Origin header (a client that is
    no browser), go straight to `endpoint` (the GraphQL endpoint within the transport limits), past the other
    HTTP middleware and the router.

    A socket's ASGI call lasts as long as the socket: each layer it passes keeps a frame, and some a
    closure or a request object, in memory all that time, on every idle subscriber's connection. A POST
    without an Origin has nothing to do with CORS (which answers browsers only), and the router would only
    find the same endpoint: the layers cost a small request a twentieth of its CPU. A browser's request,
    and every other, takes the whole way.
    """

    def __init__(self, app: ASGIApp, endpoint: ASGIApp, path: str = "/graphql") -> None:
        self.app, self.endpoint, self.path = app, endpoint, path
        # A socket's Wire first, for writing live events straight to it (graph/fanout.py).
        self.sockets = WireCapture(endpoint)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Returns the call it passes on, unawaited: a frame of its own would stay for the socket's life too.
        kind = scope["type"]
        if kind != "lifespan" and scope["path"] == self.path:
            if kind == "websocket":
                return self.sockets(scope, receive, send)
            if kind == "http" and scope["method"] == "POST" and not _from_a_browser(scope):
                return self.endpoint(scope, receive, send)
        return self.app(scope, receive, send)


def _from_a_browser(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


async def every(interval: float, job: Callable[[], Awaitable[object]], bus: EventBus) -> None:
    """Run `job` every `interval` seconds; announce the events it may have written."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await job():
                await bus.announce()
        except Exception:  # the timer must outlive a failed run (a dropped connection, say)
            log.exception("periodic %s failed", getattr(job, "__name__", job))


async def build_indexes(hub: Hub) -> None:
    """Read the match indexes once the hub knows where it starts reading: it hands them every change after.

    Not awaited by start-up, which a transaction left open elsewhere would hold (the hub waits for those);
    until then a listing builds the index it needs itself (lending.matchers).
    """
    await hub.ready()
    try:
        await matchers.build()
    except Exception:  # the first listing builds it then
        log.exception("building the match indexes failed")


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Starlette:
    """Build the application; `clock` lets tests move time."""
    settings = settings or Settings.from_env()
    bus = EventBus(settings.broadcast_url)
    hub = Hub(
        bus,
        poll_interval=settings.outbox_poll_interval,
        inbox_size=settings.subscriber_queue_size,
        observers=[matchers.heard],
    )
    rate = RateLimiter.from_settings(settings, clock)
    limits = Limits(
        query=QueryLimits(
            max_depth=settings.max_query_depth, max_aliases=settings.max_aliases, max_cost=settings.max_query_cost
        ),
        max_lexical_tokens=settings.max_lexical_tokens,
        hide_suggestions=settings.production,
        rate=rate,
        introspection=settings.introspection,
        max_query_seconds=settings.max_query_seconds,
        # An operation waiting for its turn gives back the connection its request kept (models/pool.py).
        admission=Admission(settings.max_concurrent_operations, settings.max_query_seconds, before_waiting=let_go),
    )
    graphql = LendGraphQL(settings, clock, hub, limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.connect(settings.database_url)
        await bus.connect()
        await hub.start()
        indexes = asyncio.create_task(build_indexes(hub))
        jobs = [
            (settings.expiry_interval, lambda: expire_loans(clock())),
            (settings.autolend_sweep_interval, lambda: autolend.sweep(clock())),
        ]
        timers = [asyncio.create_task(every(interval, job, bus)) for interval, job in jobs if interval > 0]
        try:
            yield
        finally:
            for timer in [*timers, indexes]:
                timer.cancel()
            await hub.stop()
            await bus.disconnect()
            await rate.close()
            await db.disconnect()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    routes: list[Any] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        # Reached by a browser's POST, a GET, and a socket under a root path: GraphQLShortcut takes the rest.
        WebSocketRoute("/graphql", graphql),
        Route("/health", health),
        Route("/", home),
    ]
    if settings.graphiql:
        routes.append(Mount(PREFIX, app=VersionedFiles(STATIC)))
    if settings.webapp:
        routes += webapp_routes()
    if settings.memory_stats_dir:
        from graph import memory_stats

        stats = memory_stats.endpoint(settings.memory_stats_dir, hub, graphql.shared, rate, graphql.responses)
        routes.append(Route("/debug/memory", stats))

    def limited(app: ASGIApp) -> TransportLimits:
        return TransportLimits(
            app,
            max_body_bytes=settings.max_body_bytes,
            max_ws_message_bytes=settings.max_ws_message_bytes,
            max_ws_connections_per_ip=settings.max_ws_connections_per_ip,
        )

    # Browsers on ALLOWED_ORIGINS may call the API (WebSockets are checked by LendGraphQL). Credentials
    # travel in the Authorization header, never in cookies, so no other site can ride a user's session.
    cors = Middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After", *RATE_LIMIT_HEADERS],
        max_age=600,
    )
    shortcut = Middleware(GraphQLShortcut, endpoint=limited(graphql))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[shortcut, cors, Middleware(limited)])
    app.state.graphql = graphql
    # Resolvers read the limits from their Context; graph.limits.limits_of, from here.
    app.state.limits = limits
    return app
