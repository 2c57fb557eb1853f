"""Third-party clients work against the API unmodified: Python's `gql` and the reference JavaScript `graphql-ws`.

The `live` fixture serves the app in memory for the test's own HTTP calls and on
a real port for WebSockets; uvicorn answers HTTP on that port too, which is what
gql's HTTP transport uses here.

The JavaScript test installs `tests/subscriptions/js` (exact versions, from its
package-lock.json) with `npm ci` once into a cache directory
(`$LENDGRAPH_JS_CACHE`, by default ~/.cache/lendgraph/js-<lockfile hash>) and
reuses it while the lockfile is unchanged. It is skipped only where Node.js is
not installed; with Node.js present, a failed install fails the test.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import GraphQLError

from tests.api import Api, new_key, partner_token
from tests.node import node_script
from tests.polling import until
from tests.subscriptions.documents import LISTED, MINE

JS_DIR = Path(__file__).parent / "js"
TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL  # "graphql-ws"


def http_url(live: Api) -> str:
    """The HTTP endpoint uvicorn serves on the WebSocket port."""
    return "http" + live.ws_url.removeprefix("ws")


async def subscribers(live: Api, count: int, process: asyncio.subprocess.Process | None = None) -> None:
    """Wait until the hub has `count` subscribers: subscriptions sent are then really listening."""
    hub = live.app.state.graphql.hub

    async def listening() -> bool:
        if hub.subscriber_count() >= count:
            return True
        if process is not None and process.returncode is not None:
            out, err = await process.communicate()
            code = process.returncode
            pytest.fail(f"the client exited ({code}) before subscribing: {out.decode()} {err.decode()}")
        return False

    await until(listening, f"{count} subscribers")


async def first(results: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first `count` results of a subscription, which then ends (the client sends `complete`)."""
    received = []
    async with aclosing(results):
        async for result in results:
            received.append(result)
            if len(received) == count:
                break
    return received


async def arrange_events(live: Api, ada: str) -> None:
    """Listings in Peru and Kenya; Ada's loan is funded and repaid in part."""
    peru = await partner_token("Peru Partner", "PE", "2.0")
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    _, bob = await live.funded_lender("25.00", "Bob")
    await live.loan_id(peru, name="Rosa", countryIsoCode="PE", sector="FOOD")
    amina = await live.loan_id(kenya, name="Amina", amount="50.00")
    assert (await live.lend(ada, amina))["__typename"] == "LendSuccess"
    assert (await live.lend(bob, amina))["__typename"] == "LendSuccess"
    assert (await live.repay(kenya, amina, "10.00"))["__typename"] == "PostRepaymentSuccess"
    await live.loan_id(kenya, name="Wanjiru", sector="FOOD")


def check_my_events(events: list[dict[str, Any]]) -> None:
    funded, credited = events
    assert funded["__typename"] == "LoanFunded" and funded["loan"] == {"name": "Amina", "status": "FUNDED"}
    assert credited["__typename"] == "RepaymentCredited" and credited["amount"] == "5.00"
    assert credited["loan"] == {"name": "Amina"} and funded["eventId"] < credited["eventId"]


def check_listings(events: list[dict[str, Any]]) -> None:
    assert [e["loan"]["name"] for e in events] == ["Amina", "Wanjiru"]
    assert all(e["loan"]["country"] == {"isoCode": "KE"} for e in events)
    assert events[0]["eventId"] < events[1]["eventId"]


# --- gql (Python)


