"""Query and transport limits (OWASP GraphQL cheat sheet: DoS, batching, CSRF, introspection hints).

Every protection is tried through the public API: HTTP in memory, WebSockets on
a real uvicorn. Where a refused operation would have moved money, the test
checks that the balance did not change: refused means nothing ran.
"""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api import Api, new_key
from tests.clock import FakeClock
from tests.conftest import serve
from tests.querycount import count_queries
from tests.ws import Socket


@contextlib.asynccontextmanager
async def app_with(database_url: str, clock: FakeClock, **settings: Any) -> AsyncIterator[Api]:
    """`tests.conftest.serve` with these settings, as a context manager (the books are checked on a clean exit)."""
    served = serve(database_url, clock, **settings)
    api = await anext(served)
    try:
        yield api
    except BaseException:
        await served.aclose()
        raise
    with contextlib.suppress(StopAsyncIteration):
        await anext(served)


async def post_raw(api: Api, body: Any, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await api.http.post("/graphql", json=body, headers=headers, **kwargs)


def codes(body: dict) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


def deposit(selection: str = "__typename", amount: str = "10.00") -> str:
    """A deposit mutation with a given selection on its success type: refused, it must move nothing."""
    return (
        f'mutation {{ deposit(input: {{amount: "{amount}", idempotencyKey: "{new_key()}"}}) '
        f"{{ __typename ... on DepositSuccess {{ {selection} }} }} }}"
    )


async def funded(api: Api) -> str:
    """A lender with 100.00 of credit, and a share in a loan (so portfolio paths return objects)."""
    from tests.api import partner_token

    _, token = await api.funded_lender("100.00")
    loan = await api.loan_id(await partner_token())
    assert (await api.lend(token, loan))["__typename"] == "LendSuccess"
    return token


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
    async with app_with(database_url, clock, max_query_depth=3) as api:
        assert not (await api.post("{ loans { edges { cursor } } }")).get("errors")  # 3 fields deep
        assert codes(await api.post("{ loans { edges { node { name } } } }")) == ["QUERY_TOO_DEEP"]  # 4


# ---------------------------------------------------------------- aliases


async def test_more_aliases_than_the_limit_are_refused_before_they_run(api):
    _, token = await api.funded_lender("100.00")
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    assert not (await api.post(deposit(fifteen), token=token)).get("errors")
    assert await api.balance(token) == "110.00"

    sixteen = " ".join(f"a{i}: __typename" for i in range(16))
    refused = await api.post(deposit(sixteen), token=token)
    assert codes(refused) == ["TOO_MANY_ALIASES"] and refused["data"] is None, refused
    assert await api.balance(token) == "110.00"

    # Aliases hidden in a fragment spread twice count twice.
    eight = " ".join(f"b{i}: __typename" for i in range(8))
    spread = (
        f'mutation {{ deposit(input: {{amount: "10.00", idempotencyKey: "{new_key()}"}}) '
        "{ ...A ... on DepositSuccess { ...B ...B } } }\n"
        "fragment A on DepositResult { t: __typename }\n"
        f"fragment B on DepositSuccess {{ {eight} }}"
    )
    assert codes(await api.post(spread, token=token)) == ["TOO_MANY_ALIASES"]  # 1 + 2 x 8 = 17
    assert await api.balance(token) == "110.00"


# ---------------------------------------------------------------- tokens


async def test_documents_with_more_tokens_than_the_limit_are_not_parsed(api):
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

NESTED = "query($n: Int) { loans(first: $n) { edges { node { name lenders(first: $n) { edges { node { displayName } } } } } } }"


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


async def test_a_costly_selection_on_a_mutation_moves_no_money(api):
    token = await funded(api)
    costly = (
        "lender { portfolio { shares(first: 100) { edges { node { loan { lenders(first: 100) { edges { node { id } } } } } } } } }"
    )
    refused = await api.post(deposit(costly), token=token)
    assert codes(refused) == ["QUERY_TOO_COSTLY"], refused
    assert await api.balance(token) == "75.00"


async def test_the_cost_limit_is_configurable_and_plain_lists_count_too(database_url, clock):
    # loans(first: 10) > edges > node > allocations (a plain list: 10 items assumed) > lender
    query = "{ loans(first: 10) { edges { node { allocations { lender { id } } } } } }"  # 1 + 10 + 10 + 10 + 100 = 131
    async with app_with(database_url, clock, max_query_cost=130) as api:
        refused = await api.post(query)
        assert codes(refused) == ["QUERY_TOO_COSTLY"] and refused["errors"][0]["extensions"]["cost"] == 131
    async with app_with(database_url, clock, max_query_cost=131) as api:
        assert not (await api.post(query)).get("errors")


async def test_pages_beyond_100_are_refused(api):
    body = await api.post("{ loans(first: 101) { totalCount } }")
    assert body["errors"] and "first must be 0 to 100" in body["errors"][0]["message"]


# ---------------------------------------------------------------- batching


async def test_batched_requests_are_refused(api):
    _, token = await api.funded_lender("100.00")
    batch = [{"query": deposit()}, {"query": deposit()}]
    response = await post_raw(api, batch, token)
    assert response.status_code == 400 and "Batching is not enabled" in response.text
    assert await api.balance(token) == "100.00"


# ---------------------------------------------------------------- field suggestions

SUGGESTING = [
    ("{ loans { totalCont } }", None),  # a field
    ("{ loans(frist: 1) { totalCount } }", None),  # an argument
    ("{ loans(sort: NEWST) { totalCount } }", None),  # an enum value
    ('{ loans(filter: {countrie: ["KE"]}) { totalCount } }', None),  # an input field
    ("query($f: LoanFiltr) { loans(filter: $f) { totalCount } }", None),  # a type
    ("query($s: LoanSort) { loans(sort: $s) { totalCount } }", {"s": "NEWST"}),  # an enum value in variables
    ("query($f: LoanFilter) { loans(filter: $f) { totalCount } }", {"f": {"countrie": ["KE"]}}),  # an input field in variables
]


@pytest.mark.parametrize(("query", "variables"), SUGGESTING)
async def test_production_errors_suggest_no_schema_names(database_url, clock, query, variables):
    async with app_with(database_url, clock) as api:  # development: the hint is there
        body = await api.post(query, variables)
        assert body["errors"] and "Did you mean" in json.dumps(body), body
    async with app_with(database_url, clock, production=True) as api:
        body = await api.post(query, variables)
        assert body["errors"], body
        assert "Did you mean" not in json.dumps(body), body


async def test_production_subscriptions_suggest_nothing_and_graphiql_is_off(database_url, clock):
    async with app_with(database_url, clock, websockets=True, production=True, graphiql=False) as api:
        async with Socket.open(api.ws_url) as ws:
            await ws.subscribe("typo", "subscription { loanListed { eventId loan { nme } } }")
            reply = await ws.receive("typo")
            assert reply["type"] == "error" and "nme" in json.dumps(reply)
            assert "Did you mean" not in json.dumps(reply)
        async with Socket.open(api.ws_url) as ws:
            query = "subscription($f: LoanFilter) { loanListed(filter: $f) { eventId } }"
            await ws.subscribe("variables", query, {"f": {"sectors": ["AGRICULTUR"]}})
            reply = await ws.receive("variables")
            assert reply["type"] == "error" and "AGRICULTUR" in json.dumps(reply)
            assert "Did you mean" not in json.dumps(reply)
        assert (await api.http.get("/graphql", headers={"Accept": "text/html"})).status_code == 404


def test_production_turns_graphiql_off_by_default():
    from graph.settings import Settings

    assert Settings.from_env({"PRODUCTION": "1"}).graphiql is False
    assert Settings.from_env({"PRODUCTION": "1", "GRAPHIQL": "1"}).graphiql is True
    assert Settings.from_env({}).graphiql is True and Settings.from_env({}).production is False


# ---------------------------------------------------------------- GET and content types (CSRF)


async def test_get_never_runs_a_mutation(api):
    _, token = await api.funded_lender("100.00")
    response = await api.http.get("/graphql", params={"query": deposit()}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.text
    assert "mutations are not allowed when using GET" in response.text
    named = "mutation M { deposit(input: {amount: \"1.00\", idempotencyKey: \"get\"}) { __typename } } query Q { __typename }"
    for operation in ("M", None):
        params = {"query": named, **({"operationName": operation} if operation else {})}
        response = await api.http.get("/graphql", params=params, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400, response.text
    assert await api.balance(token) == "100.00"
    # Queries over GET work.
    response = await api.http.get("/graphql", params={"query": "{ loans { totalCount } }"})
    assert response.status_code == 200 and response.json() == {"data": {"loans": {"totalCount": 0}}}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "text/plain; application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        None,
    ],
)
async def test_posts_that_a_page_on_another_site_could_send_run_nothing(api, content_type):
    """A cross-site form or no-cors fetch can only send these types; a POST must be application/json."""
    _, token = await api.funded_lender("100.00")
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps({"query": deposit()}).encode()
    response = await api.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert await api.balance(token) == "100.00"

    headers["Content-Type"] = "application/json; charset=utf-8"
    response = await api.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["data"]["deposit"]["__typename"] == "DepositSuccess"


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
    async with app_with(database_url, clock, max_body_bytes=200) as api:
        assert (await post_raw(api, {"query": "{ __typename }"})).status_code == 200
        response = await post_raw(api, {"query": "{ __typename }", "variables": {"pad": "x" * 200}})
        assert response.status_code == 413


# ---------------------------------------------------------------- WebSocket


async def test_a_socket_without_connection_init_is_closed(database_url, clock):
    async with app_with(database_url, clock, websockets=True, ws_connection_init_timeout=0.2) as api:
        async with websockets.connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as connection:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(connection.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        # A prompt client is unaffected.
        async with Socket.open(api.ws_url) as ws:
            await ws.subscribe("q", "{ __typename }")
            assert (await ws.next("q")) == {"__typename": "Query"}


def test_the_default_init_timeout_is_ten_seconds():
    from graph.settings import Settings

    assert Settings().ws_connection_init_timeout == 10.0
    assert Settings.from_env({"WS_CONNECTION_INIT_TIMEOUT": "3"}).ws_connection_init_timeout == 3.0


async def test_oversized_websocket_messages_close_the_socket(database_url, clock):
    async with app_with(database_url, clock, websockets=True, max_ws_message_bytes=2000) as api:
        async with Socket.open(api.ws_url) as ws:
            padded = "{ __typename }" + " " * 1900  # under the limit: served
            await ws.subscribe("small", padded)
            assert (await ws.next("small")) == {"__typename": "Query"}
            await ws.subscribe("big", "{ __typename }" + " " * 2100)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.receive("big")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_oversized_websocket_messages_are_refused_at_the_default_limit(live):
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("big", "{ __typename }" + " " * (64 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive("big")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@contextlib.asynccontextmanager
async def connect_from(source_ip: str, url: str) -> AsyncIterator[websockets.ClientConnection]:
    """A graphql-transport-ws connection from a given loopback address (127.0.0.x are all this machine's)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.bind((source_ip, 0))
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    async with websockets.connect(url, sock=raw, subprotocols=["graphql-transport-ws"]) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 5))["type"] == "connection_ack"
        yield connection


async def test_open_websockets_per_ip_are_capped(database_url, clock):
    async with app_with(database_url, clock, websockets=True, max_ws_connections_per_ip=2) as api:
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
            await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
            with pytest.raises(InvalidStatus) as refused:
                await stack.enter_async_context(connect_from("127.0.0.1", api.ws_url))
            assert refused.value.response.status_code == 403
            # Another address has its own count.
            await stack.enter_async_context(connect_from("127.0.0.2", api.ws_url))
            # A closed socket frees its place (once the server has seen it close).
            await first.close()
            for _ in range(200):
                try:
                    async with connect_from("127.0.0.1", api.ws_url):
                        break
                except InvalidStatus:
                    await asyncio.sleep(0.02)
            else:
                pytest.fail("a closed socket never freed its place")


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
        await ws.connection.send(body.replace(b'"query"', b'"type": "subscribe", "id": "x", "payload": {"query"') + b"}")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive("x")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
