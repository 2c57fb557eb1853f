"""Database configuration, start-up and migrations."""

import os

from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as run_migrations

APP_LABEL = "lendgraph"
MODEL_MODULES = ["models.partners", "models.lenders", "models.loans", "models.ledger", "models.events", "models.autolend"]
DEFAULT_DATABASE_URL = "sqlite://lendgraph.sqlite3"


def tortoise_config(database_url: str) -> dict:
    return {
        "connections": {"default": database_url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def connect(database_url: str) -> None:
    # Tortoise caches compiled INSERTs by connection name, not by dialect: a process that
    # reconnects to another kind of database (the test suite does) must start afresh.
    EXECUTOR_CACHE.clear()
    # The global fallback lets request tasks reach connections opened in the lifespan task.
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def disconnect() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply every committed migration to the database at `database_url`."""
    await run_migrations(config=tortoise_config(database_url))


# Read by the `tortoise` command line (`make migrations`), not by the application.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
