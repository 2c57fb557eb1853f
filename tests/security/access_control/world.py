"""The world: Ada, Bob and Carol, two field partners and an admin, arranged through the API; who owns what."""

import dataclasses
from dataclasses import dataclass

from strawberry.relay import GlobalID

from graph.ids import encode_id
from lending.tokens import LEND, PORTFOLIO_READ, SCOPES
from models import Account, ApiToken, Lender, Notification, Partner, SavedSearch, Share, Transfer
from tests.api import Api, admin_token, partner_token
from tests.security.access_control.documents import CREATE_TOKEN, SAVE_SEARCH, SET_RULE


@dataclass(frozen=True)
class Who:
    """A caller: their token, the lender it signs in as (database id), and its scopes."""

    name: str
    token: str | None
    lender: int | None = None
    scopes: frozenset[str] = frozenset()

    def may(self, owner: int | None, scope: str) -> bool:
        return owner is not None and owner == self.lender and scope in self.scopes


@dataclass
class World:
    api: Api
    ids: dict[str, str]  # global ids: lenders, loans, partners, and Ada's and Bob's named objects
    who: dict[str, Who]
    lenders: dict[int, str]  # lender database id -> display name
    owners: dict[str, int | None]  # private object global id -> owning lender's database id
    # Per lender, the names their own list fields must show them (stable while a test reads them).
    listed: dict[int, dict[str, list[str]]] = dataclasses.field(default_factory=dict)

    def token(self, name: str | None) -> str | None:
        return self.who[name].token if name else None

    async def refresh(self) -> None:
        """Who owns what, from the database (objects made since are included)."""
        self.lenders = dict(await Lender.all().values_list("id", "display_name"))
        owners: dict[str, int | None] = {}
        for model, type_name in (
            (Share, "Share"),
            (Notification, "Notification"),
            (SavedSearch, "SavedSearch"),
            (ApiToken, "ApiToken"),
        ):
            for ident, lender in await model.all().values_list("id", "lender_id"):
                owners[encode_id(type_name, ident)] = lender
        accounts = dict(await Account.filter(lender_id__not_isnull=True).values_list("id", "lender_id"))
        for ident, source, destination in await Transfer.all().values_list("id", "source_id", "destination_id"):
            owners[encode_id("Transaction", ident)] = accounts.get(source) or accounts.get(destination)
        self.owners = owners
        self.listed = {lender: {"apiTokens": [], "savedSearches": []} for lender in self.lenders}
        for model, field in ((ApiToken, "apiTokens"), (SavedSearch, "savedSearches")):
            for lender, name in await model.filter(lender_id__not_isnull=True).values_list("lender_id", "name"):
                self.listed[lender][field].append(name)

    def owned_by(self, lender_name: str, type_name: str) -> list[str]:
        lender = self.lender_id(lender_name)
        return [
            gid
            for gid, owner in self.owners.items()
            if owner == lender and GlobalID.from_id(gid).type_name == type_name
        ]

    def lender_id(self, name: str) -> int:
        return next(ident for ident, display in self.lenders.items() if display == name)


VIEWERS = (
    "anonymous", "Ada", "Ada's read-only token", "Ada's lend-only token", "Bob", "Bob's read-only token", "partner",
    "admin",
)  # fmt: skip
# Money mutations (deposit, withdraw, lend) each lender made while the world was built: Ada 2 + 2, Bob 1 + 2.
MONEY_CALLS = {"Ada": 4, "Bob": 3}


async def ok(api: Api, document: str, input: dict, token: str | None) -> dict:
    result = (await api.data(document, {"input": input}, token))["result"]
    assert "code" not in result, result
    return result


