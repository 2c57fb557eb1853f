"""OWASP GraphQL cheat sheet, "DoS Prevention": query depth and amount, cost analysis, timeouts, request size.

Each limit refuses an operation before it runs: the tests check the typed
error that comes back and, where the operation would have moved money, that
the balance did not change. Rate limiting, also under "DoS Prevention", has
its own module (test_rate_limits.py).
"""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from tortoise import Tortoise
from websockets.exceptions import ConnectionClosed

from graph.settings import Settings
from graph.types import lenders
from lending import funding
from tests.api import new_key, partner_token
from tests.conftest import serve
from tests.querycount import count_queries
from tests.security.calls import codes, deposit, funded, post_raw
from tests.ws import Socket

# ---------------------------------------------------------------- depth

# deposit > lender > portfolio > shares > edges > node > loan > lenders > edges > node > portfolio > shares > edges
# > node (14 fields), then 1 or 2 more.
DEEP = (
    "lender { portfolio { shares(first: 1) { edges { node { loan { lenders(first: 1) { edges { node { "
    "portfolio { shares(first: 1) { edges { node { %s } } } } } } } } } } } } }"
)


async def test_operations_deeper_than_the_limit_are_refused_before_they_run(api):
    token = await funded(api)
    at_limit = await api.post(deposit(DEEP % "amount"), token=token)  # 15 fields deep: the default limit
    assert not at_limit.get("errors"), at_limit
    assert await api.balance(token) == "85.00"

    too_deep = await api.post(deposit(DEEP % "loan { name }"), token=token)  # 16
    assert codes(too_deep) == ["QUERY_TOO_DEEP"] and too_deep["data"] is None, too_deep
    assert too_deep["errors"][0]["extensions"] == {"code": "QUERY_TOO_DEEP", "depth": 16, "maxDepth": 15}
    assert await api.balance(token) == "85.00"  # nothing ran

    # Fragments are expanded: the same depth through them is refused too.
    fragments = (
        f'mutation {{ deposit(input: {{amount: "10.00", idempotencyKey: "{new_key()}"}}) '
        "{ ... on DepositSuccess { lender { ...L } } } }\n"
        "fragment L on Lender { portfolio { shares(first: 1) { edges { node { ...S } } } } }\n"
        "fragment S on Share { loan { lenders(first: 1) { edges { node { portfolio { shares(first: 1) { edges { node "
        "{ loan { name } } } } } } } } } }"
    )
    assert codes(await api.post(fragments, token=token)) == ["QUERY_TOO_DEEP"]
    assert await api.balance(token) == "85.00"


async def test_the_depth_limit_is_configurable(database_url, clock):
    async with serve(database_url, clock, max_query_depth=3) as api:
        assert not (await api.post("{ loans { edges { cursor } } }")).get("errors")  # 3 fields deep
        assert codes(await api.post("{ loans { edges { node { name } } } }")) == ["QUERY_TOO_DEEP"]  # 4


# ---------------------------------------------------------------- lexical tokens


async def test_documents_with_more_lexical_tokens_than_the_limit_are_not_parsed(api):
    def keywords(count: int) -> str:  # 16 + count tokens
        return "{ loans(filter: {keywords: [" + " ".join('"k"' for _ in range(count)) + "]}) { totalCount } }"

    at_limit = await api.post(keywords(1984))  # 2,000 tokens, the default limit: parsed (and run)
    assert "TOO_MANY_TOKENS" not in codes(at_limit) and "data" in at_limit, at_limit
    refused = await api.post(keywords(1985))
    assert codes(refused) == ["TOO_MANY_TOKENS"], refused
    assert "tokens" in refused["errors"][0]["message"]

    _, token = await api.funded_lender("100.00")
    refused = await api.post(deposit("lender { " + "id " * 2000 + "}"), token=token)
    assert codes(refused) == ["TOO_MANY_TOKENS"]
    assert await api.balance(token) == "100.00"


# ---------------------------------------------------------------- cost

NESTED = (
    "query($n: Int) { loans(first: $n) { edges { node { name"
    " lenders(first: $n) { edges { node { displayName } } } } } } }"
)


async def test_nested_pages_are_refused_by_their_cost_before_anything_runs(api):
    # 1 + 100 + 100 + 100 + 100 x 100 + 100 x 100 = 20,301 objects at most
    with count_queries() as queries:
        refused = await api.post(NESTED, {"n": 100})
    assert codes(refused) == ["QUERY_TOO_COSTLY"] and refused["data"] is None, refused
    assert refused["errors"][0]["extensions"]["cost"] == 20_301
    assert refused["errors"][0]["extensions"]["maxCost"] == 10_000
    assert len(queries) == 0, queries.report()  # refused before a single SQL statement

    # The same with literal arguments, and with a variable's default value.
    literal = NESTED.replace("query($n: Int) ", "").replace("$n", "100")
    assert codes(await api.post(literal)) == ["QUERY_TOO_COSTLY"]
    assert codes(await api.post(NESTED.replace("$n: Int", "$n: Int = 100"))) == ["QUERY_TOO_COSTLY"]

    # Small pages pass, and so does the default page size (20 x 20).
    assert not (await api.post(NESTED, {"n": 40})).get("errors")  # 1 + 3 x 40 + 2 x 1,600 = 3,321
    assert not (await api.post(NESTED, {})).get("errors")  # `first` null: 20 each, 861
    # Measures are kept by document and page sizes: each request is still judged by its own.
    assert codes(await api.post(NESTED, {"n": 100})) == ["QUERY_TOO_COSTLY"]
    assert not (await api.post(NESTED, {"n": 40})).get("errors")


