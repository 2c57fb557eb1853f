"""The Starlette application: GraphQL over HTTP and WebSocket, and the loan expiry timer."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graph.auth import viewer_for
from graph.context import Context
from graph.execution import SharedResults
from graph.schema import schema
from graph.settings import Settings
from lending import autolend
from lending.loans import expire_loans
from models import db
from subscriptions.bus import EventBus
from subscriptions.hub import Hub

log = logging.getLogger("lendgraph")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LendGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, clock: Clock, hub: Hub) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            allowed_origins=settings.allowed_origins,
            keep_alive=settings.keep_alive_interval > 0,
            keep_alive_interval=settings.keep_alive_interval,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.clock = clock
        self.hub = hub
        self.shared = SharedResults()

    async def get_context(self, request: Request | WebSocket, response: Response | None = None) -> Context:
        viewer = await viewer_for(request.headers.get("authorization"), self.clock())
        return Context(
            request=request, response=response, viewer=viewer, clock=self.clock, hub=self.hub, shared=self.shared
        )

    def encode_json(self, data: object) -> str | bytes:
        # A subscription result shared by many subscribers is encoded once (graph/execution.py).
        if isinstance(data, dict) and data.get("type") in ("next", "data"):
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                text = self.shared.encoded(payload["data"])
                if text is not None:
                    return f'{{"id":{json.dumps(data["id"])},"type":"{data["type"]}","payload":{{"data":{text}}}}}'
        return super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> None:
        # The token comes in connection_init. A missing or bad one leaves the socket anonymous:
        # public streams work, myEvents answers with a clear error.
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if isinstance(authorization, str):
            context.viewer = await viewer_for(authorization, self.clock())


async def every(interval: float, job: Callable[[], Awaitable[object]], bus: EventBus) -> None:
    """Run `job` every `interval` seconds; announce the events it may have written."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await job():
                await bus.announce()
        except Exception:  # the timer must outlive a failed run (a dropped connection, say)
            log.exception("periodic %s failed", getattr(job, "__name__", job))


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Starlette:
    """Build the application; `clock` lets tests move time."""
    settings = settings or Settings.from_env()
    bus = EventBus(settings.broadcast_url)
    hub = Hub(bus, poll_interval=settings.outbox_poll_interval, inbox_size=settings.subscriber_queue_size)
    graphql = LendGraphQL(settings, clock, hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.connect(settings.database_url)
        await bus.connect()
        await hub.start()
        jobs = [
            (settings.expiry_interval, lambda: expire_loans(clock())),
            (settings.autolend_sweep_interval, lambda: autolend.sweep(clock())),
        ]
        timers = [asyncio.create_task(every(interval, job, bus)) for interval, job in jobs if interval > 0]
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()
            await hub.stop()
            await bus.disconnect()
            await db.disconnect()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    routes: list[Any] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/health", health),
        Route("/", home),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.graphql = graphql
    return app
