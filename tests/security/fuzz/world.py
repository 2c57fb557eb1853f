"""The world the fuzz's examples share: callers' tokens and the global ids of objects of every type."""

from dataclasses import dataclass
from typing import Any

from strawberry.relay import GlobalID

from lending.tokens import PORTFOLIO_READ, SCOPES, authenticate, issue_token
from models import Role
from tests.api import Api, admin_token, partner_token


def pk(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


@dataclass
class World:
    """What the examples share: callers' tokens and the global ids of objects of every type."""

    api: Api
    tokens: dict[str, str | None]
    ids: dict[str, list[str]]  # by type name; "Loan.repaying" and such name single objects
    lender_pks: dict[str, int]  # token name -> lender id, to reissue a revoked lender token
    emails: int = 0

    def __repr__(self) -> str:  # hypothesis prints the test's arguments: keep the world out of the way
        return "World(...)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's pretty printer
        printer.text(repr(self))

    def one(self, name: str) -> str:
        return self.ids[name][0]

    def all_ids(self) -> list[str]:
        return sorted({i for name, ids in self.ids.items() if "." not in name for i in ids})

    async def reissue_revoked_tokens(self) -> None:
        """An example may have revoked a caller's token (revokeApiToken): give the caller a fresh one."""
        for name, lender_id in self.lender_pks.items():
            token = self.tokens[name]
            if token and await authenticate(token) is None:
                scopes = (PORTFOLIO_READ,) if name == "readonly" else SCOPES
                self.tokens[name] = await issue_token(Role.LENDER, lender_id=lender_id, scopes=scopes)


CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
    __typename ... on CreateApiTokenSuccess { apiToken { id } token } } }"""
REVOKE_TOKEN = """mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { __typename } }"""
SAVE_SEARCH = """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
    __typename ... on SaveSearchSuccess { savedSearch { id } } } }"""
MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) { __typename } }"""
MINE = """{ me { id
    portfolio { shares(first: 100) { edges { node { id } } } }
    transactions(first: 100) { edges { node { id } } }
    notifications(first: 100) { edges { node { id } } }
    savedSearches { id } apiTokens { id } } }"""


async def arrange(api: Api) -> World:
    """Two partners (Kenya, Uganda), an admin, two lenders with credit; loans in every state."""
    partner = await partner_token("Juhudi Kilimo", "KE")
    other_partner = await partner_token("Ugafode", "UG")
    admin = await admin_token()
    ada_id, ada = await api.funded_lender("5000.00", "Ada")
    bob_id, bob = await api.funded_lender("30000.00", "Bob")
    await api.data(SAVE_SEARCH, {"input": {"name": "Kenya", "filter": {"countries": ["KE"]}}}, ada)
    await api.data(SAVE_SEARCH, {"input": {"name": "Farms", "filter": {"sectors": ["AGRICULTURE"]}}}, bob)

    loans = {
        "open": await api.loan_id(partner, amount="50000.00"),  # room for many shares
        "small": await api.loan_id(partner, amount="100.00"),
        "funded": await api.loan_id(partner, amount="1000.00"),
        "repaying": await api.loan_id(partner, amount="10000.00"),
        "defaultable": await api.loan_id(partner, amount="1000.00"),
        "foreign": await api.loan_id(other_partner, amount="500.00", countryIsoCode="UG"),
    }
    for name in ("funded", "repaying", "defaultable", "foreign"):
        amount = {"funded": "1000.00", "repaying": "10000.00", "defaultable": "1000.00", "foreign": "500.00"}[name]
        assert (await api.lend(bob, loans[name], amount))["loan"]["status"] == "FUNDED"
    for name in ("repaying", "defaultable"):
        assert (await api.repay(partner, loans[name], "10.00"))["loan"]["status"] == "REPAYING"
    repaid = await api.loan_id(partner, amount="25.00")
    assert (await api.lend(bob, repaid, "25.00"))["loan"]["status"] == "FUNDED"
    assert (await api.repay(partner, repaid, "25.00"))["loan"]["status"] == "REPAID"
    defaulted = await api.loan_id(partner, amount="25.00")
    assert (await api.lend(bob, defaulted, "25.00"))["loan"]["status"] == "FUNDED"
    done = await api.data(MARK_DEFAULT, {"input": {"loanId": defaulted}}, partner)
    assert done["markDefault"]["__typename"] == "MarkDefaultSuccess"
    assert (await api.lend(ada, loans["open"], "25.00"))["__typename"] == "LendSuccess"

    spare = []
    for name in ("spare one", "spare two", "to revoke"):
        made = await api.data(CREATE_TOKEN, {"input": {"name": name, "scopes": ["portfolio:read"]}}, ada)
        spare.append(made["createApiToken"])
    revoked = spare.pop()
    assert (await api.data(REVOKE_TOKEN, {"input": {"id": revoked["apiToken"]["id"]}}, ada))["revokeApiToken"]
    bobs_token = (await api.data(CREATE_TOKEN, {"input": {"name": "b", "scopes": ["lend"]}}, bob))["createApiToken"]

    mine = (await api.data(MINE, token=ada))["me"]
    assert mine["notifications"]["edges"], (
        "Ada's saved search was alerted: markNotificationsRead needs her notifications"
    )
    theirs = (await api.data(MINE, token=bob))["me"]
    partners = await api.data("{ partners { edges { node { id name } } } }")
    partner_ids = {e["node"]["name"]: e["node"]["id"] for e in partners["partners"]["edges"]}

    def nodes(connection: dict) -> list[str]:
        return [edge["node"]["id"] for edge in connection["edges"]]

    ids = {
        "Loan": [*loans.values(), repaid, defaulted],
        "Partner": list(partner_ids.values()),
        "Lender": [ada_id, bob_id],
        "Share": nodes(mine["portfolio"]["shares"]) + nodes(theirs["portfolio"]["shares"]),
        "Transaction": nodes(mine["transactions"]) + nodes(theirs["transactions"]),
        "Notification": nodes(mine["notifications"]) + nodes(theirs["notifications"]),
        "SavedSearch": [s["id"] for s in mine["savedSearches"] + theirs["savedSearches"]],
        # Not the ids of the callers' own tokens: revoking them would only make every later example Forbidden.
        "ApiToken": [t["apiToken"]["id"] for t in spare] + [revoked["apiToken"]["id"], bobs_token["apiToken"]["id"]],
        **{f"Loan.{name}": [gid] for name, gid in loans.items()},
        "Partner.own": [partner_ids["Juhudi Kilimo"]],
        "SavedSearch.own": [mine["savedSearches"][0]["id"]],
        "Notification.own": nodes(mine["notifications"]),
        "ApiToken.own": [spare[0]["apiToken"]["id"], spare[1]["apiToken"]["id"]],
    }
    readonly = await issue_token(Role.LENDER, lender_id=pk(ada_id), scopes=(PORTFOLIO_READ,))
    tokens = {
        None: None,
        "lender": ada,
        "readonly": readonly,  # Ada's, with portfolio:read only
        "other_lender": bob,
        "partner": partner,
        "other_partner": other_partner,
        "admin": admin,
        "revoked": revoked["token"],
        "bogus": "lg_" + "x" * 43,  # shaped like a token, never issued
        "not_bearer": "Basic YWRhOnNlY3JldA==",
    }
    lender_pks = {"lender": pk(ada_id), "readonly": pk(ada_id), "other_lender": pk(bob_id)}
    return World(api=api, tokens=tokens, ids=ids, lender_pks=lender_pks)
