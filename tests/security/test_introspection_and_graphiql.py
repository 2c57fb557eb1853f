"""OWASP GraphQL cheat sheet, "Introspection + GraphiQL": what the API tells about itself.

This is an open API: introspection stays on by default, in production too,
because third parties generate their clients from it; INTROSPECTION=0 turns
it off. Production mode never hints at schema names in errors ("Did you
mean ...?") and serves no GraphiQL unless GRAPHIQL=1.
"""

import json

import pytest

from graph.settings import Settings
from tests.conftest import serve
from tests.security.calls import codes
from tests.ws import Socket

SUGGESTING = [
    ("{ loans { totalCont } }", None),  # a field
    ("{ loans(frist: 1) { totalCount } }", None),  # an argument
    ("{ loans(sort: NEWST) { totalCount } }", None),  # an enum value
    ('{ loans(filter: {countrie: ["KE"]}) { totalCount } }', None),  # an input field
    ("query($f: LoanFiltr) { loans(filter: $f) { totalCount } }", None),  # a type
    ("query($s: LoanSort) { loans(sort: $s) { totalCount } }", {"s": "NEWST"}),  # an enum value in variables
    (
        "query($f: LoanFilter) { loans(filter: $f) { totalCount } }",
        {"f": {"countrie": ["KE"]}},
    ),  # an input field in variables
]


@pytest.mark.parametrize(("query", "variables"), SUGGESTING)
async def test_production_errors_suggest_no_schema_names(database_url, clock, query, variables):
    async with serve(database_url, clock) as api:  # development: the hint is there
        body = await api.post(query, variables)
        assert body["errors"] and "Did you mean" in json.dumps(body), body
    async with serve(database_url, clock, production=True) as api:
        body = await api.post(query, variables)
        assert body["errors"], body
        assert "Did you mean" not in json.dumps(body), body


async def test_production_subscriptions_suggest_nothing_and_graphiql_is_off(database_url, clock):
    async with serve(database_url, clock, websockets=True, production=True, graphiql=False) as api:
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
    assert Settings.from_env({"PRODUCTION": "1"}).graphiql is False
    assert Settings.from_env({"PRODUCTION": "1", "GRAPHIQL": "1"}).graphiql is True
    assert Settings.from_env({}).graphiql is True and Settings.from_env({}).production is False


# ---------------------------------------------------------------- introspection

INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Lender") { fields { name } } }',
    "{ loans { totalCount } ...F }\nfragment F on Query { __schema { types { name } } }",  # through a fragment
]


async def test_introspection_is_on_for_an_open_api_in_production_too(database_url, clock):
    async with serve(database_url, clock, production=True) as api:
        body = await api.post("{ __schema { queryType { name } } }")
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_introspection_can_be_turned_off(database_url, clock, query):
    async with serve(database_url, clock, introspection=False, websockets=True) as api:
        body = await api.post(query)
        assert body["data"] is None and codes(body) == ["INTROSPECTION_DISABLED"], body
        async with Socket.open(api.ws_url) as ws:
            await ws.subscribe("i", query)
            reply = await ws.receive("i")
            assert reply["type"] == "error" and reply["payload"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        # __typename is not introspection: clients need it to read unions.
        assert await api.post("{ loans { __typename totalCount } }") == {
            "data": {"loans": {"__typename": "LoanConnection", "totalCount": 0}}
        }


def test_introspection_is_configured_by_environment():
    assert Settings.from_env({}).introspection is True
    assert Settings.from_env({"PRODUCTION": "1"}).introspection is True
    assert Settings.from_env({"INTROSPECTION": "0"}).introspection is False