async def test_a_costly_selection_on_a_mutation_moves_no_money(api):
    token = await funded(api)
    costly = (
        "lender { portfolio { shares(first: 100) { edges { node {"
        " loan { lenders(first: 100) { edges { node { id } } } } } } } } }"
    )
    refused = await api.post(deposit(costly), token=token)
    assert codes(refused) == ["QUERY_TOO_COSTLY"], refused
    assert await api.balance(token) == "75.00"


async def test_the_cost_limit_is_configurable_and_plain_lists_count_too(database_url, clock):
    # loans(first: 10) > edges > node > allocations (a plain list: 10 items assumed) > lender
    query = "{ loans(first: 10) { edges { node { allocations { lender { id } } } } } }"  # 1 + 10 + 10 + 10 + 100 = 131
    async with serve(database_url, clock, max_query_cost=130) as api:
        refused = await api.post(query)
        assert codes(refused) == ["QUERY_TOO_COSTLY"] and refused["errors"][0]["extensions"]["cost"] == 131
    async with serve(database_url, clock, max_query_cost=131) as api:
        assert not (await api.post(query)).get("errors")


async def test_pages_beyond_100_are_refused(api):
    body = await api.post("{ loans(first: 101) { totalCount } }")
    assert body["errors"] and "first must be 0 to 100" in body["errors"][0]["message"]


# ---------------------------------------------------------------- request body size


async def test_large_bodies_get_413_before_parsing(api):
    _, token = await api.funded_lender("100.00")
    padding = "x" * (64 * 1024)
    response = await post_raw(api, {"query": deposit(), "variables": {"pad": padding}}, token)
    assert response.status_code == 413 and codes(response.json()) == ["REQUEST_TOO_LARGE"], response.text

    # Without a Content-Length (chunked), the bytes are counted as they arrive.
    async def chunks() -> AsyncIterator[bytes]:
        yield json.dumps({"query": deposit(), "variables": {"pad": ""}})[:-3].encode()
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}}'

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = await api.http.post("/graphql", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert await api.balance(token) == "100.00"

    # Just under the limit is fine.
    under = {"query": deposit(), "variables": {"pad": ""}}
    under["variables"]["pad"] = "x" * (64 * 1024 - len(json.dumps(under)) - 10)
    response = await post_raw(api, under, token)
    assert response.status_code == 200 and not response.json().get("errors"), response.text
    assert await api.balance(token) == "110.00"


async def test_the_body_limit_is_configurable(database_url, clock):
    async with serve(database_url, clock, max_body_bytes=200) as api:
        assert (await post_raw(api, {"query": "{ __typename }"})).status_code == 200
        response = await post_raw(api, {"query": "{ __typename }", "variables": {"pad": "x" * 200}})
        assert response.status_code == 413


# ---------------------------------------------------------------- unreadable JSON

UNREADABLE = [
    b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}",  # beyond Python's int digits limit
    b'{"query": "{ __typename }", "variables": {"n": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}",  # nested too deep
]


@pytest.mark.parametrize("body", UNREADABLE, ids=["5000-digit-number", "30000-deep-array"])
async def test_json_python_cannot_read_is_a_bad_request_not_a_server_error(live, body):
    response = await live.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    async with Socket.open(live.ws_url) as ws:  # over a WebSocket: closed as a bad message (4400)
        await ws.connection.send(
            body.replace(b'"query"', b'"type": "subscribe", "id": "x", "payload": {"query"') + b"}"
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive("x")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


# ---------------------------------------------------------------- timeouts


async def slow_database(seconds: float) -> None:
    """A statement that keeps the database busy (PostgreSQL), or a pause (SQLite, which has no sleep)."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_sleep($1)", [seconds])
    else:
        await asyncio.sleep(seconds)


async def test_a_query_that_runs_too_long_is_stopped(database_url, clock, monkeypatch):
    async with serve(database_url, clock, max_query_seconds=0.3) as api:
        partner = await partner_token()
        loan = await api.loan_id(partner, name="Amina")
        original = lenders.lenders_of_loan

        async def slow(*args, **kwargs):
            await slow_database(5)
            return await original(*args, **kwargs)

        monkeypatch.setattr(lenders, "lenders_of_loan", slow)
        query = "query($id: ID!) { loan(id: $id) { name lenders { totalCount } } }"
        body = await api.post(query, {"id": loan})  # the slow field would take 5 s
        assert body["data"] is None and codes(body) == ["QUERY_TIMEOUT"], body
        assert body["errors"][0]["extensions"]["maxSeconds"] == 0.3

        # The database connection of the stopped query is usable again, and quick queries are unaffected.
        monkeypatch.undo()
        assert await api.post(query, {"id": loan}) == {
            "data": {"loan": {"name": "Amina", "lenders": {"totalCount": 0}}}
        }


async def test_a_mutation_is_never_cut_halfway(database_url, clock, monkeypatch):
    async with serve(database_url, clock, max_query_seconds=0.2) as api:
        partner = await partner_token()
        loan = await api.loan_id(partner)
        _, token = await api.funded_lender("100.00")
        original = funding.emit

        async def slow_emit(*args, **kwargs):  # the last write of the lend transaction
            await slow_database(0.6)
            return await original(*args, **kwargs)

        monkeypatch.setattr(funding, "emit", slow_emit)
        assert (await api.lend(token, loan))["__typename"] == "LendSuccess"
        assert await api.balance(token) == "75.00"


def test_the_query_time_limit_is_configured_by_environment():
    assert Settings().max_query_seconds == 10.0
    assert Settings.from_env({"MAX_QUERY_SECONDS": "2.5"}).max_query_seconds == 2.5
