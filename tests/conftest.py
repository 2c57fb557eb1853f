"""Fixtures: every API test runs against SQLite and PostgreSQL; after each, the books are checked."""

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, settings

from graph.app import create_app
from graph.settings import Settings
from graph.uvicorn_internals import SOCKET_PROTOCOL
from lending.ledger import check_books
from tests import services
from tests.api import Api
from tests.clock import FakeClock
from tests.ws import uvicorn_on_this_loop

# The suite never asserts a time: Hypothesis's checks of how long generating or running an example takes would
# (CI shares 2 cores with PostgreSQL and Redis). A test's own settings replace this list, so name too_slow there.
settings.register_profile("lendgraph", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lendgraph")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return services.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    try:
        url, name = services.create_pg_database()
    except Exception:  # any failure to reach the server means "absent"
        yield None
        return
    yield url
    services.drop_pg_database(name)


@pytest.fixture
def pg_url(pg_database: str | None) -> str:
    if pg_database is None:
        services.unavailable("PostgreSQL", services.PG_SERVER)
    return pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return services.sqlite_copy(sqlite_template, tmp_path)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextlib.asynccontextmanager
async def serve(
    url: str,
    clock: FakeClock,
    *,
    websockets: bool = False,
    ws: str = SOCKET_PROTOCOL,
    fresh: bool = True,
    **settings: Any,
) -> AsyncIterator[Api]:
    """Run the app in-process on `url`, HTTP in memory and WebSockets (if asked) on a real port.

    `ws`: uvicorn's WebSocket implementation (by default `lendgraph serve`'s). `fresh`: a PostgreSQL
    database is emptied first (False: served as the last app left it).

    The books are checked when the block ends cleanly; a failure inside it shuts the app down
    (its database connections included) before the next test starts.
    """
    if fresh and url.startswith("postgres"):
        await services.reset_pg(url)
    # Timers run by hand in tests; a per-IP limit no test reaches, since every test client is one
    # IP (tests/security tests the limits with settings of their own).
    quiet = {"expiry_interval": 0, "autolend_sweep_interval": 0, "rate_limit_per_ip": 1_000_000}
    app = create_app(Settings(database_url=url, **{**quiet, **settings}), clock=clock)
    async with Lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            if websockets:
                async with uvicorn_on_this_loop(app, ws) as ws_url:
                    yield Api(http, ws_url, app)
            else:
                yield Api(http, app=app)
        books = await check_books()
        assert books.ok, books.problems


class Lifespan(LifespanManager):
    """asgi_lifespan's manager, whose shutdown timeout says where the app was stuck."""

    async def __aexit__(self, *exc_info: Any) -> Any:
        if exc_info[0] is not None:  # the block failed: asgi_lifespan skips the shutdown, and so do we
            return await super().__aexit__(*exc_info)
        # Taken before the timeout, which cancels the stuck tasks and so hides them.
        stuck = asyncio.create_task(stacks_after(self.shutdown_timeout * 0.9))
        try:
            return await super().__aexit__(*exc_info)
        except TimeoutError as error:
            if stuck.done():
                raise AssertionError(f"the app did not stop in {self.shutdown_timeout} s:\n{stuck.result()}") from error
            raise
        finally:
            stuck.cancel()
            await asyncio.gather(stuck, return_exceptions=True)


async def stacks_after(seconds: float) -> str:
    """The innermost frames of every other task on this loop, `seconds` from now."""
    await asyncio.sleep(seconds)
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(limit=3, file=out)
    return out.getvalue()


@pytest.fixture
async def api(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """The API in-process, on a database of its own, with the ledger checked afterwards."""
    async with serve(database_url, clock) as client:
        yield client


@pytest.fixture
async def live(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """Like `api`, with WebSockets served on a real port (`live.ws_url`) for subscriptions."""
    async with serve(database_url, clock, websockets=True, outbox_poll_interval=0.2) as client:
        yield client


@pytest.fixture
async def pg_api(pg_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """The API on PostgreSQL only: for races that SQLite would hide by serialising."""
    async with serve(pg_url, clock) as client:
        yield client
