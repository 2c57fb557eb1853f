"""Configuration from environment variables, with defaults that work out of the box."""

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

from models.db import DEFAULT_DATABASE_URL


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    broadcast_url: str = "memory://"
    # Seconds between sweeps that expire loans past their deadline; 0 turns the sweep off.
    expiry_interval: float = 60.0
    # Seconds between auto-lend sweeps (idle thresholds crossed, pauses ended); 0 turns them off.
    autolend_sweep_interval: float = 60.0
    allowed_origins: list[str] = field(default_factory=list)
    graphiql: bool = True
    # The lender web app at /app (graph/webapp); WEBAPP=0 turns it off.
    webapp: bool = True
    # Seconds between outbox reads when no hint arrives (Redis down, say): the worst-case delay.
    outbox_poll_interval: float = 1.0
    # Live events queued per subscriber before it must catch up from the outbox instead.
    subscriber_queue_size: int = 1000
    max_subscriptions_per_connection: int = 100
    # Seconds between server pings on idle WebSockets; 0 turns them off.
    keep_alive_interval: float = 15.0
    # WebSocket permessage-deflate for clients that ask for it (browsers always do). Off: it doubled the
    # memory of an idle subscribed socket (81 KB against 40 KB, README "Settings") and would compress
    # every event once per subscriber, where a shared frame is sent as it is; events are small JSON.
    ws_per_message_deflate: bool = False
    # A serving process collects young objects every this many allocations (graph/runtime.py); 0 keeps Python's 700.
    gc_threshold: int = 50_000
    # Answers to public reads kept in memory (graph/response_cache.py): at most this many (0: none kept),
    # and at most this many bytes of their JSON.
    response_cache_size: int = 1000
    response_cache_bytes: int = 32 * 1024 * 1024

    # --- Security limits (README "Security"). For every count, 0 turns that limit off.
    # Production: error messages carry no "Did you mean ...?" schema hints; GraphiQL is off unless GRAPHIQL=1.
    production: bool = False
    # Schema introspection (__schema, __type). On by default, in production too: this is an open API
    # and clients generate their types from it. INTROSPECTION=0 refuses it, with code INTROSPECTION_DISABLED.
    introspection: bool = True
    # Bytes in an HTTP request body; larger bodies get 413 before anything parses them.
    max_body_bytes: int = 64 * 1024
    # Fields on the deepest path of an operation (introspection not counted).
    max_query_depth: int = 15
    # Aliased fields in an operation, fragments expanded.
    max_aliases: int = 15
    # Lexical tokens in a document (graphql-core stops parsing beyond it).
    max_lexical_tokens: int = 2000  # MAX_QUERY_TOKENS
    # Objects an operation may ask for: each object field counts once per item its enclosing
    # connections may return (`first`, 20 by default), plain lists count 10 items.
    max_query_cost: int = 10_000
    # Seconds a query may run before it is stopped (QUERY_TIMEOUT); mutations are never cut halfway.
    max_query_seconds: float = 10.0
    # Operations one process executes at once (0: no limit); the others wait for a turn at most
    # max_query_seconds, then get UNAVAILABLE (graph/limits/admission.py).
    max_concurrent_operations: int = 32
    # Seconds a WebSocket may stay open without `connection_init` (graphql-transport-ws): then 4408.
    ws_connection_init_timeout: float = 10.0
    # Bytes in one WebSocket message; a larger one closes the socket with 1009.
    max_ws_message_bytes: int = 64 * 1024
    # Open WebSockets per client IP in this process; the next handshake gets HTTP 403.
    max_ws_connections_per_ip: int = 100
    # Rate limits: fixed windows of `rate_limit_window` seconds, counted in Redis when
    # `rate_limit_url` (or else `broadcast_url`) is redis://, in this process's memory otherwise.
    rate_limit_url: str | None = None
    rate_limit_window: int = 60
    rate_limit_per_ip: int = 6000  # every HTTP request and WebSocket operation from one IP
    rate_limit_per_token: int = 1200  # every request and operation made with one token
    rate_limit_money_per_lender: int = 60  # deposit, withdraw and lend fields, all of a lender's tokens together
    rate_limit_key_prefix: str = "lendgraph:rl:"
    # GET /debug/memory (graph/memory_stats.py) and where its tracemalloc snapshots go; unset: no such route.
    memory_stats_dir: str | None = None

    @property
    def rate_limit_store(self) -> str:
        """Where rate-limit counters live: a redis:// URL, or memory:// (this process only)."""
        if self.rate_limit_url:
            return self.rate_limit_url
        if urlparse(self.broadcast_url).scheme in ("redis", "rediss"):
            return self.broadcast_url
        return "memory://"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        production = _flag(env.get("PRODUCTION", "0"))
        return cls(
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            broadcast_url=env.get("BROADCAST_URL", "memory://"),
            expiry_interval=float(env.get("EXPIRY_INTERVAL", "60")),
            autolend_sweep_interval=float(env.get("AUTOLEND_SWEEP_INTERVAL", "60")),
            allowed_origins=_list(env.get("ALLOWED_ORIGINS", "")),
            graphiql=_flag(env.get("GRAPHIQL", "0" if production else "1")),
            webapp=_flag(env.get("WEBAPP", "1")),
            outbox_poll_interval=float(env.get("OUTBOX_POLL_INTERVAL", "1")),
            subscriber_queue_size=int(env.get("SUBSCRIBER_QUEUE_SIZE", "1000")),
            response_cache_size=int(env.get("RESPONSE_CACHE_SIZE", str(cls.response_cache_size))),
            response_cache_bytes=int(env.get("RESPONSE_CACHE_BYTES", str(cls.response_cache_bytes))),
            max_subscriptions_per_connection=int(env.get("MAX_SUBSCRIPTIONS_PER_CONNECTION", "100")),
            keep_alive_interval=float(env.get("KEEP_ALIVE_INTERVAL", "15")),
            ws_per_message_deflate=_flag(env.get("WS_PER_MESSAGE_DEFLATE", "0")),
            gc_threshold=int(env.get("GC_THRESHOLD", str(cls.gc_threshold))),
            production=production,
            introspection=_flag(env.get("INTROSPECTION", "1")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_query_depth=int(env.get("MAX_QUERY_DEPTH", str(cls.max_query_depth))),
            max_aliases=int(env.get("MAX_ALIASES", str(cls.max_aliases))),
            max_lexical_tokens=int(env.get("MAX_QUERY_TOKENS", str(cls.max_lexical_tokens))),
            max_query_cost=int(env.get("MAX_QUERY_COST", str(cls.max_query_cost))),
            max_query_seconds=float(env.get("MAX_QUERY_SECONDS", str(cls.max_query_seconds))),
            max_concurrent_operations=int(env.get("MAX_CONCURRENT_OPERATIONS", str(cls.max_concurrent_operations))),
            ws_connection_init_timeout=float(
                env.get("WS_CONNECTION_INIT_TIMEOUT", str(cls.ws_connection_init_timeout))
            ),
            max_ws_message_bytes=int(env.get("MAX_WS_MESSAGE_BYTES", str(cls.max_ws_message_bytes))),
            max_ws_connections_per_ip=int(env.get("MAX_WS_CONNECTIONS_PER_IP", str(cls.max_ws_connections_per_ip))),
            rate_limit_url=env.get("RATE_LIMIT_URL") or None,
            rate_limit_window=int(env.get("RATE_LIMIT_WINDOW", str(cls.rate_limit_window))),
            rate_limit_per_ip=int(env.get("RATE_LIMIT_PER_IP", str(cls.rate_limit_per_ip))),
            rate_limit_per_token=int(env.get("RATE_LIMIT_PER_TOKEN", str(cls.rate_limit_per_token))),
            rate_limit_money_per_lender=int(
                env.get("RATE_LIMIT_MONEY_PER_LENDER", str(cls.rate_limit_money_per_lender))
            ),
            rate_limit_key_prefix=env.get("RATE_LIMIT_KEY_PREFIX", cls.rate_limit_key_prefix),
            memory_stats_dir=env.get("MEMORY_STATS_DIR") or None,
        )
