"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): media types, status codes, one operation.

A client that accepts `application/graphql-response+json` learns from the
status alone whether its request ran: a document that does not parse or
validate, a variable that does not coerce, a document of several operations
without `operationName`, a limit that refuses it: 400 and no `data`. A client
of `application/json` keeps the legacy answer, 200 with `data: null`. A GET
never runs a mutation (405), and a subscription over HTTP is a coded error.

The spec's own audit suite (the npm package graphql-http, `serverAudits`) runs
against a real server: it installs `tests/security/js` (exact versions, from
its package-lock.json) with `npm ci` once into a cache directory
(`$LENDGRAPH_JS_CACHE`, by default ~/.cache/lendgraph/js-<lockfile hash>). It
is skipped where Node.js is not installed, and fails there with
REQUIRE_SERVICES=1; with Node.js present, a failed install fails the test.
"""

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.http import GRAPHQL_RESPONSE, JSON, negotiate
from tests.api import Api, new_key
from tests.node import node_script
from tests.security.calls import bearer, codes
from tests.ws import Socket

JS_DIR = Path(__file__).parent / "js"
ALL_RESPONSE_TYPES = [GRAPHQL_RESPONSE, JSON]


def deposit(amount: str = "10.00", name: str = "") -> str:
    return (
        f'mutation {name} {{ deposit(input: {{amount: "{amount}", idempotencyKey: "{new_key()}"}}) {{ __typename }} }}'
    )


async def post(api: Api, body: Any, accept: str | None, token: str | None = None, **headers: str) -> httpx.Response:
    request = api.http.build_request("POST", "/graphql", json=body, headers={**bearer(token), **headers})
    if accept is None:
        del request.headers["accept"]  # httpx sends */* unless told otherwise
    else:
        request.headers["accept"] = accept
    return await api.http.send(request)


def assert_request_error(response: httpx.Response, accept: str, code: str | None = None) -> dict[str, Any]:
    """Nothing ran: 400 without `data` for graphql-response+json, the legacy 200 and `data: null` for json."""
    assert response.headers["content-type"].split(";")[0] == accept, response.headers
    body = response.json()
    if accept == GRAPHQL_RESPONSE:
        assert response.status_code == 400 and "data" not in body, (response.status_code, body)
    else:
        assert response.status_code == 200 and body["data"] is None, (response.status_code, body)
    assert body["errors"], body
    if code is not None:
        assert codes(body) == [code], body
    return body


# ---------------------------------------------------------------- the spec's audit suite


@pytest.fixture(scope="session")
def audit_command() -> list[str]:
    """The command that runs js/audit.mjs with its pinned dependencies installed."""
    return node_script(JS_DIR, "audit.mjs")


async def test_the_spec_audit_suite_finds_no_error_and_no_warning(live, audit_command):
    url = "http" + live.ws_url.removeprefix("ws")  # uvicorn on a loopback port
    process = await asyncio.create_subprocess_exec(
        *audit_command, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    results = [json.loads(line) for line in out.decode().splitlines()]
    report = "\n".join(
        f"{r['status']:>6}  {r['id']}  {r['name']}"
        + (
            f"\n        {r.get('reason')}; got {r.get('httpStatus')} {r.get('contentType')}: {r.get('body')}"
            if r["status"] != "ok"
            else ""
        )
        for r in results
    )
    assert len(results) > 50, report
    failed = [r for r in results if r["status"] in ("error", "warn")]
    assert not failed, f"{len(failed)} audits failed:\n{report}"


# ---------------------------------------------------------------- Accept


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),  # no Accept: the legacy type, as the audit suite expects
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("Application/JSON; charset=UTF-8", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE),  # equal q: the spec's type
        ("application/json, application/graphql-response+json;q=0.9", JSON),
        ("application/graphql-response+json;q=0.5, */*", JSON),
        ("application/graphql-response+json, */*", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0, */*", JSON),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("application/*;q=0.2, application/graphql-response+json;q=0.3", GRAPHQL_RESPONSE),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
        ("text/html", None),
        ("text/plain, application/xml", None),
        ("application/json;q=0", None),
        ("*/*;q=0", None),
        ("application/json;q=zero", None),  # an unreadable q-value drops its range
        ("nonsense", None),
        ("text/event-stream", JSON),  # streaming clients learn that subscriptions need a WebSocket
        ('multipart/mixed;subscriptionSpec="1.0"', JSON),
        ("text/event-stream;q=0", None),
    ],
)
def test_the_response_type_is_the_one_the_client_prefers(accept, expected):
    assert negotiate(accept) == expected


RANGES = st.sampled_from(
    ["application/json", GRAPHQL_RESPONSE, "application/*", "*/*", "text/html", "application/xml", "text/*"]
)
Q = st.sampled_from(["", ";q=0", ";q=0.1", ";q=0.5", ";q=0.9", ";q=1", ";charset=utf-8", ";q=0.5;charset=utf-8"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(RANGES, Q), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_the_order_of_the_ranges_does_not_matter_and_q_zero_means_never(ranges, rnd):
    header = ", ".join(media + params for media, params in ranges)
    shuffled = ranges[:]
    rnd.shuffle(shuffled)
    chosen = negotiate(header)
    assert chosen == negotiate(", ".join(media + params for media, params in shuffled))
    # A type the client refuses outright (q=0 on the type itself) is never chosen, and neither is one no range covers.
    for media in ALL_RESPONSE_TYPES:
        own = [params for range_, params in ranges if range_ == media]
        covered = any(range_ in (media, "application/*", "*/*") for range_, _ in ranges)
        if (own and all(p == ";q=0" or p.startswith(";q=0;") for p in own)) or not covered:
            assert chosen != media, header


async def test_a_client_that_accepts_neither_type_gets_406_and_nothing_runs(api):
    _, token = await api.funded_lender("100.00")
    for accept in ("text/plain", "application/xml", "application/json;q=0"):
        response = await post(api, {"query": deposit()}, accept, token)
        assert response.status_code == 406, response.text
        assert codes(response.json()) == ["NOT_ACCEPTABLE"]
    response = await api.http.get("/graphql", params={"query": "{ __typename }"}, headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert await api.balance(token) == "100.00"
    # A browser asking for the page still gets GraphiQL.
    page = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


@pytest.mark.parametrize("accept", [None, "*/*", JSON, GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE};q=0.9, {JSON}"])
async def test_a_good_request_is_200_in_the_type_chosen(api, accept):
    response = await post(api, {"query": "{ loans { totalCount } }"}, accept)
    assert response.status_code == 200 and response.json() == {"data": {"loans": {"totalCount": 0}}}
    assert response.headers["content-type"] == f"{negotiate(accept)}; charset=utf-8"


async def test_content_type_is_matched_without_regard_to_case(api):
    _, token = await api.funded_lender("100.00")
    for content_type in ("Application/JSON; charset=UTF-8", "APPLICATION/JSON"):
        headers = {**bearer(token), "Content-Type": content_type}
        body = json.dumps({"query": deposit("5.00")}).encode()
        response = await api.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["data"]["deposit"]["__typename"] == "DepositSuccess"
    assert await api.balance(token) == "110.00"


# ---------------------------------------------------------------- request errors


@pytest.mark.parametrize("accept", ALL_RESPONSE_TYPES)
async def test_a_request_that_cannot_run_is_400_without_data_or_200_for_legacy_json(api, accept):
    _, token = await api.funded_lender("100.00")
    mutation = 'deposit(input: {amount: "10.00", idempotencyKey: "never"}) { __typename }'
    cases = [
        ({"query": f"mutation {{ {mutation}"}, None),  # does not parse
        ({"query": f"mutation {{ {mutation} nosuchfield }}"}, None),  # does not validate
        (  # a variable that does not coerce
            {
                "query": "mutation($input: DepositInput!) { deposit(input: $input) { __typename } }",
                "variables": {"input": {"amount": 10, "idempotencyKey": ["never"]}},
            },
            None,
        ),
        ({"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}}, None),
        ({"query": f"mutation Pay {{ {mutation} }} query Look {{ __typename }}"}, "OPERATION_NAME_REQUIRED"),
        ({"query": f"mutation Pay {{ {mutation} }}", "operationName": "Other"}, "OPERATION_NOT_FOUND"),
        (
            {"query": "mutation { " + " ".join(f"a{i}: __typename" for i in range(16)) + f" {mutation} }}"},
            "TOO_MANY_ALIASES",
        ),
        ({"query": "subscription { myEvents { eventId } }"}, "WEBSOCKET_REQUIRED"),
    ]
    for body, code in cases:
        assert_request_error(await post(api, body, accept, token), accept, code)
    assert await api.balance(token) == "100.00"


@pytest.mark.parametrize("accept", ALL_RESPONSE_TYPES)
async def test_a_named_operation_of_several_runs_alone(api, accept):
    _, token = await api.funded_lender("100.00")
    document = f"{deposit('10.00', 'Pay')} query Look {{ me {{ balance }} }}"
    response = await post(api, {"query": document, "operationName": "Look"}, accept, token)
    assert response.status_code == 200 and response.json() == {"data": {"me": {"balance": "100.00"}}}
    response = await post(api, {"query": document, "operationName": "Pay"}, accept, token)
    assert response.status_code == 200 and response.json() == {"data": {"deposit": {"__typename": "DepositSuccess"}}}
    # An empty operationName is no operationName.
    response = await post(api, {"query": document, "operationName": ""}, accept, token)
    assert_request_error(response, accept, "OPERATION_NAME_REQUIRED")
    assert await api.balance(token) == "110.00"


@pytest.mark.parametrize("accept", ALL_RESPONSE_TYPES)
async def test_a_malformed_request_is_400_with_errors_in_the_type_chosen(api, accept):
    bodies: list[bytes] = [
        b'{"query": ',
        b"",
        json.dumps({"qeury": "{ __typename }"}).encode(),
        json.dumps({"query": ["{ __typename }"]}).encode(),
        json.dumps({"query": "{ __typename }", "variables": "{}"}).encode(),
        json.dumps({"query": "{ __typename }", "operationName": 7}).encode(),
        json.dumps({"query": "{ __typename }", "extensions": [1]}).encode(),
        json.dumps([{"query": "{ __typename }"}]).encode(),  # batches are off
        b'"{ __typename }"',  # JSON, but not an object
        b"null",
        b"7",
        b"true",
    ]
    for body in bodies:
        headers = {"Content-Type": "application/json", "Accept": accept}
        response = await api.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == f"{accept}; charset=utf-8"
        assert codes(response.json()) == ["BAD_REQUEST"] and "data" not in response.json(), response.text


# Every member a body may have, in every form: valid, null, absent, of another JSON type.
MEMBERS: dict[str, list[Any]] = {
    "query": ["query Q($first: Int) { loans(first: $first) { totalCount } }", "{ nosuch }", "", None, 1, ["{ a }"]],
    "variables": [{"first": 1}, {"first": "x"}, {}, None, [], "x", 2],
    "operationName": ["Q", "", "Other", None, 3, []],
    "extensions": [{}, None, [], "x"],
}
ABSENT = object()


def bodies(count: int, seed: int) -> list[bytes]:
    """`count` request bodies drawn from MEMBERS (each member also absent), and bodies that are not objects."""
    draw = random.Random(seed)
    made = [
        json.dumps({name: value for name, value in picked.items() if value is not ABSENT}).encode()
        for picked in ({name: draw.choice([*values, ABSENT]) for name, values in MEMBERS.items()} for _ in range(count))
    ]
    return [*made, b"[]", b'"q"', b"1", b"null", b'[{"query": "{ __typename }"}]', b'{"query": ', b""]


@pytest.mark.parametrize("accept", [None, *ALL_RESPONSE_TYPES, "text/event-stream"])
async def test_a_plain_post_is_answered_as_strawberrys_view_answers_it(api, accept, monkeypatch):
    # graph/http.py answers a plain POST itself and hands every other body to strawberry's view: the two
    # must agree on whatever a client sends.
    _, token = await api.funded_lender("100.00")
    view = api.app.state.graphql
    answered = 0
    answer = view.answer

    async def counted(*args: Any) -> Any:
        nonlocal answered
        answered += 1
        return await answer(*args)

    monkeypatch.setattr(view, "answer", counted)
    for n, body in enumerate(bodies(60, seed=len(accept or ""))):
        headers = {"Content-Type": "application/json", **bearer(token if n % 2 else None)}
        if accept is not None:
            headers["Accept"] = accept
        ours = await api.http.post("/graphql", content=body, headers=headers)
        with monkeypatch.context() as patched:

            async def never(request: Any) -> None:
                return None

            patched.setattr(view, "plain_post", never)
            theirs = await api.http.post("/graphql", content=body, headers=headers)
        assert (ours.status_code, ours.headers["content-type"]) == (theirs.status_code, theirs.headers["content-type"])
        assert ours.content == theirs.content, body
    assert (answered > 5) == (accept != "text/event-stream"), answered  # a streaming client: strawberry's
    assert await api.balance(token) == "100.00"


@pytest.mark.parametrize("accept", ALL_RESPONSE_TYPES)
async def test_a_server_failure_before_execution_is_masked_and_500(api, accept, monkeypatch, caplog):
    _, token = await api.funded_lender("100.00")

    async def broken(*_: Any) -> None:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr("graph.pipeline.money_refusals", broken)
    response = await post(api, {"query": deposit()}, accept, token)
    assert "hunter2" not in response.text
    [error] = response.json()["errors"]
    assert error["message"] == "Internal error" and error["extensions"]["code"] == "INTERNAL"
    assert response.status_code == (500 if accept == GRAPHQL_RESPONSE else 200)
    traced = [r for r in caplog.records if r.exc_info]
    assert len(traced) == 1 and error["extensions"]["errorId"] in traced[0].getMessage()
    monkeypatch.undo()
    assert await api.balance(token) == "100.00"


# ---------------------------------------------------------------- GET


@pytest.mark.parametrize("accept", ALL_RESPONSE_TYPES)
async def test_get_runs_queries_and_answers_a_mutation_with_405(api, accept):
    _, token = await api.funded_lender("100.00")
    headers = {**bearer(token), "Accept": accept}
    response = await api.http.get("/graphql", params={"query": "{ me { balance } }"}, headers=headers)
    assert response.status_code == 200 and response.json() == {"data": {"me": {"balance": "100.00"}}}
    named = f"{deposit('10.00', 'Pay')} query Look {{ __typename }}"
    for params in ({"query": deposit()}, {"query": named, "operationName": "Pay"}):
        response = await api.http.get("/graphql", params=params, headers=headers)
        assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
        assert codes(response.json()) == ["METHOD_NOT_ALLOWED"]
    # The query of that document runs; without a name, neither does.
    response = await api.http.get("/graphql", params={"query": named, "operationName": "Look"}, headers=headers)
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
    look_first = f"query Look {{ __typename }} {deposit('10.00', 'Pay')}"
    response = await api.http.get("/graphql", params={"query": look_first}, headers=headers)
    assert_request_error(response, accept, "OPERATION_NAME_REQUIRED")
    response = await api.http.get(
        "/graphql", params={"query": "subscription { myEvents { eventId } }"}, headers=headers
    )
    assert_request_error(response, accept, "WEBSOCKET_REQUIRED")
    assert await api.balance(token) == "100.00"


# ---------------------------------------------------------------- WebSocket


async def test_several_operations_without_a_name_run_nothing_over_either_websocket_protocol(live):
    _, token = await live.funded_lender("100.00")
    document = f"{deposit('10.00', 'Pay')} query Look {{ __typename }}"
    async with Socket.open(live.ws_url, token) as ws:
        await ws.subscribe("both", document)
        message = await ws.receive("both")
        assert message["type"] == "error" and message["payload"], message
        await ws.connection.send(
            json.dumps({"id": "look", "type": "subscribe", "payload": {"query": document, "operationName": "Look"}})
        )
        assert await ws.next("look") == {"__typename": "Query"}
    async with websockets.connect(live.ws_url, subprotocols=["graphql-ws"]) as legacy:
        await legacy.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await legacy.recv())["type"] == "connection_ack"
        await legacy.send(json.dumps({"id": "1", "type": "start", "payload": {"query": document}}))
        async with asyncio.timeout(10):
            while (message := json.loads(await legacy.recv()))["type"] == "ka":
                pass
        assert message["type"] == "error" and message["id"] == "1", message
    assert await live.balance(token) == "100.00"
