"""Bad subscriptions get a clear GraphQL error, and the socket stays usable."""

import json

import pytest
import websockets

from tests.api import partner_token
from tests.subscriptions.documents import LISTED, MINE, PROGRESS
from tests.ws import Socket


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (MINE, {}, "Sign in"),
        (PROGRESS, {"loanId": "TG9hbjo5OTk="}, "No loan with id"),
        (PROGRESS, {"loanId": "not-an-id"}, "No loan with id"),
        (PROGRESS, {"loanId": "UGFydG5lcjox"}, "No loan with id"),  # a Partner's id
        (LISTED, {"after": "yesterday"}, "after must be an eventId"),
        (LISTED, {"after": "-1"}, "after must be an eventId"),
        (LISTED, {"filter": {"countries": ["ZZ"]}}, "Unknown country code"),
        (LISTED, {"filter": {"sectors": ["SPACE"]}}, "SPACE"),
    ],
)
async def test_bad_subscription_is_an_error_and_the_socket_lives_on(live, query, variables, message):
    partner = await partner_token()
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("bad", query, variables)
        reply = await ws.receive("bad")
        errors = reply["payload"] if reply["type"] == "error" else reply["payload"].get("errors")
        assert errors and message in errors[0]["message"], reply
        # The same socket still serves a good subscription.
        await ws.subscribe("good", LISTED)
        await live.loan_id(partner, name="Amina")
        assert (await ws.next("good"))["loanListed"]["loan"]["name"] == "Amina"


async def test_a_bad_token_leaves_the_socket_anonymous(live):
    _, ada = await live.register("Ada")
    async with Socket.open(live.ws_url, token="lg_wrong") as ws:
        await ws.subscribe("me", MINE)
        reply = await ws.receive("me")
        assert "Sign in" in json.dumps(reply)
    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("me", MINE)
        assert await ws.nothing_for("me", 0.2)  # accepted, waiting for events


async def test_the_legacy_graphql_ws_protocol_works_too(live):
    partner = await partner_token()
    async with websockets.connect(live.ws_url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": LISTED}}))
        await live.loan_id(partner, name="Amina")
        while (message := json.loads(await ws.recv()))["type"] == "ka":
            pass
        assert message["type"] == "data" and message["payload"]["data"]["loanListed"]["loan"]["name"] == "Amina"
