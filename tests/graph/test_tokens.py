"""Scoped API tokens: what each scope allows, listing, and immediate revocation."""

import pytest
import websockets

from lending.tokens import SCOPES
from models import ApiToken, Transfer
from tests.api import new_key, partner_token
from tests.graph.api_tokens import CREATE, REVOKE, make_token
from tests.snapshot import changes, snapshot
from tests.ws import Socket


async def test_a_read_only_token_reads_the_portfolio_but_cannot_move_money(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, owner = await api.funded_lender("100.00")
    await api.lend(owner, loan_id, "25.00")
    _, reader = await make_token(api, owner, "portfolio:read")
    me = (await api.data("{ me { balance portfolio { stats { lent } } } }", token=reader))["me"]
    assert me == {"balance": "75.00", "portfolio": {"stats": {"lent": "25.00"}}}
    transfers = await Transfer.all().count()
    assert (await api.deposit(reader, "10.00"))["__typename"] == "Forbidden"
    refused = await api.lend(reader, loan_id, "25.00")
    assert (refused["__typename"], refused["message"]) == ("Forbidden", "This token lacks the lend scope.")
    assert await Transfer.all().count() == transfers


async def test_a_lend_only_token_lends_but_reads_no_money(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, owner = await api.funded_lender("100.00")
    _, bot = await make_token(api, owner, "lend")
    assert (await api.lend(bot, loan_id, "25.00"))["__typename"] == "LendSuccess"
    me = (
        await api.data(
            "{ me { displayName balance portfolio { stats { lent } } notifications { totalCount } } }", token=bot
        )
    )["me"]
    assert me == {"displayName": "Ada", "balance": None, "portfolio": None, "notifications": None}
    assert (await api.data(CREATE, {"input": {"name": "x", "scopes": ["lend"]}}, bot))["createApiToken"][
        "__typename"
    ] == "Forbidden"


@pytest.mark.parametrize("scopes", [[], ["admin"], ["lend", "portfolio:write"]])
async def test_unknown_scopes_are_refused(api, scopes):
    _, owner = await api.register()
    result = (await api.data(CREATE, {"input": {"name": "x", "scopes": scopes}}, owner))["createApiToken"]
    assert (result["__typename"], result["field"]) == ("InvalidInput", "scopes")
    assert await ApiToken.all().count() == 1


async def test_tokens_are_listed_without_secrets_and_revoked_at_once(api, clock):
    _, owner = await api.register()
    token_id, third = await make_token(api, owner, "portfolio:read", name="budget app")
    listed = (await api.data("{ me { apiTokens { name scopes revokedAt } } }", token=owner))["me"]["apiTokens"]
    assert listed[0] == {"name": "budget app", "scopes": ["portfolio:read"], "revokedAt": None}
    assert third not in str(listed)
    assert (await api.data("{ me { apiTokens { name } } }", token=third))["me"]["apiTokens"] == []  # no tokens:manage
    assert (await api.data("{ me { balance } }", token=third))["me"]["balance"] == "0.00"
    revoked = (await api.data(REVOKE, {"id": token_id}, owner))["revokeApiToken"]
    assert revoked["apiToken"]["revokedAt"] is not None
    assert (await api.data("{ me { balance } }", token=third))["me"] is None


async def test_a_lender_cannot_revoke_another_lenders_token(api):
    _, ada = await api.register("Ada")
    _, bob = await api.register("Bob")
    token_id, _ = await make_token(api, ada, "lend")
    result = (await api.data(REVOKE, {"id": token_id}, bob))["revokeApiToken"]
    assert result["__typename"] == "NotFound"
    assert await ApiToken.filter(revoked_at__not_isnull=True).count() == 0


async def test_revocation_closes_open_websockets_on_their_next_event(live):
    _, owner = await live.register()
    token_id, third = await make_token(live, owner, "portfolio:read")
    partner = await partner_token()
    async with Socket.open(live.ws_url, token=third) as ws:
        await ws.subscribe("l", "subscription { loanListed { loan { name } } }")
        await live.loan_id(partner, name="Before")
        assert (await ws.next("l"))["loanListed"]["loan"]["name"] == "Before"
        await live.data(REVOKE, {"id": token_id}, owner)
        await live.loan_id(partner, name="After")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive("l", 10)
        assert closed.value.rcvd.code == 4403


async def test_partner_and_admin_tokens_cannot_make_lender_tokens(api):
    partner = await partner_token()
    result = (await api.data(CREATE, {"input": {"name": "x", "scopes": ["lend"]}}, partner))["createApiToken"]
    assert result["__typename"] == "Forbidden"
    assert (await api.deposit(partner, "10.00", key=new_key()))["__typename"] == "Forbidden"


# Every mutation a lender token may be scoped out of: (field, input type, the scope it needs).
SCOPED_MUTATIONS = [
    ("deposit", "DepositInput", "lend"),
    ("withdraw", "WithdrawInput", "lend"),
    ("lend", "LendInput", "lend"),
    ("saveSearch", "SaveSearchInput", "searches:write"),
    ("deleteSavedSearch", "DeleteSavedSearchInput", "searches:write"),
    ("setAutoLendRule", "AutoLendRuleInput", "autolend:write"),
    ("createApiToken", "CreateApiTokenInput", "tokens:manage"),
    ("revokeApiToken", "RevokeApiTokenInput", "tokens:manage"),
    ("markNotificationsRead", "MarkNotificationsReadInput", "notifications:write"),
]


async def scoped_world(api) -> tuple[str, dict[str, dict]]:
    """A lender with credit, a loan to lend to, a saved search and a spare token; a valid input for each mutation."""
    loan_id = await api.loan_id(await partner_token(), amount="500.00")
    _, owner = await api.funded_lender("100.00")
    saved = await api.save_search(owner, "Kenya", {"countries": ["KE"]})
    spare_id, _ = await make_token(api, owner, "lend", name="spare")
    await api.loan_id(await partner_token("Another Kenyan partner"))  # the saved search alerts the owner
    alerts = await api.data("{ me { notifications { edges { node { id } } } } }", token=owner)
    inputs = {
        "deposit": {"amount": "10.00", "idempotencyKey": new_key()},
        "withdraw": {"amount": "10.00", "idempotencyKey": new_key()},
        "lend": {"loanId": loan_id, "amount": "25.00", "idempotencyKey": new_key()},
        "saveSearch": {"name": "Peru", "filter": {"countries": ["PE"]}},
        "deleteSavedSearch": {"id": saved["savedSearch"]["id"]},
        "setAutoLendRule": {"amountPerLoan": "25.00"},
        "createApiToken": {"name": "another", "scopes": ["tokens:manage"]},
        "revokeApiToken": {"id": spare_id},
        "markNotificationsRead": {"ids": [edge["node"]["id"] for edge in alerts["me"]["notifications"]["edges"]]},
    }
    return owner, inputs


@pytest.mark.parametrize(("field", "input_type", "scope"), SCOPED_MUTATIONS, ids=[m[0] for m in SCOPED_MUTATIONS])
async def test_every_scoped_mutation_needs_its_scope_and_nothing_else_will_do(api, field, input_type, scope):
    owner, inputs = await scoped_world(api)
    mutation = f"""mutation($input: {input_type}!) {{ {field}(input: $input) {{
      __typename ... on UserError {{ message }} }} }}"""
    # Every other scope, but not this one.
    _, without = await make_token(api, owner, *[s for s in SCOPES if s != scope])
    _, only = await make_token(api, owner, scope)
    for token in (without, only):  # first use recorded now: the snapshot below must not see it change
        await api.data("{ me { displayName } }", token=token)
    before = await snapshot()
    refused = (await api.data(mutation, {"input": inputs[field]}, without))[field]
    assert refused["__typename"] == "Forbidden" and scope in refused["message"], refused
    after = await snapshot()
    assert after == before, changes(before, after)
    # The scope alone is enough.
    allowed = (await api.data(mutation, {"input": inputs[field]}, only))[field]
    assert allowed["__typename"].endswith("Success"), allowed


async def test_a_token_that_may_only_manage_tokens_cannot_make_one_that_moves_money(api):
    _, owner = await api.funded_lender("100.00")
    _, manager = await make_token(api, owner, "tokens:manage")
    await api.data("{ me { displayName } }", token=manager)  # first use recorded before the snapshot
    before = await snapshot()
    for scopes in (list(SCOPES), ["lend"], ["tokens:manage", "portfolio:read"]):
        refused = (await api.data(CREATE, {"input": {"name": "escalated", "scopes": scopes}}, manager))[
            "createApiToken"
        ]
        assert refused["__typename"] == "Forbidden", refused
        assert (
            refused["message"]
            == "A token may grant only scopes it holds; this one lacks "
            + ", ".join(s for s in SCOPES if s in scopes and s != "tokens:manage")
            + "."
        ), refused
    after = await snapshot()
    assert after == before, changes(before, after)  # no token made
    # What it holds, it may grant.
    _, heir = await make_token(api, manager, "tokens:manage", name="heir")
    assert (await api.data(CREATE, {"input": {"name": "x", "scopes": ["lend"]}}, heir))["createApiToken"][
        "__typename"
    ] == "Forbidden"
    assert await api.balance(owner) == "100.00"
    assert await Transfer.filter(kind="WITHDRAWAL").count() == 0


async def test_a_token_grants_any_part_of_what_it_holds(api):
    _, owner = await api.register()
    _, lender_bot = await make_token(api, owner, "lend", "portfolio:read", "tokens:manage")
    _, reader = await make_token(api, lender_bot, "portfolio:read", name="reader")
    assert (await api.data("{ me { balance } }", token=reader))["me"]["balance"] == "0.00"
    refused = await api.data(CREATE, {"input": {"name": "x", "scopes": ["lend", "searches:write"]}}, lender_bot)
    assert refused["createApiToken"]["__typename"] == "Forbidden"
    assert "searches:write" in refused["createApiToken"]["message"]
    assert await ApiToken.filter(name="x").count() == 0
