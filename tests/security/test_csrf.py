"""OWASP GraphQL cheat sheet, "Common Attacks": cross-site request forgery, and reading across origins.

Credentials travel only in the Authorization header (HTTP) or in
connection_init (WebSocket), never in cookies, so a page on another site has
no session to ride. Beyond that: GET never runs a mutation, a POST must be
application/json (a type no cross-site form or no-cors fetch can send), and
only ALLOWED_ORIGINS may read responses (CORS) or open WebSockets from a
browser.
"""

import json

import pytest
import websockets

from tests.conftest import serve
from tests.security.calls import codes, deposit


async def test_get_never_runs_a_mutation(api):
    _, token = await api.funded_lender("100.00")
    # GraphQL over HTTP: a GET whose query and operationName name a mutation is 405 Method Not Allowed.
    response = await api.http.get("/graphql", params={"query": deposit()}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
    assert "mutations are not allowed when using GET" in response.text
    named = (
        'mutation M { deposit(input: {amount: "1.00", idempotencyKey: "get"}) { __typename } } query Q { __typename }'
    )
    for operation in ("M", None):  # unnamed, the document's first operation decides the method
        params = {"query": named, **({"operationName": operation} if operation else {})}
        response = await api.http.get("/graphql", params=params, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 405, response.text
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


# ---------------------------------------------------------------- origins

APP = "https://app.example"
EVIL = "https://evil.example"


async def test_only_allowed_origins_may_read_responses(database_url, clock):
    async with serve(database_url, clock, allowed_origins=[APP]) as api:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        allowed = await api.http.options("/graphql", headers={"Origin": APP, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers  # no cookies, ever

        refused = await api.http.options("/graphql", headers={"Origin": EVIL, **preflight})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers

        query = {"query": "{ loans { totalCount } }"}
        read = await api.http.post("/graphql", json=query, headers={"Origin": APP})
        assert read.headers["access-control-allow-origin"] == APP
        assert "x-ratelimit-remaining" in read.headers["access-control-expose-headers"].lower()
        foreign = await api.http.post("/graphql", json=query, headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in foreign.headers  # the browser hides the answer
        # A client that is no browser sends no Origin (its POST takes graph/app.py's shortcut): the same
        # answer and limits, and nothing about origins.
        plain = await api.http.post("/graphql", json=query)
        assert plain.status_code == 200 and plain.json() == read.json() == foreign.json()
        assert "x-ratelimit-remaining" in plain.headers
        assert not [name for name in plain.headers if name.startswith("access-control-")]


async def test_without_allowed_origins_no_other_site_may_read_responses(api):
    preflight = {
        "Origin": APP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    assert "access-control-allow-origin" not in (await api.http.options("/graphql", headers=preflight)).headers
    answer = await api.http.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


async def test_cross_origin_websocket_handshakes_are_refused_unless_allowed(database_url, clock):
    async with serve(database_url, clock, websockets=True, allowed_origins=[APP]) as api:
        async with websockets.connect(api.ws_url, subprotocols=["graphql-transport-ws"], origin=APP):
            pass
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(api.ws_url, subprotocols=["graphql-transport-ws"], origin=EVIL):
                pass
        assert refused.value.response.status_code == 403
