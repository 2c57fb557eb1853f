"""OWASP GraphQL cheat sheet, "DoS Prevention: Rate Limiting": per IP, per token and per lender for money.

Counted in memory, or shared by every worker through Redis.

Over a limit, HTTP answers 429 with Retry-After and a GraphQL-shaped body whose
error has extensions.code RATE_LIMITED; a WebSocket operation gets an `error`
message with the same error and the socket lives on. Windows follow the app's
clock, so these tests move a FakeClock instead of waiting.
"""

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from graph.app import create_app
from graph.settings import Settings
from tests import services
from tests.api import Api, new_key
from tests.conftest import serve
from tests.e2e.server import run_cli, serving
from tests.security.calls import assert_rate_limited, balance, bearer
from tests.ws import Socket, free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUERY = {"query": "{ loans { totalCount } }"}
ME = {"query": "{ me { balance } }"}
DEPOSIT = "mutation($input: DepositInput!) { deposit(input: $input) { __typename } }"
LEND = "mutation($input: LendInput!) { lend(input: $input) { __typename } }"
RATE = (
    "{ rateLimit { bucket limit used remaining resetAt windowSeconds } moneyRateLimit { bucket limit used remaining } }"
)


def deposit_body(amount: str = "10.00") -> dict:
    return {"query": DEPOSIT, "variables": {"input": {"amount": amount, "idempotencyKey": new_key()}}}


@contextlib.asynccontextmanager
async def client_from(app, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the same app from another client address."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def second_token(api: Api, token: str, scopes: list[str]) -> str:
    body = await api.data(
        """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
             __typename ... on CreateApiTokenSuccess { token } } }""",
        {"input": {"name": "bot", "scopes": scopes}},
        token,
    )
    return body["createApiToken"]["token"]


# ---------------------------------------------------------------- per IP


async def test_requests_over_the_ip_limit_get_429_with_retry_after(database_url, clock):
    async with serve(database_url, clock, rate_limit_per_ip=6) as api:
        _, token = await api.funded_lender("100.00")  # 2 requests
        for remaining in (3, 2, 1, 0):
            response = await api.http.post("/graphql", json=QUERY)
            assert response.status_code == 200, response.text
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)
            assert response.headers["X-RateLimit-Resource"] == "IP"
        clock.advance(seconds=15)  # the window (12:00:00 to 12:01:00) ends in 45 s
        assert_rate_limited(await api.http.post("/graphql", json=QUERY), "IP", 45)
        # Over the limit nothing runs, a token does not help, and refused requests count too.
        assert_rate_limited(await api.http.post("/graphql", json=deposit_body(), headers=bearer(token)), "IP", 45)
        # Another address has its own bucket.
        async with client_from(api.app, "203.0.113.7") as other:
            assert (await other.post("/graphql", json=QUERY)).status_code == 200
        # The next window starts afresh.
        clock.advance(seconds=45)
        assert await balance(api, token) == "100.00"


# ---------------------------------------------------------------- per token


async def test_each_token_has_its_own_limit(database_url, clock):
    async with serve(database_url, clock, rate_limit_per_token=3) as api:
        _, ada = await api.register("Ada")
        _, bob = await api.register("Bob")
        for remaining in (2, 1, 0):
            response = await api.http.post("/graphql", json=ME, headers=bearer(ada))
            assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == str(remaining)
            assert response.headers["X-RateLimit-Resource"] == "TOKEN"
        assert_rate_limited(await api.http.post("/graphql", json=ME, headers=bearer(ada)), "TOKEN", 60)
        assert (await api.http.post("/graphql", json=ME, headers=bearer(bob))).status_code == 200
        assert (await api.http.post("/graphql", json=QUERY)).status_code == 200  # anonymous: the IP's bucket
        clock.advance(seconds=60)
        assert (await api.http.post("/graphql", json=ME, headers=bearer(ada))).status_code == 200


# ---------------------------------------------------------------- money per lender


