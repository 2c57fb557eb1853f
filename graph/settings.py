"""Configuration from environment variables, with defaults that work out of the box."""

import os
from dataclasses import dataclass, field

from models.db import DEFAULT_DATABASE_URL


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


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
    # Seconds between outbox reads when no hint arrives (Redis down, say): the worst-case delay.
    outbox_poll_interval: float = 1.0
    # Live events queued per subscriber before it must catch up from the outbox instead.
    subscriber_queue_size: int = 1000
    max_subscriptions_per_connection: int = 100
    # Seconds between server pings on idle WebSockets; 0 turns them off.
    keep_alive_interval: float = 15.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            broadcast_url=env.get("BROADCAST_URL", "memory://"),
            expiry_interval=float(env.get("EXPIRY_INTERVAL", "60")),
            autolend_sweep_interval=float(env.get("AUTOLEND_SWEEP_INTERVAL", "60")),
            allowed_origins=_list(env.get("ALLOWED_ORIGINS", "")),
            graphiql=env.get("GRAPHIQL", "1") not in ("0", "false", "no"),
            outbox_poll_interval=float(env.get("OUTBOX_POLL_INTERVAL", "1")),
            subscriber_queue_size=int(env.get("SUBSCRIBER_QUEUE_SIZE", "1000")),
            max_subscriptions_per_connection=int(env.get("MAX_SUBSCRIPTIONS_PER_CONNECTION", "100")),
            keep_alive_interval=float(env.get("KEEP_ALIVE_INTERVAL", "15")),
        )
