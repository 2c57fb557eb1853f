"""A revoked token is revoked on open WebSockets too, on both protocols.

A socket signs in once, with the token in its connection_init payload, and
may stay open for days. Once `revokeApiToken` commits, the socket runs no
further operation (query, mutation or subscription) and is closed with 4403:

- each operation first reads its socket's token, so a revocation committed by
  any process refuses the next operation, even before this process's hub has
  read it from the outbox;
- the hub, when it reads the revocation, stops the socket's running
  subscriptions and closes it at once, without waiting for their next event.

Other sockets of the same lender, signed in with other tokens, stay open.
"""

import pytest

from models import Transfer, TransferKind
from tests.api import new_key, partner_token
from tests.graph.api_tokens import REVOKE, make_token
from tests.snapshot import changes, snapshot
from tests.ws_protocols import PROTOCOLS, Client

WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) {
  __typename ... on UserError { code message } ... on WithdrawSuccess { lender { balance } } } }"""
MY_EVENTS = "subscription { myEvents { __typename } }"
LISTED = "subscription { loanListed { loan { name } } }"

protocols = pytest.mark.parametrize("protocol", sorted(PROTOCOLS))


async def revoke(api, owner: str, token_id: str) -> None:
    revoked = (await api.data(REVOKE, {"id": token_id}, owner))["revokeApiToken"]
    assert revoked["apiToken"]["revokedAt"] is not None, revoked


@protocols
async def test_a_withdrawal_on_a_socket_whose_token_was_revoked_is_refused_and_the_socket_closed(live, protocol):
    _, owner = await live.funded_lender("100.00")
    token_id, bot = await make_token(live, owner, "lend", "portfolio:read")
    async with Client.open(live.ws_url, PROTOCOLS[protocol], bot) as ws:
        await ws.start("events", MY_EVENTS)  # signed in: accepted, waiting for events
        await revoke(live, owner, token_id)
        before = await snapshot()
        await ws.start("withdraw", WITHDRAW, {"input": {"amount": "60.00", "idempotencyKey": new_key()}})
        closed = await ws.closed()
        assert (closed.code, closed.reason) == (4403, "Token revoked")
        assert ws.results_for("withdraw") == []
    after = await snapshot()
    assert after == before, changes(before, after)
    assert await live.balance(owner) == "100.00"
    assert await Transfer.filter(kind=TransferKind.WITHDRAWAL).count() == 0


@protocols
async def test_revocation_stops_running_subscriptions_and_closes_the_socket_at_once(live, protocol):
    _, owner = await live.register()
    token_id, reader = await make_token(live, owner, "portfolio:read")
    partner = await partner_token()
    async with (
        Client.open(live.ws_url, PROTOCOLS[protocol], reader) as ws,
        Client.open(live.ws_url, PROTOCOLS[protocol], owner) as owners,
    ):
        for client in (ws, owners):
            await client.start("events", MY_EVENTS)
            await client.start("listed", LISTED)
        await live.loan_id(partner, name="Before")
        for client in (ws, owners):
            assert (await client.result("listed"))["loanListed"]["loan"]["name"] == "Before"
        await revoke(live, owner, token_id)
        # No event comes for either subscription: the socket is closed all the same.
        closed = await ws.closed()
        assert (closed.code, closed.reason) == (4403, "Token revoked")
        # The owner's socket, signed in with another token, goes on.
        await live.loan_id(partner, name="After")
        assert (await owners.result("listed"))["loanListed"]["loan"]["name"] == "After"


@protocols
async def test_a_revocation_the_hub_has_not_read_yet_refuses_the_next_operation(live, protocol):
    """As when another process revoked the token: this process's hub (stopped here) has not read it."""
    _, owner = await live.funded_lender("100.00")
    token_id, bot = await make_token(live, owner, "lend", "portfolio:read")
    async with Client.open(live.ws_url, PROTOCOLS[protocol], bot) as ws:
        await ws.start("events", MY_EVENTS)
        await live.app.state.graphql.hub.stop()
        await revoke(live, owner, token_id)
        before = await snapshot()
        await ws.start("withdraw", WITHDRAW, {"input": {"amount": "60.00", "idempotencyKey": new_key()}})
        await ws.start("again", MY_EVENTS)
        closed = await ws.closed()
        assert (closed.code, closed.reason) == (4403, "Token revoked")
        assert ws.results_for("withdraw") == []
    after = await snapshot()
    assert after == before, changes(before, after)
    assert await live.balance(owner) == "100.00"


async def test_operations_before_the_revocation_ran(live):
    """The check refuses only what comes after the revocation: the same socket withdrew before it."""
    _, owner = await live.funded_lender("100.00")
    token_id, bot = await make_token(live, owner, "lend")
    async with Client.open(live.ws_url, PROTOCOLS["graphql-transport-ws"], bot) as ws:
        await ws.start("first", WITHDRAW, {"input": {"amount": "10.00", "idempotencyKey": new_key()}})
        assert (await ws.result("first"))["withdraw"]["__typename"] == "WithdrawSuccess"
        await revoke(live, owner, token_id)
        await ws.start("second", WITHDRAW, {"input": {"amount": "10.00", "idempotencyKey": new_key()}})
        closed = await ws.closed()
        assert closed.code == 4403
        assert ws.results_for("second") == []
    assert await live.balance(owner) == "90.00"
    assert await Transfer.filter(kind=TransferKind.WITHDRAWAL).count() == 1