async def test_money_mutations_are_limited_per_lender_across_its_tokens(database_url, clock):
    async with serve(database_url, clock, rate_limit_money_per_lender=3) as api:
        _, ada = await api.register("Ada")
        ada_bot = await second_token(api, ada, ["lend", "portfolio:read"])
        _, bob = await api.register("Bob")
        for token in (ada, ada_bot, ada):
            response = await api.http.post("/graphql", json=deposit_body(), headers=bearer(token))
            assert response.status_code == 200 and response.json()["data"]["deposit"]["__typename"] == "DepositSuccess"
        response = await api.http.post("/graphql", json=deposit_body(), headers=bearer(ada_bot))
        assert_rate_limited(response, "LENDER_MONEY", 60)
        assert response.json()["data"] is None
        assert await balance(api, ada) == "30.00"  # the refused deposit moved nothing; reads go on
        bob_deposit = await api.http.post("/graphql", json=deposit_body(), headers=bearer(bob))
        assert bob_deposit.status_code == 200  # another lender's money is counted apart
        clock.advance(seconds=60)
        assert (await api.http.post("/graphql", json=deposit_body(), headers=bearer(ada_bot))).status_code == 200
        assert await balance(api, ada) == "40.00"


async def test_a_bot_cannot_fund_a_hot_loan_faster_than_the_published_rate(database_url, clock):
    from tests.api import partner_token

    async with serve(database_url, clock, rate_limit_money_per_lender=5) as api:
        _, bot = await api.funded_lender("500.00")  # one money mutation
        tokens = [bot] + [await second_token(api, bot, ["lend"]) for _ in range(2)]
        loan = await api.loan_id(await partner_token())

        async def lend(index: int) -> httpx.Response:
            body = {
                "query": LEND,
                "variables": {"input": {"loanId": loan, "amount": "25.00", "idempotencyKey": new_key()}},
            }
            return await api.http.post("/graphql", json=body, headers=bearer(tokens[index % 3]))

        responses = await asyncio.gather(*(lend(i) for i in range(12)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 4 + [429] * 8, statuses
        assert all(r.json()["data"]["lend"]["__typename"] == "LendSuccess" for r in responses if r.status_code == 200)
        funded = await api.data("query($id: ID!) { loan(id: $id) { fundedAmount lenderCount } }", {"id": loan})
        assert funded["loan"] == {"fundedAmount": "100.00", "lenderCount": 1}


# ---------------------------------------------------------------- readable usage


async def test_the_caller_can_read_its_limits_and_usage(database_url, clock):
    settings = {"rate_limit_per_ip": 100, "rate_limit_per_token": 50, "rate_limit_money_per_lender": 10}
    async with serve(database_url, clock, **settings) as api:
        first = await api.data(RATE)
        assert first == {
            "rateLimit": {
                "bucket": "IP", "limit": 100, "used": 1, "remaining": 99,
                "resetAt": "2026-03-02T12:01:00+00:00", "windowSeconds": 60,
            },
            "moneyRateLimit": None,
        }  # fmt: skip
        assert (await api.data(RATE))["rateLimit"]["used"] == 2

        _, ada = await api.funded_lender("100.00")  # register (IP) and deposit (token 1, money 1)
        response = await api.http.post("/graphql", json={"query": RATE}, headers=bearer(ada))
        data = response.json()["data"]
        assert data["rateLimit"] | {"resetAt": None} == {
            "bucket": "TOKEN", "limit": 50, "used": 2, "remaining": 48, "resetAt": None, "windowSeconds": 60,
        }  # fmt: skip
        assert data["moneyRateLimit"] == {"bucket": "LENDER_MONEY", "limit": 10, "used": 1, "remaining": 9}
        assert response.headers["X-RateLimit-Limit"] == "50"
        assert response.headers["X-RateLimit-Used"] == "2" and response.headers["X-RateLimit-Remaining"] == "48"
        assert response.headers["X-RateLimit-Reset"] == str(int(clock.now.timestamp()) + 60)

        clock.advance(seconds=61)  # a new window
        data = (await api.http.post("/graphql", json={"query": RATE}, headers=bearer(ada))).json()["data"]
        assert data["rateLimit"]["used"] == 1 and data["rateLimit"]["resetAt"] == "2026-03-02T12:02:00+00:00"
        assert data["moneyRateLimit"]["used"] == 0


async def test_a_limit_set_to_zero_is_off(database_url, clock):
    async with serve(database_url, clock, rate_limit_per_ip=0, rate_limit_money_per_lender=0) as api:
        response = await api.http.post("/graphql", json={"query": RATE})
        assert response.json()["data"] == {"rateLimit": None, "moneyRateLimit": None}
        assert "X-RateLimit-Limit" not in response.headers


def test_defaults_and_where_counters_live():
    defaults = Settings()
    assert (defaults.rate_limit_window, defaults.rate_limit_per_ip) == (60, 6000)
    assert (defaults.rate_limit_per_token, defaults.rate_limit_money_per_lender) == (1200, 60)
    assert defaults.rate_limit_store == "memory://"
    # Redis when configured, reusing BROADCAST_URL when it is Redis, unless RATE_LIMIT_URL says otherwise.
    assert Settings.from_env({"BROADCAST_URL": "redis://r:6379/0"}).rate_limit_store == "redis://r:6379/0"
    env = {"BROADCAST_URL": "redis://r:6379/0", "RATE_LIMIT_URL": "memory://"}
    assert Settings.from_env(env).rate_limit_store == "memory://"
    env = {"RATE_LIMIT_URL": "redis://q:6379/1", "RATE_LIMIT_PER_IP": "7", "RATE_LIMIT_PER_TOKEN": "8",
           "RATE_LIMIT_MONEY_PER_LENDER": "9", "RATE_LIMIT_WINDOW": "10"}  # fmt: skip
    configured = Settings.from_env(env)
    assert configured.rate_limit_store == "redis://q:6379/1"
    assert (configured.rate_limit_per_ip, configured.rate_limit_per_token) == (7, 8)
    assert (configured.rate_limit_money_per_lender, configured.rate_limit_window) == (9, 10)


# ---------------------------------------------------------------- WebSocket operations


async def test_websocket_operations_are_counted_and_refused_one_by_one(database_url, clock):
    settings = {"rate_limit_per_token": 3, "rate_limit_per_ip": 5, "rate_limit_money_per_lender": 1}
    async with serve(database_url, clock, websockets=True, **settings) as api:
        _, ada = await api.register("Ada")  # 1 request from this IP (HTTP)
        async with Socket.open(api.ws_url, token=ada) as ws:
            await ws.subscribe("d1", DEPOSIT, deposit_body()["variables"])
            assert (await ws.next("d1"))["deposit"]["__typename"] == "DepositSuccess"
            await ws.subscribe("d2", DEPOSIT, deposit_body()["variables"])  # money: 1 per window
            refused = await ws.receive("d2")
            assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert refused["payload"][0]["extensions"]["bucket"] == "LENDER_MONEY"
            await ws.subscribe("q3", "{ rateLimit { bucket used } }")  # the token's third operation
            assert (await ws.next("q3"))["rateLimit"] == {"bucket": "TOKEN", "used": 3}
            await ws.subscribe("q4", "{ rateLimit { used } }")
            refused = await ws.receive("q4")
            assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
            clock.advance(seconds=60)  # the socket lives on and is served again in the next window
            await ws.subscribe("q5", "{ rateLimit { used } }")
            assert (await ws.next("q5"))["rateLimit"] == {"used": 1}
        async with Socket.open(api.ws_url) as ws:  # anonymous: the IP's bucket, where q5 counted already
            for op in ("a", "b", "c", "d"):
                await ws.subscribe(op, "{ __typename }")
                assert (await ws.next(op)) == {"__typename": "Query"}
            await ws.subscribe("e", "{ __typename }")
            refused = await ws.receive("e")
            assert refused["type"] == "error" and refused["payload"][0]["extensions"]["bucket"] == "IP"
        clock.advance(seconds=60)
        assert await balance(api, ada) == "10.00"  # the refused deposit moved nothing


# ---------------------------------------------------------------- Redis: shared by every worker


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The suite's Redis (never restarted here); this test's keys live under a prefix of their own."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
    except (redis.RedisError, OSError) as error:
        services.unavailable("Redis", error)
    yield REDIS_URL
    client.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"lendgraph-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.asynccontextmanager
async def second_worker(database_url: str, clock, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another application instance, as another worker process would run it, on the same database.

    Its database connection is the first app's (Tortoise's is per process); its bus is connected
    by hand, its timers do not run. It shares nothing in memory with the first app.
    """
    app = create_app(
        Settings(database_url=database_url, expiry_interval=0, autolend_sweep_interval=0, **settings), clock=clock
    )
    bus = app.state.graphql.hub.bus
    await bus.connect()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield http
    finally:
        await bus.disconnect()
        await app.state.limits.rate.close()


async def test_workers_share_their_counts_through_redis(database_url, clock, redis_url, prefix):
    shared = {"rate_limit_url": redis_url, "rate_limit_key_prefix": prefix, "rate_limit_per_ip": 10}
    async with serve(database_url, clock, **shared) as api, second_worker(database_url, clock, **shared) as other:
        # 20 concurrent requests from one address spread over both workers: 10 allowed in all,
        # because the Lua script counts atomically.
        workers = [api.http, other]
        responses = await asyncio.gather(*(workers[i % 2].post("/graphql", json=QUERY) for i in range(20)))
        assert sorted(r.status_code for r in responses) == [200] * 10 + [429] * 10
        assert {r.headers["X-RateLimit-Limit"] for r in responses if r.status_code == 200} == {"10"}


async def test_money_and_token_limits_hold_across_workers(database_url, clock, redis_url, prefix):
    shared = {"rate_limit_url": redis_url, "rate_limit_key_prefix": prefix}
    limits = {"rate_limit_per_token": 5, "rate_limit_money_per_lender": 2}
    async with (
        serve(database_url, clock, **shared, **limits) as api,
        second_worker(database_url, clock, **shared, **limits) as other,
    ):
        _, ada = await api.register("Ada")
        assert (await api.http.post("/graphql", json=deposit_body(), headers=bearer(ada))).status_code == 200  # 1
        assert (await other.post("/graphql", json=deposit_body(), headers=bearer(ada))).status_code == 200  # 2
        assert_rate_limited(
            await api.http.post("/graphql", json=deposit_body(), headers=bearer(ada)), "LENDER_MONEY", 60
        )
        assert_rate_limited(await other.post("/graphql", json=deposit_body(), headers=bearer(ada)), "LENDER_MONEY", 60)
        # The token has made 4 requests over both workers; the fifth is its last.
        assert (await other.post("/graphql", json=ME, headers=bearer(ada))).status_code == 200
        assert_rate_limited(await api.http.post("/graphql", json=ME, headers=bearer(ada)), "TOKEN", 60)
        body = (await other.post("/graphql", json={"query": RATE}, headers={})).json()
        assert body["data"]["rateLimit"]["bucket"] == "IP"
        clock.advance(seconds=60)
        assert await balance(api, ada) == "20.00"


async def test_without_redis_counting_falls_back_to_memory(database_url, clock, caplog):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with serve(database_url, clock, rate_limit_url=nowhere, rate_limit_per_ip=3) as api:
        for _ in range(3):
            assert (await api.http.post("/graphql", json=QUERY)).status_code == 200
        assert_rate_limited(await api.http.post("/graphql", json=QUERY), "IP", 60)
    assert "Redis failed" in caplog.text


@pytest.mark.e2e
def test_two_real_servers_share_limits_through_redis(tmp_path, redis_url, prefix):
    """Two `lendgraph serve` processes: the limits hold across them (real clock, hour-long windows)."""
    database_url = f"sqlite://{tmp_path / 'e2e.sqlite3'}"
    run_cli("migrate", database_url=database_url)
    env = {
        "RATE_LIMIT_URL": redis_url, "RATE_LIMIT_KEY_PREFIX": prefix, "RATE_LIMIT_WINDOW": "3600",
        "RATE_LIMIT_PER_IP": "1000", "RATE_LIMIT_PER_TOKEN": "1000", "RATE_LIMIT_MONEY_PER_LENDER": "3",
    }  # fmt: skip
    for _ in range(2):  # a second try only if an hour boundary fell inside the first
        with serving(database_url, env=env) as a, serving(database_url, env=env) as b:
            email = f"ada.{uuid.uuid4().hex[:8]}@example.org"
            register = """mutation($email: String!) { registerLender(input: {displayName: "Ada", email: $email}) {
                ... on RegisterLenderSuccess { token } } }"""
            registered = httpx.post(f"{a}/graphql", json={"query": register, "variables": {"email": email}}).json()
            token = registered["data"]["registerLender"]["token"]
            responses = [
                httpx.post(f"{base}/graphql", json=deposit_body(), headers=bearer(token)) for base in (a, b, a, b)
            ]
        if len({r.headers.get("X-RateLimit-Reset") for r in responses}) == 1:
            break
    assert [r.status_code for r in responses] == [200, 200, 200, 429], [r.text for r in responses]
    assert json.loads(responses[-1].text)["errors"][0]["extensions"]["bucket"] == "LENDER_MONEY"
