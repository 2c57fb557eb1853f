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
    allowed_origins: list[str] = field(default_factory=list)
    graphiql: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            broadcast_url=env.get("BROADCAST_URL", "memory://"),
            expiry_interval=float(env.get("EXPIRY_INTERVAL", "60")),
            allowed_origins=_list(env.get("ALLOWED_ORIGINS", "")),
            graphiql=env.get("GRAPHIQL", "1") not in ("0", "false", "no"),
        )