async def build_world(api: Api) -> World:
    partner = await partner_token("Juhudi Kilimo", "KE", "3.5")
    other_partner = await partner_token("Peru Partner", "PE", "2.0")
    admin = await admin_token()
    ada_id, ada = await api.funded_lender("450.00", "Ada")
    assert (await api.deposit(ada, "50.00"))["__typename"] == "DepositSuccess"
    bob_id, bob = await api.funded_lender("400.00", "Bob")
    carol_id, carol = await api.funded_lender("200.00", "Carol")
    await ok(
        api, SET_RULE, {"criteria": {"sectors": ["HEALTH"]}, "amountPerLoan": "25.00", "keepBalance": "100.00"}, ada
    )
    await ok(
        api, SET_RULE, {"criteria": {"sectors": ["HEALTH"]}, "amountPerLoan": "50.00", "keepBalance": "50.00"}, bob
    )
    await ok(api, SAVE_SEARCH, {"name": "Ada's tomatoes", "filter": {"keywords": ["tomatoes"]}, "alert": True}, ada)
    await ok(api, SAVE_SEARCH, {"name": "Bob's bicycles", "filter": {"keywords": ["bicycles"]}, "alert": True}, bob)
    # Ada's and Bob's own funded loans, each repaid in part: shares, repayment transactions, events.
    amina = await api.loan_id(partner, name="Amina", amount="50.00", sector="CLOTHING")
    otieno = await api.loan_id(partner, name="Otieno", amount="50.00", sector="AGRICULTURE", gender="MALE")
    assert (await api.lend(ada, amina, "50.00"))["__typename"] == "LendSuccess"
    assert (await api.lend(bob, otieno, "50.00"))["__typename"] == "LendSuccess"
    assert (await api.repay(partner, amina, "10.00"))["__typename"] == "PostRepaymentSuccess"
    assert (await api.repay(partner, otieno, "10.00"))["__typename"] == "PostRepaymentSuccess"
    # Both rules lend to this one when it is listed (allocations, AUTO_LOAN notifications): Ada 25.00, Bob 50.00.
    shared = await api.loan_id(partner, name="Shared", amount="1000.00", sector="HEALTH", use="to stock a pharmacy")
    # Ada's saved search alerts her (a SAVED_SEARCH_MATCH notification); Bob's does not match.
    wanjiru = await api.loan_id(
        partner, name="Wanjiru", amount="500.00", sector="FOOD", use="to buy tomatoes for her stall"
    )
    # The other partner's loan, lent to by both and funded: the wrong partner will try to repay or default it.
    rosa = await api.loan_id(other_partner, name="Rosa", amount="50.00", countryIsoCode="PE", sector="FOOD")
    assert (await api.lend(ada, rosa, "25.00"))["__typename"] == "LendSuccess"
    assert (await api.lend(bob, rosa, "25.00"))["__typename"] == "LendSuccess"
    tokens = {}
    for owner, key, scopes in (
        (ada, "ada_reader", ["portfolio:read"]),
        (ada, "ada_bot", ["lend"]),
        (bob, "bob_reader", ["portfolio:read"]),
    ):
        created = await ok(api, CREATE_TOKEN, {"name": key, "scopes": scopes}, owner)
        tokens[key] = created

    everything = frozenset(SCOPES)
    world = World(api=api, ids={}, who={}, lenders={}, owners={})
    await world.refresh()
    a, b = world.lender_id("Ada"), world.lender_id("Bob")
    world.who = {
        "anonymous": Who("anonymous", None),
        "Ada": Who("Ada", ada, a, everything),
        "Ada's read-only token": Who(
            "Ada's read-only token", tokens["ada_reader"]["token"], a, frozenset({PORTFOLIO_READ})
        ),
        "Ada's lend-only token": Who("Ada's lend-only token", tokens["ada_bot"]["token"], a, frozenset({LEND})),
        "Bob": Who("Bob", bob, b, everything),
        "Bob's read-only token": Who(
            "Bob's read-only token", tokens["bob_reader"]["token"], b, frozenset({PORTFOLIO_READ})
        ),
        "Carol": Who("Carol", carol, world.lender_id("Carol"), everything),
        "partner": Who("partner", partner),
        "other partner": Who("other partner", other_partner),
        "admin": Who("admin", admin),
    }
    partners = dict(await Partner.all().values_list("name", "id"))
    world.ids = {
        "Ada": ada_id, "Bob": bob_id, "Carol": carol_id,
        "Amina": amina, "Otieno": otieno, "Shared": shared, "Wanjiru": wanjiru, "Rosa": rosa,
        "Juhudi Kilimo": encode_id("Partner", partners["Juhudi Kilimo"]),
        "Peru Partner": encode_id("Partner", partners["Peru Partner"]),
        "Ada's search": world.owned_by("Ada", "SavedSearch")[0],
        "Ada's notification": world.owned_by("Ada", "Notification")[0],
        "Ada's read-only token": tokens["ada_reader"]["apiToken"]["id"],
        "Bob's read-only token": tokens["bob_reader"]["apiToken"]["id"],
        "Ada's Amina share": encode_id("Share", (await Share.get(lender_id=a, loan__name="Amina")).id),
    }  # fmt: skip
    # Every viewer has made a request: later ones write nothing (last_seen_at), so snapshots stay equal.
    for viewer in world.who.values():
        await api.post("{ me { id } }", token=viewer.token)
    return world
