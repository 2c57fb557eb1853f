"""Redis down when the servers start, then started: they serve from the start, and events flow once it is up.

Two servers share the database and a private Redis that is not running yet.
Both poll the outbox only once a minute, so an event made on one reaches a
subscriber of the other in time only through Redis. Before Redis starts, both
answer queries, money mutations and subscriptions; once it is up, the
listings made on B while Redis was down, and one made after, reach A's
subscriber promptly, each once.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.client import PROMPTLY, Client, wait_for_subscribers
from tests.e2e.server import run_cli, serving
from tests.faults import load
from tests.faults.conftest import SERVER_ENV
from tests.faults.load import BROWSE, Retrying
from tests.redis_server import RedisServer, private_redis
from tests.ws import Socket

pytestmark = pytest.mark.e2e

BOUND = 60  # seconds for the whole test: a hang fails it
LISTED = """subscription($after: String) { loanListed(after: $after) { eventId loan { name } } }"""


@pytest.fixture
def stopped_redis() -> Iterator[RedisServer]:
    """A private Redis on a port of its own, not started."""
    with private_redis(started=False) as server:
        yield server


async def test_servers_start_without_redis_and_events_flow_once_it_is_up(database_url, stopped_redis):
    env = {**SERVER_ENV, "BROADCAST_URL": stopped_redis.url, "OUTBOX_POLL_INTERVAL": "60"}
    with contextlib.ExitStack() as servers:
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(servers.enter_context, [serving(database_url, env=env), serving(database_url, env=env)])
        async with asyncio.timeout(BOUND), httpx.AsyncClient(timeout=30) as http:
            # Without Redis: queries, money, listings, subscriptions all served.
            world = await load.arrange(http, b, database_url, loans=1, lenders=1)
            on_a, on_b = Retrying(http, a), Retrying(http, b)
            [token] = world.tokens.values()
            await on_a.money("deposit", load.DEPOSIT, {"input": {"amount": "25.00", "idempotencyKey": "d1"}}, token)
            assert (await on_a.data(BROWSE))["loans"]["totalCount"] == 1
            async with Socket.open(a.replace("http://", "ws://") + "/graphql") as ws:
                await ws.subscribe("listed", LISTED, {"after": "0"})
                await Client(http, b).list_loan(world.partner, "While down", "FOOD")

                await asyncio.to_thread(stopped_redis.start)
                # What B listed while Redis was down reaches A once its hub connects to Redis (A's poll
                # is a minute away).
                listed = [(await ws.next("listed", PROMPTLY))["loanListed"]["loan"]["name"] for _ in range(2)]
                assert listed == ["Loan 0", "While down"]
                await wait_for_subscribers(stopped_redis, 2)
                await Client(http, b).list_loan(world.partner, "After", "FOOD")
                assert (await ws.next("listed", PROMPTLY))["loanListed"]["loan"]["name"] == "After"
                assert await ws.nothing_for("listed", 0.3)
            assert on_a.seen.statuses.keys() == {200} and on_b.seen.statuses.keys() <= {200}
    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"