async def test_gql_http_transport_runs_queries_and_mutations(live):
    _, ada = await live.funded_lender("100.00", "Ada")
    transport = HTTPXAsyncTransport(url=http_url(live), headers={"Authorization": f"Bearer {ada}"}, timeout=10)
    # fetch_schema_from_transport: gql introspects the API and validates each document against it first.
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        assert session.client.schema.get_type("LendResult") is not None
        me = await session.execute(gql("query Me { me { displayName balance } }"))
        assert me == {"me": {"displayName": "Ada", "balance": "100.00"}}
        deposit = GraphQLRequest(
            """mutation Deposit($input: DepositInput!) { deposit(input: $input) {
                 __typename ... on DepositSuccess { lender { balance } } ... on UserError { code message } } }""",
            variable_values={"input": {"amount": "25.00", "idempotencyKey": new_key()}},
        )
        deposited = (await session.execute(deposit))["deposit"]
        assert deposited == {"__typename": "DepositSuccess", "lender": {"balance": "125.00"}}
        # A typed user error is data, not an exception.
        withdraw = GraphQLRequest(
            """mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) {
                 __typename ... on InsufficientCredit { needed available } } }""",
            variable_values={"input": {"amount": "500.00", "idempotencyKey": new_key()}},
        )
        refused = (await session.execute(withdraw))["withdraw"]
        assert refused == {"__typename": "InsufficientCredit", "needed": "500.00", "available": "125.00"}
        # A document that does not fit the schema is refused by gql itself, before it is sent.
        with pytest.raises(GraphQLError, match="nosuchfield"):
            await session.execute(gql("{ me { nosuchfield } }"))
    assert await live.balance(ada) == "125.00"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_gql_websockets_transport_follows_my_events_and_listings(live, protocol):
    _, ada = await live.funded_lender("25.00", "Ada")
    transport = WebsocketsTransport(
        url=live.ws_url, subprotocols=[protocol], init_payload={"authorization": f"Bearer {ada}"}
    )
    async with Client(transport=transport) as session:
        assert transport.subprotocol == protocol
        mine = asyncio.create_task(first(session.subscribe(gql(MINE)), 2))
        listed = GraphQLRequest(LISTED, variable_values={"filter": {"countries": ["KE"]}})
        listings = asyncio.create_task(first(session.subscribe(listed), 2))
        await subscribers(live, 2)
        await arrange_events(live, ada)
        async with asyncio.timeout(10):
            my_events, listing_events = await mine, await listings
    check_my_events([e["myEvents"] for e in my_events])
    check_listings([e["loanListed"] for e in listing_events])


async def test_gql_sees_a_refused_subscription_as_a_query_error(live):
    transport = WebsocketsTransport(url=live.ws_url, subprotocols=[TRANSPORT_WS])  # no token
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError, match="Sign in"):
            async with asyncio.timeout(10):
                await first(session.subscribe(gql(MINE)), 1)


# --- graphql-ws (JavaScript)


@pytest.fixture(scope="session")
def graphql_ws_client() -> list[str]:
    """The command that runs js/subscribe.mjs with its pinned dependencies installed."""
    return node_script(JS_DIR, "subscribe.mjs")


async def start_js(command: list[str], live: Api, query: str, variables: dict | None = None, **spec: Any):
    spec = {"query": query, "variables": variables or {}, "timeoutMs": 15_000, **spec}
    return await asyncio.create_subprocess_exec(
        *command, live.ws_url, json.dumps(spec), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def js_results(process: asyncio.subprocess.Process) -> tuple[int, list[dict[str, Any]], str]:
    out, err = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode, [json.loads(line) for line in out.decode().splitlines()], err.decode()


async def test_graphql_ws_reference_client_follows_my_events_and_listings(live, graphql_ws_client):
    _, ada = await live.funded_lender("25.00", "Ada")
    mine = await start_js(graphql_ws_client, live, MINE, token=ada, count=2)
    listings = await start_js(graphql_ws_client, live, LISTED, {"filter": {"countries": ["KE"]}}, count=2)
    await subscribers(live, 1, process=mine)
    await subscribers(live, 2, process=listings)
    await arrange_events(live, ada)
    (code_mine, my_events, err_mine), (code_listed, listing_events, err_listed) = await asyncio.gather(
        js_results(mine), js_results(listings)
    )
    assert code_mine == 0 and "connected" in err_mine, (code_mine, my_events, err_mine)
    assert code_listed == 0, (code_listed, listing_events, err_listed)
    assert all(set(result) == {"data"} for result in my_events + listing_events)
    check_my_events([result["data"]["myEvents"] for result in my_events])
    check_listings([result["data"]["loanListed"] for result in listing_events])
    # Both clients completed their subscription and closed: the server let go of them.
    await asyncio.sleep(0.2)
    assert live.app.state.graphql.hub.subscriber_count() == 0


async def test_graphql_ws_reference_client_gets_a_refused_subscription_as_errors(live, graphql_ws_client):
    code, lines, err = await js_results(await start_js(graphql_ws_client, live, MINE, count=1))  # no token
    # The refusal comes as a result with `errors` (the resolver raised once the stream started) or as an
    # `error` message (exit code 1): the protocol allows both; either way the client sees the reason.
    (line,) = lines
    errors = line.get("errors") if code == 0 else line["error"]
    assert code in (0, 1) and errors and "Sign in" in errors[0]["message"], (code, lines, err)
    await asyncio.sleep(0.2)
    assert live.app.state.graphql.hub.subscriber_count() == 0
