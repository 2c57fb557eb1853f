"""Log amplification: what one bad request can make the server write to its log.

A request's client errors (parse, validation, limits, variables, a refused
request) are one line of a few hundred bytes, however many errors the request
holds and however long their messages. An unexpected exception is logged once,
with its traceback, under the id the client sees (graph/pipeline.py masked).

The log is captured as production has it: nothing sets the strawberry or
lendgraph loggers, so they log from WARNING up, as the root logger does.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.errorlog import clip
from graph.settings import Settings
from tests.api import partner_token
from tests.conftest import serve
from tests.security.calls import bearer, deposit
from tests.ws import Socket

LINE_BYTES = 1024  # the most one request may write to the log
BODY_LIMIT = Settings.max_body_bytes


@pytest.fixture
def production_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    for name in ("strawberry", "lendgraph", "strawberry.execution", "lendgraph.requests", "lendgraph.errors"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    return caplog


async def logged(caplog: pytest.LogCaptureFixture, send: Callable[[], Awaitable[Any]]) -> list[str]:
    """The log lines (with any traceback) written while `send` runs."""
    caplog.clear()
    await send()
    return [caplog.handler.format(record) for record in caplog.records]


def assert_one_short_line(lines: list[str], what: str) -> None:
    assert len(lines) == 1, f"{what}: {len(lines)} records, {sum(len(line) for line in lines)} bytes: {lines[:3]}"
    [line] = lines
    assert len(line.encode()) < LINE_BYTES and "\n" not in line, f"{what}: {len(line.encode())} bytes: {line[:2000]}"


def fits(query: str) -> str:
    body = json.dumps({"query": query})
    assert len(body) < BODY_LIMIT, len(body)
    return query


def huge_string(prefix: str, suffix: str) -> str:
    """A document just under the body limit whose one string literal makes the error message huge."""
    room = BODY_LIMIT - len(json.dumps({"query": prefix + suffix})) - 16
    return fits(prefix + "x" * room + suffix)


ERROR_HEAVY = {
    "500 unknown directives": "{ __typename " + " ".join(f"@invalid{i:03}" for i in range(500)) + " }",
    "1500 undefined fields": "{ " + " ".join(f"nosuchfield{i}" for i in range(1500)) + " }",
    "200 fragments on unknown types": "query { ...F0 } "
    + " ".join(f"fragment F{i} on NoSuchType{i} {{ ...F{i + 1} missing{i} }}" for i in range(199))
    + " fragment F199 on Query { ...F0 }",
    "a cycle of 150 fragments": "query { ...C0 } "
    + " ".join(f"fragment C{i} on Query {{ ...C{(i + 1) % 150} nope{i} }}" for i in range(150)),
    "a syntax error holding 64 KB": huge_string('{ loans { "', '" } }'),
    "an unknown operation name of 64 KB": "query Q { __typename }",
    "too many tokens": "{ " + "__typename " * 2100 + "}",
    "a 64 KB field name": huge_string("{ ", " }").replace('"', ""),
}


async def test_an_error_heavy_request_is_one_short_line(api, production_log):
    for name, query in ERROR_HEAVY.items():
        body: dict[str, Any] = {"query": query}
        if name.startswith("an unknown operation"):
            body["operationName"] = "O" * (BODY_LIMIT - 200)

        async def send(body: dict[str, Any] = body, name: str = name) -> None:
            response = await api.http.post("/graphql", json=body)
            assert response.status_code == 200 and response.json()["errors"], (name, response.text[:500])

        assert_one_short_line(await logged(production_log, send), name)


async def test_five_hundred_unknown_directives_wrote_a_hundred_kilobytes(api, production_log):
    """The request of the report: 5.5 KB in, one line out (strawberry alone logged every error with its source)."""
    query = "{ __typename " + " ".join(f"@invalid{i:03}" for i in range(500)) + " }"
    assert 5_000 < len(json.dumps({"query": query})) < 6_500

    async def send() -> None:
        response = await api.http.post("/graphql", json={"query": query})
        assert len(response.json()["errors"]) > 100  # graphql-core stops validating after 100

    lines = await logged(production_log, send)
    assert_one_short_line(lines, "500 unknown directives")
    assert "101 GraphQL errors" in lines[0] and "invalid000" in lines[0]


async def test_a_variable_list_of_bad_items_is_one_short_line(api, production_log):
    query = "query($c: [String!]) { loans(filter: {countries: $c}) { totalCount } }"
    count = (BODY_LIMIT - 200) // 2  # [1,1,1,...]: two bytes an item

    async def send() -> None:
        response = await api.http.post("/graphql", json={"query": query, "variables": {"c": [1] * count}})
        assert response.status_code == 200 and response.json()["errors"], response.text[:300]

    assert_one_short_line(await logged(production_log, send), "bad variables")


@pytest.mark.parametrize(
    "body",
    [b'{"query": "' + b"x" * (BODY_LIMIT - 100), b"[" * 5000, json.dumps([{"query": "{ a }"}] * 500).encode()],
    ids=["unreadable JSON", "nested arrays", "a batch"],
)
async def test_a_malformed_request_is_one_short_line(api, production_log, body):
    async def send() -> None:
        response = await api.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text[:300]

    assert_one_short_line(await logged(production_log, send), "malformed")


async def test_error_heavy_operations_over_a_websocket_are_one_short_line_each(live, production_log):
    async with Socket.open(live.ws_url) as ws:
        for number, name in enumerate(["500 unknown directives", "1500 undefined fields", "a 64 KB field name"]):
            # A WebSocket message has the same 64 KB limit as a body: keep the text of the largest under it.
            query = (
                ERROR_HEAVY[name][: BODY_LIMIT - 1000] + " }" if len(ERROR_HEAVY[name]) > 60_000 else ERROR_HEAVY[name]
            )

            async def send(op: str = f"op{number}", query: str = query) -> None:
                await ws.subscribe(op, query)
                assert (await ws.receive(op))["type"] == "error"

            assert_one_short_line(await logged(production_log, send), name)


async def test_an_unexpected_error_is_logged_once_with_its_traceback(api, production_log, monkeypatch):
    partner = await partner_token()
    loan = await api.loan_id(partner)

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("the bug")

    monkeypatch.setattr("graph.types.lenders.lenders_of_loan", boom)

    async def send() -> None:
        body = await api.post("query($id: ID!) { loan(id: $id) { lenders { totalCount } } }", {"id": loan})
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL"

    production_log.clear()
    await send()
    records = production_log.records
    assert [(r.name, bool(r.exc_info)) for r in records] == [("lendgraph.errors", True)], [
        (r.name, r.getMessage()[:200]) for r in records
    ]
    assert "the bug" in production_log.handler.format(records[0])


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_a_clipped_message_is_one_printable_line_within_its_limit(text):
    line = clip(text, 300)
    assert len(line) <= 300 and line.isprintable() and "\n" not in line
    if text.isprintable() and " ".join(text.split()) == text and len(text) <= 300:
        assert line == text


async def test_requests_refused_for_the_rate_limit_log_nothing(database_url, clock, production_log):
    """Each would be a line: a client over its limit could then write to the log as fast as it sends."""
    async with serve(database_url, clock, rate_limit_money_per_lender=1) as api:
        _, ada = await api.funded_lender("100.00")  # its one deposit

        async def send() -> None:
            for _ in range(20):
                response = await api.http.post("/graphql", json={"query": deposit()}, headers=bearer(ada))
                assert response.status_code == 429

        assert await logged(production_log, send) == []


async def test_a_well_formed_request_logs_nothing(api, production_log):
    _, token = await api.funded_lender("100.00")

    async def send() -> None:
        response = await api.http.post("/graphql", json={"query": "{ me { balance } }"}, headers=bearer(token))
        assert response.json() == {"data": {"me": {"balance": "100.00"}}}

    assert await logged(production_log, send) == []
