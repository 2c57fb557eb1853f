"""OWASP GraphQL cheat sheet, "Access Control" (data access, query and mutation access, IDOR).

The two-user authorization suite: every way Bob (or an anonymous caller, a partner,
an admin, or one of Ada's own narrow third-party tokens) could read or touch Ada's
private data, tried against every Query field, node type, connection, mutation that
takes an id, and subscription.

The world: Ada and Bob, each with credit, shares (one repaid in part, so there are
repayment transactions), auto-lend rules that lent to the same loan (so that loan has
allocations from both), notifications (auto-loans, and a saved-search alert for Ada),
saved searches and extra API tokens; plus Carol (a third lender), two field partners
and an admin. Ada and Bob differ in every private value (balance, rule amount, search)
so that a value seen by the wrong viewer is recognisable.

How responses are judged (`Audit`): every document asks `__typename` on each Lender,
private node and Allocation it reaches, so a generic walk of any response can check
that a Lender's private fields are null (or an empty list) unless the viewer is that
lender with the scope the field needs, and not null when they are (the suite fails
both ways); that a Share, Transaction, Notification, SavedSearch or ApiToken appears
only to its owner; and that an allocation names its lender only to that lender. The
ground truth of who owns what is read from the database, not from the API under test.

Coverage is checked against the schema itself (`test_the_suite_covers_the_whole_schema`):
every Query and Subscription field, every type implementing Node, every connection,
every field that returns a lender's private type, every mutation that takes an id and
every private Lender field must be exercised by a document or table row of this suite,
so adding one without an authorization case fails.
"""

import contextlib
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLUnionType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    validate,
    visit,
)
from strawberry.permission import PermissionExtension
from strawberry.relay import GlobalID

from graph.ids import encode_id
from graph.permissions import CanManageTokens, CanReadPortfolio
from graph.schema import schema
from lending.loans import expire_loans
from lending.tokens import LEND, PORTFOLIO_READ, SCOPES, TOKENS_MANAGE
from models import (
    Account,
    ApiToken,
    Event,
    Lender,
    Notification,
    Partner,
    SavedSearch,
    Share,
    Transfer,
)
from tests.api import Api, admin_token, new_key, partner_token
from tests.snapshot import changes, snapshot
from tests.ws import Socket

GQL = schema._schema

# ============================================================== what is private, and to whom

PUBLIC_LENDER_FIELDS = {"id", "displayName", "memberSince", "loanCount"}
# Each private Lender field: the scope a lender's own token needs to read it, and how the suite selects it.
PRIVATE_LENDER_FIELDS: dict[str, tuple[str, str]] = {
    "email": (PORTFOLIO_READ, "email"),
    "balance": (PORTFOLIO_READ, "balance"),
    "portfolio": (
        PORTFOLIO_READ,
        (
            "portfolio { stats { loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate "
            "byCountry { key loanCount lent outstanding } bySector { key lent } byGender { key lent } } "
            "shares(first: 20) { totalCount edges { cursor node { ...Owned } } } }"
        ),
    ),
    "transactions": (PORTFOLIO_READ, "transactions(first: 20) { totalCount edges { cursor node { ...Owned } } }"),
    "notifications": (PORTFOLIO_READ, "notifications(first: 20) { totalCount edges { cursor node { ...Owned } } }"),
    "savedSearches": (PORTFOLIO_READ, "savedSearches { ...Owned }"),
    "autoLendRule": (
        PORTFOLIO_READ,
        "autoLendRule { enabled amountPerLoan keepBalance trigger idleDays pauseUntil waitingSince criteria { sectors keywords } }",
    ),
    "apiTokens": (TOKENS_MANAGE, "apiTokens { ...Owned }"),
}
# The same fields, selected lightly and without fragments: inside lists (where query cost multiplies),
# and one subscription each in the shared-execution test.
PEEK: dict[str, str] = {
    "email": "email",
    "balance": "balance",
    "portfolio": "portfolio { stats { lent } }",
    "transactions": "transactions(first: 1) { totalCount }",
    "notifications": "notifications(first: 1) { totalCount }",
    "savedSearches": "savedSearches { name }",
    "autoLendRule": "autoLendRule { amountPerLoan }",
    "apiTokens": "apiTokens { name }",
}
PERMISSION_SCOPE = {CanReadPortfolio: PORTFOLIO_READ, CanManageTokens: TOKENS_MANAGE}

PUBLIC_NODE_TYPES = {"Loan", "Partner", "Lender"}
# Node types that belong to one lender: node(id) answers null to anyone else (and to the
# lender's own tokens that lack the scope, as the Lender field that lists them does).
PRIVATE_NODE_TYPES = {
    "Share": PORTFOLIO_READ,
    "Transaction": PORTFOLIO_READ,
    "Notification": PORTFOLIO_READ,
    "SavedSearch": PORTFOLIO_READ,
    "ApiToken": TOKENS_MANAGE,  # Lender.apiTokens needs tokens:manage; node(id) must not be a way around it
}
# Types whose every appearance in the schema must be reached by some document of this suite.
PRIVATE_TYPES = {
    "Lender",
    "Portfolio",
    "PortfolioStats",
    "AutoLendRule",
    "Allocation",
    "AutoLendPreview",
    "Node",
    "LenderEvent",
}

# The public live streams: every field is reviewed here; a new one must be judged before it is added.
PUBLIC_STREAM_FIELDS = {
    "LoanProgressEvent": {
        "eventId", "occurredAt", "kind", "amountAdded", "fundedAmount", "remainingAmount", "lenderCount", "status", "loan",
    },
    "LoanListedEvent": {"eventId", "occurredAt", "loan"},
}  # fmt: skip

# ============================================================== documents

FRAGMENTS = {
    "Owned": """fragment Owned on Node { __typename id
        ... on Share { amount repaidAmount currencyLoss createdAt loan { id name } }
        ... on Transaction { kind amount createdAt }
        ... on Notification { message createdAt readAt }
        ... on SavedSearch { name alert createdAt filter { countries sectors keywords } }
        ... on ApiToken { name scopes createdAt revokedAt } }""",
    "Profile": "fragment Profile on Lender { __typename id displayName memberSince loanCount "
    + " ".join(selection for _, selection in PRIVATE_LENDER_FIELDS.values())
    + " }",
    "Peek": "fragment Peek on Lender { __typename id displayName loanCount " + " ".join(PEEK.values()) + " }",
    "Funding": """fragment Funding on Loan { __typename id name status amount fundedAmount remainingAmount lenderCount
        partner { id name }
        lenders(first: 5) { totalCount pageInfo { hasNextPage } edges { cursor node { ...Peek } } }
        allocations { __typename amount matched createdAt lender { ...Peek } } }""",
    "PublicNode": """fragment PublicNode on Node {
        ... on Loan { name status }
        ... on Partner { name riskRating }
        ... on Lender { ...Profile } }""",
    "Preview": """fragment Preview on AutoLendPreviewResult { __typename ... on UserError { code message }
        ... on AutoLendPreview { total note loans { amount loan { id name
            lenders(first: 5) { edges { node { ...Peek } } } } } } }""",
    "StreamLenders": """fragment StreamLenders on Loan {
        lenders(first: 5) { edges { node { __typename id displayName balance } } } }""",
}


def with_fragments(document: str) -> str:
    """The document followed by every fragment it spreads, transitively (and no other)."""
    needed: list[str] = []
    pending = [document]
    while pending:
        for name in re.findall(r"\.\.\.([A-Z]\w*)", pending.pop()):
            if name not in needed:
                needed.append(name)
                pending.append(FRAGMENTS[name])
    return "\n".join([document, *(FRAGMENTS[name] for name in needed)])


@dataclass(frozen=True)
class Probe:
    """A read any viewer may send: the answer is audited; these lenders' public profiles must show, and
    `facts` (data, viewer, world) lists what is wrong with the public data, so that hiding too much fails too."""

    name: str
    document: str
    sees: frozenset[str] = frozenset()
    facts: "Callable[[dict, Who, World], list[str]] | None" = None


def _lender_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    seen = {key: (data[key] or {}).get("loanCount") for key in ("ada", "bob")}
    return [] if seen == {"ada": 3, "bob": 3} else [f"public loanCount {seen}, expected 3 each"]


def _me_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    me = data["me"]
    if viewer.lender is None:
        return [] if me is None else [f"me is {me}, expected null"]
    return [] if me and world.lenders[viewer.lender] == me["displayName"] else [f"me is {me}, expected {viewer.name}'s"]


def _loan_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    shared = data["shared"]
    facts = {k: shared[k] for k in ("name", "status", "amount", "fundedAmount", "lenderCount")}
    expected = {
        "name": "Shared",
        "status": "FUNDRAISING",
        "amount": "1000.00",
        "fundedAmount": "75.00",
        "lenderCount": 2,
    }
    found = [] if facts == expected else [f"public loan data {facts}, expected {expected}"]
    names = sorted(edge["node"]["displayName"] for edge in shared["lenders"]["edges"])
    if names != ["Ada", "Bob"] or shared["lenders"]["totalCount"] != 2:
        found.append(f"the Shared loan's public lenders are {names}")
    return found + shared_loan_allocations(shared["allocations"], viewer, world, "loan(id)")


def _loans_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    names = sorted(edge["node"]["name"] for edge in data["loans"]["edges"])
    expected = ["Amina", "Otieno", "Rosa", "Shared", "Wanjiru"]
    return [] if names == expected and data["loans"]["totalCount"] == 5 else [f"loans {names}, expected {expected}"]


def _partners_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    names = [edge["node"]["name"] for edge in data["partners"]["edges"]]
    return [] if names == ["Juhudi Kilimo", "Peru Partner"] else [f"partners {names}"]


def _rate_limit_facts(data: dict, viewer: "Who", world: "World") -> list[str]:
    found = []
    own = world.lenders.get(viewer.lender)
    bucket = (data["rateLimit"] or {}).get("bucket")
    if bucket != ("IP" if viewer.token is None else "TOKEN"):
        found.append(f"rateLimit counts the bucket {bucket}")
    money = data["moneyRateLimit"]
    if own is None and money is not None:
        found.append(f"LEAK: moneyRateLimit {money} without a lender")
    if own is not None and (money or {}).get("used") != MONEY_CALLS[own]:
        found.append(f"moneyRateLimit {money}, expected {own}'s own {MONEY_CALLS[own]} money calls")
    return found


PROBES = [
    Probe(
        "lender(id)",
        with_fragments(
            "query($ada: ID!, $bob: ID!) { ada: lender(id: $ada) { ...Profile } bob: lender(id: $bob) { ...Profile } }"
        ),
        frozenset({"Ada", "Bob"}),
        _lender_facts,
    ),
    Probe(
        "node(id) of a lender",
        with_fragments(
            "query($ada: ID!, $bob: ID!) { ada: node(id: $ada) { ...PublicNode } bob: node(id: $bob) { ...PublicNode } }"
        ),
        frozenset({"Ada", "Bob"}),
    ),
    Probe("me", with_fragments("{ me { ...Profile } }"), facts=_me_facts),
    Probe(
        "loan(id) { lenders allocations }",
        with_fragments(
            """query($shared: ID!, $amina: ID!, $otieno: ID!, $rosa: ID!) {
                 shared: loan(id: $shared) { ...Funding } amina: loan(id: $amina) { ...Funding }
                 otieno: loan(id: $otieno) { ...Funding } rosa: loan(id: $rosa) { ...Funding } }"""
        ),
        frozenset({"Ada", "Bob"}),
        _loan_facts,
    ),
    Probe(
        "loans { edges { node { lenders allocations } } }",
        with_fragments(
            """{ loans(first: 10, filter: {statuses: [FUNDRAISING, FUNDED, REPAYING, REPAID, DEFAULTED, EXPIRED]}) {
                 totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...Funding } } } }"""
        ),
        frozenset({"Ada", "Bob"}),
        _loans_facts,
    ),
    Probe(
        "partners",
        """{ partners(first: 10) { totalCount pageInfo { hasNextPage } edges { cursor node {
               __typename id name riskRating country { isoCode name } defaultRate arrearsRate loanCount } } } }""",
        facts=_partners_facts,
    ),
    # The caller's own rate limits: a token's requests, a lender's money mutations (all its tokens together).
    Probe(
        "rateLimit",
        "{ rateLimit { bucket limit used remaining resetAt } moneyRateLimit { bucket limit used remaining resetAt } }",
        facts=_rate_limit_facts,
    ),
]
# Money mutations (deposit, withdraw, lend) each lender made while the world was built: Ada 2 + 2, Bob 1 + 2.
MONEY_CALLS = {"Ada": 4, "Bob": 3}

PREVIEWS = with_fragments(
    """query($input: AutoLendRuleInput) {
         preview: autoLendPreview(input: $input) { ...Preview }
         backtest: autoLendBacktest(days: 30, input: $input) { ...Preview } }"""
)


def nodes_document(ids: list[str]) -> str:
    """One `node(id:)` per global id, aliased n0, n1, ... (keep it to 10: aliases are limited)."""
    fields = " ".join(
        f"n{i}: node(id: {json.dumps(gid)}) {{ __typename id ...Owned ...PublicNode }}" for i, gid in enumerate(ids)
    )
    return with_fragments("{ " + fields + " }")


def result_document(field: str, success: str = "") -> str:
    """Mutation `field` with its $input (of the type the schema gives), answering as `result`."""
    input_type = GQL.mutation_type.fields[field].args["input"].type  # e.g. LendInput!
    return f"""mutation($input: {input_type}) {{ result: {field}(input: $input) {{
        __typename ... on UserError {{ code message }} {success} }} }}"""


# Mutations that take the id of something, each tried on someone else's thing (see CROSS_OWNER).
DELETE_SEARCH = result_document("deleteSavedSearch", "... on DeleteSavedSearchSuccess { deletedId }")
REVOKE = result_document("revokeApiToken", "... on RevokeApiTokenSuccess { apiToken { id } }")
MARK_READ = result_document("markNotificationsRead", "... on MarkNotificationsReadSuccess { marked unreadCount }")
REPAY = result_document("postRepayment", "... on PostRepaymentSuccess { amount }")
DEFAULT = result_document("markDefault", "... on MarkDefaultSuccess { loan { id status } }")
LIST = result_document("listLoan", "... on ListLoanSuccess { loan { id } }")
LEND_ = result_document("lend", "... on LendSuccess { share { id } }")

# Every mutation whose payload reaches private types, done by its rightful caller with everything selected.
OWN_PAYLOADS = {
    field: with_fragments(result_document(field, success))
    for field, success in {
        "registerLender": "... on RegisterLenderSuccess { token lender { ...Profile } }",
        "deposit": "... on DepositSuccess { lender { ...Profile } transaction { ...Owned } }",
        "withdraw": "... on WithdrawSuccess { lender { ...Profile } transaction { ...Owned } }",
        "lend": "... on LendSuccess { loan { ...Funding } share { ...Owned } lender { ...Profile } }",
        "saveSearch": "... on SaveSearchSuccess { savedSearch { ...Owned } }",
        "setAutoLendRule": "... on AutoLendRuleSuccess { rule { enabled amountPerLoan keepBalance trigger criteria { sectors } } }",
        "createApiToken": "... on CreateApiTokenSuccess { token apiToken { ...Owned } }",
        "revokeApiToken": "... on RevokeApiTokenSuccess { apiToken { ...Owned } }",
        "listLoan": "... on ListLoanSuccess { loan { ...Funding } }",
        "postRepayment": "... on PostRepaymentSuccess { amount lendersCredited loan { ...Funding } }",
        "markDefault": "... on MarkDefaultSuccess { loan { ...Funding } }",
    }.items()
}

MY_EVENTS = with_fragments(
    """subscription($after: String) { myEvents(after: $after) { __typename eventId occurredAt
         ... on RepaymentCredited { amount principal currencyLoss loan { ...Funding } }
         ... on LoanFunded { loan { id name } }
         ... on LoanExpired { refunded loan { id name } }
         ... on LoanRepaid { loan { id name } }
         ... on LoanDefaulted { loan { id name } }
         ... on NotificationCreated { notification { ...Owned } }
         ... on NotificationsRead { marked unreadCount notificationIds } } }"""
)
# Every kind of event a lender's stream carries; the myEvents test makes Ada receive each one.
MY_EVENT_KINDS = {
    "RepaymentCredited", "LoanFunded", "LoanExpired", "LoanRepaid", "LoanDefaulted", "NotificationCreated",
    "NotificationsRead",
}  # fmt: skip

PROGRESS_FIELDS = "eventId occurredAt kind amountAdded fundedAmount remainingAmount lenderCount status"
# Selections of a loan inside a public stream that read viewer-dependent data, one subscription each:
# the server executes an event once per distinct selection and shares the result (graph/execution.py).
STREAM_SELECTIONS: dict[str, str] = {
    **{
        f"lenders.{field}": f"lenders(first: 5) {{ edges {{ node {{ __typename id displayName {selection} }} }} }}"
        for field, selection in PEEK.items()
    },
    "lenders.balance in a named fragment": "...StreamLenders",
    "allocations.lender": "allocations { __typename amount lender { __typename id displayName } }",
}


def progress_document(selection: str) -> str:
    return with_fragments(
        f"""subscription($loan: ID!, $after: String) {{ loanProgress(loanId: $loan, after: $after) {{
              {PROGRESS_FIELDS} loan {{ __typename id name {selection} }} }} }}"""
    )


def listed_document(selection: str) -> str:
    return with_fragments(
        f"""subscription {{ loanListed(filter: {{sectors: [HEALTH]}}, after: "0") {{
              eventId occurredAt loan {{ __typename id name {selection} }} }} }}"""
    )


# ============================================================== the world


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
    "anonymous", "Ada", "Ada's read-only token", "Ada's lend-only token", "Bob", "Bob's read-only token", "partner", "admin",
)  # fmt: skip

SET_RULE = result_document("setAutoLendRule")
SAVE_SEARCH = result_document("saveSearch")
CREATE_TOKEN = result_document("createApiToken", "... on CreateApiTokenSuccess { token apiToken { id } }")


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


# ============================================================== judging a response


class Audit:
    """Walk a response as `viewer` saw it; note every private value they should not see, or did not see."""

    def __init__(self, world: World, viewer: Who, where: str) -> None:
        self.world = world
        self.viewer = viewer
        self.where = where
        self.problems: list[str] = []
        self.lenders_seen: set[str] = set()

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"[{self.where}] as {self.viewer.name} at {path or '<root>'}: {text}")

    def walk(self, value: Any, path: str = "") -> "Audit":
        if isinstance(value, list):
            for index, item in enumerate(value):
                self.walk(item, f"{path}[{index}]")
        elif isinstance(value, dict):
            typename = value.get("__typename")
            if typename == "Lender":
                self._lender(value, path)
            elif typename in PRIVATE_NODE_TYPES and "id" in value:
                self._owned(typename, value, path)
            elif typename == "Allocation":
                self._allocation(value, path)
            for key, item in value.items():
                self.walk(item, f"{path}.{key}" if path else key)
        return self

    def _lender(self, node: dict, path: str) -> None:
        owner = int(GlobalID.from_id(node["id"]).node_id)
        name = self.world.lenders.get(owner)
        self.lenders_seen.add(name)
        if "displayName" in node and node["displayName"] != name:
            self.problem(path, f"public displayName of lender {name} is {node['displayName']!r}")
        if "loanCount" in node and node["loanCount"] is None:
            self.problem(path, f"public loanCount of lender {name} is hidden")
        for field, (scope, _) in PRIVATE_LENDER_FIELDS.items():
            if field not in node:
                continue
            shown = node[field] not in (None, [])
            if self.viewer.may(owner, scope):
                if node[field] is None:
                    self.problem(path, f"{name}'s own {field} is hidden from them")
                elif field in self.world.listed.get(owner, {}):
                    shown_names = sorted(item.get("name") for item in node[field])
                    if shown_names != sorted(self.world.listed[owner][field]):
                        self.problem(
                            path,
                            f"{name}'s own {field} show {shown_names}, not theirs: {sorted(self.world.listed[owner][field])}",
                        )
            elif shown:
                self.problem(path, f"LEAK: {name}'s {field} = {json.dumps(node[field])[:160]}")

    def _owned(self, typename: str, node: dict, path: str) -> None:
        owner = self.world.owners.get(node["id"], "unknown")
        if not self.viewer.may(owner, PRIVATE_NODE_TYPES[typename]):
            owner_name = self.world.lenders.get(owner, owner)
            self.problem(path, f"LEAK: {owner_name}'s {typename} {json.dumps(node)[:160]}")

    def _allocation(self, allocation: dict, path: str) -> None:
        lender = allocation.get("lender")
        if lender is not None and int(GlobalID.from_id(lender["id"]).node_id) != self.viewer.lender:
            self.problem(path, f"LEAK: the allocation names its lender {lender.get('displayName')}")


def shared_loan_allocations(allocations: list[dict], viewer: Who, world: World, where: str) -> list[str]:
    """The Shared loan's allocations: Ada's rule lent 25.00, Bob's 50.00; each sees only their own name."""
    owners = {"25.00": "Ada", "50.00": "Bob"}
    problems = []
    if sorted(a["amount"] for a in allocations) != sorted(owners):
        problems.append(f"[{where}] as {viewer.name}: the Shared loan's allocations are {allocations}")
    for allocation in allocations:
        owner = owners.get(allocation["amount"])
        expected = owner if owner and world.lenders.get(viewer.lender) == owner else None
        shown = (allocation.get("lender") or {}).get("displayName")
        if shown != expected:
            problems.append(
                f"[{where}] as {viewer.name}: allocation of {allocation['amount']} by {owner} shows lender {shown!r}, "
                f"expected {expected!r}"
            )
        if not allocation.get("matched", ["-"]):
            problems.append(f"[{where}] as {viewer.name}: allocation of {allocation['amount']} hides what matched")
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


# ============================================================== coverage, from the schema


class _Fields(Visitor):
    """Collects (parent type, field) pairs; run inside a TypeInfoVisitor sharing `info`."""

    def __init__(self, info: TypeInfo, seen: set[tuple[str, str]]) -> None:
        super().__init__()
        self.info, self.seen = info, seen

    def enter_field(self, node, *_):
        parent = self.info.get_parent_type()
        if parent is not None:
            self.seen.add((parent.name, node.name.value))


def _fields_selected(documents: list[str]) -> set[tuple[str, str]]:
    """(parent type, field) for every field each document selects, fragments included."""
    seen: set[tuple[str, str]] = set()
    for document in documents:
        ast = parse(document)
        errors = validate(GQL, ast)
        assert not errors, (errors, document)
        info = TypeInfo(GQL)
        visit(ast, TypeInfoVisitor(info, _Fields(info, seen)))
    return seen


def _id_inputs(type_, seen=None) -> bool:
    """Whether an argument or input type holds an ID anywhere."""
    named = get_named_type(type_)
    if named.name == "ID":
        return True
    seen = seen or set()
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        seen.add(named.name)
        return any(_id_inputs(field.type, seen) for field in named.fields.values())
    return False


def _implementations(name: str) -> set[str]:
    return {t.name for t in GQL.get_implementations(GQL.get_type(name)).objects}


def all_documents() -> list[str]:
    return [
        *(probe.document for probe in PROBES),
        PREVIEWS,
        nodes_document([encode_id("Share", 1)]),
        DELETE_SEARCH, REVOKE, REPAY, DEFAULT, LIST, LEND_,
        *OWN_PAYLOADS.values(),
        MY_EVENTS,
        *(progress_document(selection) for selection in STREAM_SELECTIONS.values()),
        *(listed_document(selection) for selection in STREAM_SELECTIONS.values()),
    ]  # fmt: skip


def test_the_suite_covers_the_whole_schema():
    selected = _fields_selected(all_documents())
    problems = []

    # Every Query field and every Subscription field.
    for root in (GQL.query_type, GQL.subscription_type):
        missing = {name for name in root.fields if (root.name, name) not in selected}
        if missing:
            problems.append(f"{root.name} fields without an authorization case: {sorted(missing)}")

    # Every node type is classified public or private, and node(id) tries each private one.
    nodes = _implementations("Node")
    if nodes != PUBLIC_NODE_TYPES | PRIVATE_NODE_TYPES.keys():
        problems.append(
            f"node types not classified public or private: {sorted(nodes ^ (PUBLIC_NODE_TYPES | PRIVATE_NODE_TYPES.keys()))}"
        )
    owned_fragment = FRAGMENTS["Owned"] + FRAGMENTS["PublicNode"]
    for name in nodes:
        if f"... on {name} " not in owned_fragment:
            problems.append(f"the node(id) probe does not select the node type {name}")

    # Every field that returns a connection, an edge, a private node type or another private type.
    connections = {
        name for name, t in GQL.type_map.items() if name.endswith(("Connection", "Edge")) and not name.startswith("__")
    }
    private = PRIVATE_TYPES | PRIVATE_NODE_TYPES.keys() | _implementations("LenderEvent") | connections
    for type_name, graphql_type in GQL.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            named = get_named_type(field.type)
            members = {t.name for t in named.types} if isinstance(named, GraphQLUnionType) else {named.name}
            if members & private and (type_name, field_name) not in selected and graphql_type is not GQL.mutation_type:
                problems.append(f"{type_name}.{field_name} (a {named.name}) is reached by no document of this suite")

    # Lender: each field is public or guarded by a permission, and the suite knows which and with what scope.
    lender = schema.get_type_by_name("Lender")
    for field in lender.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        guards = [p for e in field.extensions if isinstance(e, PermissionExtension) for p in e.permissions]
        if guards:
            scopes = {PERMISSION_SCOPE.get(type(p)) for p in guards}
            if name not in PRIVATE_LENDER_FIELDS or PRIVATE_LENDER_FIELDS[name][0] not in scopes:
                problems.append(f"Lender.{name} is guarded by {guards}: add it to PRIVATE_LENDER_FIELDS with its scope")
        elif name not in PUBLIC_LENDER_FIELDS:
            problems.append(f"Lender.{name} has no permission but is not a known public field: guard it or review it")
    if set(PEEK) != set(PRIVATE_LENDER_FIELDS):
        problems.append("every private Lender field needs its light selection and subscription case (PEEK)")

    # Every mutation that takes an id has a cross-owner case.
    for name, field in GQL.mutation_type.fields.items():
        if any(_id_inputs(arg.type) for arg in field.args.values()) and name not in {a.mutation for a in CROSS_OWNER}:
            problems.append(f"mutation {name} takes an id but has no case of someone else's id in CROSS_OWNER")
    for name in OWN_PAYLOADS:
        if name not in GQL.mutation_type.fields:
            problems.append(f"OWN_PAYLOADS names an unknown mutation {name}")

    # The public streams carry only reviewed fields; every kind of a lender's own event is exercised.
    for type_name, allowed in PUBLIC_STREAM_FIELDS.items():
        extra = set(GQL.get_type(type_name).fields) - allowed
        if extra:
            problems.append(f"{type_name} has unreviewed fields {sorted(extra)}: may they be public?")
    if _implementations("LenderEvent") != MY_EVENT_KINDS:
        problems.append(f"myEvents kinds not exercised: {sorted(_implementations('LenderEvent') ^ MY_EVENT_KINDS)}")

    assert not problems, report(problems)


# ============================================================== reads over HTTP


async def test_no_query_path_shows_anyone_a_lenders_private_data(api):
    world = await build_world(api)
    variables = {name: world.ids[name] for name in ("Ada", "Bob", "Shared", "Amina", "Otieno", "Rosa")}
    variables = {key.lower(): value for key, value in variables.items()}
    problems: list[str] = []
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        for probe in PROBES:
            wanted = {k: v for k, v in variables.items() if f"${k}:" in probe.document}
            body = await api.post(probe.document, wanted, viewer.token)
            if body.get("errors") or body.get("data") is None:
                problems.append(f"[{probe.name}] as {viewer.name}: errors {body.get('errors')}")
                continue
            data = body["data"]
            audit = Audit(world, viewer, probe.name).walk(data)
            problems += audit.problems
            if not probe.sees <= audit.lenders_seen:
                problems.append(
                    f"[{probe.name}] as {viewer.name}: public profiles of {sorted(probe.sees - audit.lenders_seen)} not shown"
                )
            if probe.facts is not None:
                problems += [f"[{probe.name}] as {viewer.name}: {fact}" for fact in probe.facts(data, viewer, world)]
    assert not problems, report(problems)


async def test_node_of_a_private_object_is_null_for_everyone_but_its_owner(api):
    world = await build_world(api)
    problems: list[str] = []
    # Ada's and Bob's objects of every private node type, and the public nodes.
    ids = []
    for lender in ("Ada", "Bob"):
        for type_name in PRIVATE_NODE_TYPES:
            owned = world.owned_by(lender, type_name)
            if not owned:
                problems.append(f"the world gives {lender} no {type_name}: that node type is untested")
            ids += owned
    ids += [world.ids[name] for name in ("Ada", "Bob", "Shared", "Amina", "Juhudi Kilimo", "Peru Partner")]
    assert {GlobalID.from_id(gid).type_name for gid in ids} == PUBLIC_NODE_TYPES | PRIVATE_NODE_TYPES.keys()
    chunks = [ids[start : start + 10] for start in range(0, len(ids), 10)]
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        data: dict[str, Any] = {}
        for chunk in chunks:
            body = await api.post(nodes_document(chunk), token=viewer.token)
            if body.get("errors"):
                problems.append(f"[node(id)] as {viewer.name}: errors {body['errors']}")
            data |= {chunk[int(alias[1:])]: found for alias, found in (body.get("data") or {}).items()}
        for gid in ids:
            type_name = GlobalID.from_id(gid).type_name
            found = data.get(gid)
            owner = world.owners.get(gid)
            owner_name = world.lenders.get(owner, "public")
            visible = type_name in PUBLIC_NODE_TYPES or viewer.may(owner, PRIVATE_NODE_TYPES[type_name])
            if visible and (found is None or found["id"] != gid):
                problems.append(
                    f"[node(id)] as {viewer.name}: {owner_name}'s {type_name} {gid} is {found}, expected it"
                )
            elif not visible and found is not None:
                problems.append(
                    f"[node(id)] as {viewer.name}: LEAK: node(id: {gid!r}) gives {owner_name}'s {type_name} {json.dumps(found)[:200]}"
                )
        # The private nodes are judged whole above; what the public ones reach is audited here.
        public = {gid: found for gid, found in data.items() if GlobalID.from_id(gid).type_name in PUBLIC_NODE_TYPES}
        problems += Audit(world, viewer, "node(id)").walk(public).problems
    assert not problems, report(problems)


async def test_auto_lend_preview_and_backtest_are_the_callers_own(api):
    world = await build_world(api)
    problems: list[str] = []
    balances = {name: await api.balance(world.token(name)) for name in ("Ada", "Bob")}
    assert balances == {"Ada": "410.00", "Bob": "285.00"}  # the world as arranged; they differ on purpose
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        own = world.lenders.get(viewer.lender)
        allowed = viewer.lender is not None and PORTFOLIO_READ in viewer.scopes
        # Their own rule: Ada's lends 25.00 a loan, Bob's 50.00; the backtest finds the Shared loan for each.
        body = await api.post(PREVIEWS, {}, viewer.token)
        # A rule given inline, judged against the caller's own credit: the note names that credit.
        broke = await api.post(PREVIEWS, {"input": {"keepBalance": "100000.00"}}, viewer.token)
        for answer in (body, broke):
            if answer.get("errors"):
                problems.append(f"[autoLendPreview] as {viewer.name}: errors {answer['errors']}")
        if body.get("errors") or broke.get("errors"):
            continue
        for which in ("preview", "backtest"):
            result, inline = body["data"][which], broke["data"][which]
            where = f"[autoLend{which.title()}] as {viewer.name}"
            if not allowed:
                for got in (result, inline):
                    if got["__typename"] != "Forbidden":
                        problems.append(f"{where}: LEAK: expected Forbidden, got {json.dumps(got)[:200]}")
                continue
            problems += Audit(world, viewer, f"autoLend{which.title()}").walk([result, inline]).problems
            if result["__typename"] != "AutoLendPreview":
                problems.append(f"{where}: {result}")
                continue
            if which == "backtest":
                picks = [(p["loan"]["name"], p["amount"]) for p in result["loans"]]
                expected = [("Shared", {"Ada": "25.00", "Bob": "50.00"}[own])]
                if picks != expected:
                    problems.append(f"{where}: own rule gives {picks}, expected {expected} (from {own}'s rule)")
            else:
                expected_note = f"No credit to lend: {balances[own]} available, 100000.00 kept."
                if inline["note"] != expected_note:
                    problems.append(f"{where}: note {inline['note']!r}, expected {expected_note!r} ({own}'s credit)")
    assert not problems, report(problems)


# ============================================================== mutations on someone else's thing


@dataclass(frozen=True)
class Attempt:
    name: str
    mutation: str
    document: str
    input: Callable[[World], dict]
    as_: str | None
    expect: str  # the UserError's __typename


def _listing(**fields: Any) -> dict:
    return {"name": "Sneaky", "use": "to test", "countryIsoCode": "KE", "sector": "FOOD", "gender": "FEMALE",
            "amount": "100.00", "termMonths": 6} | fields  # fmt: skip


def _repayment(w: World) -> dict:
    return {"loanId": w.ids["Rosa"], "amount": "10.00", "idempotencyKey": new_key()}


# Everyone who is not Ada with her full token, and what they get for Ada's objects.
NOT_ADA = (
    ("Bob", "NotFound"), ("Bob's read-only token", "Forbidden"), ("Ada's read-only token", "Forbidden"),
    ("Ada's lend-only token", "Forbidden"), ("anonymous", "Forbidden"), ("partner", "Forbidden"), ("admin", "Forbidden"),
)  # fmt: skip


def _by_everyone_but_ada(label: str, field: str, document: str, variables: Callable[[World], dict]) -> list[Attempt]:
    return [Attempt(f"{label} by {who}", field, document, variables, who, expect) for who, expect in NOT_ADA]


CROSS_OWNER = [
    *_by_everyone_but_ada(
        "deleteSavedSearch of Ada's search", "deleteSavedSearch", DELETE_SEARCH, lambda w: {"id": w.ids["Ada's search"]}
    ),
    Attempt("deleteSavedSearch of Ada's ApiToken id by Bob", "deleteSavedSearch", DELETE_SEARCH,
            lambda w: {"id": w.ids["Ada's read-only token"]}, "Bob", "NotFound"),
    *_by_everyone_but_ada(
        "revokeApiToken of Ada's read-only token", "revokeApiToken", REVOKE, lambda w: {"id": w.ids["Ada's read-only token"]}
    ),
    Attempt("revokeApiToken of Ada's saved-search id by Bob", "revokeApiToken", REVOKE,
            lambda w: {"id": w.ids["Ada's search"]}, "Bob", "NotFound"),
    *_by_everyone_but_ada(
        "markNotificationsRead of Ada's notification", "markNotificationsRead", MARK_READ,
        lambda w: {"ids": [w.ids["Ada's notification"]]},
    ),
    Attempt("markNotificationsRead of Ada's saved-search id by Bob", "markNotificationsRead", MARK_READ,
            lambda w: {"ids": [w.ids["Ada's search"]]}, "Bob", "NotFound"),
    # postRepayment / markDefault: the other partner's loan, by the wrong partner and by lenders.
    *(
        Attempt(f"postRepayment of the other partner's loan by {who}", "postRepayment", REPAY, _repayment, who, "Forbidden")
        for who in ("partner", "Ada", "Bob", "anonymous")
    ),
    *(
        Attempt(f"markDefault of the other partner's loan by {who}", "markDefault", DEFAULT,
                lambda w: {"loanId": w.ids["Rosa"]}, who, "Forbidden")
        for who in ("partner", "Ada", "Bob", "anonymous")
    ),
    # listLoan for another partner; lend to an id that is Ada's share, not a loan.
    Attempt("listLoan for the other partner by the partner", "listLoan", LIST,
            lambda w: _listing(partnerId=w.ids["Peru Partner"], countryIsoCode="PE"), "partner", "Forbidden"),
    Attempt("listLoan by a lender", "listLoan", LIST, lambda w: _listing(), "Bob", "Forbidden"),
    Attempt("lend to Ada's share id by Bob", "lend", LEND_,
            lambda w: {"loanId": w.ids["Ada's Amina share"], "amount": "25.00", "idempotencyKey": new_key()}, "Bob", "NotFound"),
]  # fmt: skip


async def test_mutations_on_someone_elses_objects_are_typed_errors_that_change_nothing(api):
    world = await build_world(api)
    problems: list[str] = []
    for attempt in CROSS_OWNER:
        variables = {"input": attempt.input(world)}
        before = await snapshot()
        body = await api.post(attempt.document, variables, world.token(attempt.as_))
        after = await snapshot()
        result = ((body.get("data") or {}).get("result")) or {}
        if body.get("errors") or result.get("__typename") != attempt.expect:
            problems.append(f"[{attempt.name}]: expected {attempt.expect}, got {json.dumps(body)[:300]}")
        elif not result.get("message"):
            problems.append(f"[{attempt.name}]: {attempt.expect} without a message")
        if after != before:
            problems.append(f"[{attempt.name}]: {changes(before, after)}")
    # Bob cannot tell Ada's objects from ids that do not exist.
    for document, field, real in (
        (DELETE_SEARCH, "SavedSearch", "Ada's search"),
        (REVOKE, "ApiToken", "Ada's read-only token"),
    ):
        answers = []
        for gid in (world.ids[real], encode_id(field, 99_999)):
            result = (await api.data(document, {"input": {"id": gid}}, world.token("Bob")))["result"]
            answers.append((result["__typename"], result.get("code"), re.sub(r"\d+", "#", result.get("message", ""))))
        if answers[0] != answers[1]:
            problems.append(f"[{field}]: Bob can tell Ada's {field} from a missing one: {answers}")
    # And what Ada holds still works: her search is listed, her third-party token signs in.
    ada = await api.data("{ me { savedSearches { id } } }", token=world.token("Ada"))
    if [s["id"] for s in ada["me"]["savedSearches"]] != [world.ids["Ada's search"]]:
        problems.append(f"Ada's saved searches are now {ada}")
    reader = await api.data("{ me { balance } }", token=world.token("Ada's read-only token"))
    if reader["me"] is None:
        problems.append("Ada's read-only token was revoked")
    assert not problems, report(problems)


async def test_mutation_payloads_show_only_the_callers_own_data(api):
    world = await build_world(api)
    problems: list[str] = []
    ada_rule = await api.data(
        "{ me { autoLendRule { amountPerLoan keepBalance criteria { sectors } } } }", token=world.token("Ada")
    )
    ada_searches = await SavedSearch.filter(lender_id=world.lender_id("Ada")).values()

    calls = [  # (mutation, caller, input): each by its rightful caller, payload selected in full
        ("registerLender", "anonymous", {"displayName": "Dan", "email": "dan@example.org"}),
        ("deposit", "Bob", {"amount": "30.00", "idempotencyKey": new_key()}),
        ("withdraw", "Bob", {"amount": "5.00", "idempotencyKey": new_key()}),
        ("lend", "Bob", {"loanId": world.ids["Shared"], "amount": "25.00", "idempotencyKey": new_key()}),
        ("saveSearch", "Bob", {"name": "Ada's tomatoes", "filter": {"keywords": ["bob"]}, "alert": False}),
        ("setAutoLendRule", "Bob", {"criteria": {"sectors": ["ARTS"]}, "amountPerLoan": "75.00"}),
        ("createApiToken", "Bob", {"name": "bob's app", "scopes": ["portfolio:read"]}),
        ("revokeApiToken", "Bob", {"id": world.ids["Bob's read-only token"]}),
        ("listLoan", "partner", _listing(name="Listed")),
        ("postRepayment", "partner", {"loanId": world.ids["Amina"], "amount": "5.00", "idempotencyKey": new_key()}),
        ("markDefault", "other partner", {"loanId": world.ids["Rosa"]}),
    ]
    assert {name for name, _, _ in calls} == set(OWN_PAYLOADS)
    for mutation, caller, input in calls:
        viewer = world.who[caller]
        body = await api.post(OWN_PAYLOADS[mutation], {"input": input}, viewer.token)
        result = ((body.get("data") or {}).get("result")) or {}
        if body.get("errors") or "code" in result or not result:
            problems.append(f"[{mutation}] as {viewer.name}: did not succeed: {json.dumps(body)[:300]}")
            continue
        await world.refresh()  # the objects it made
        audit = Audit(world, viewer, mutation).walk(result)
        problems += audit.problems
        if mutation in ("lend", "postRepayment", "markDefault") and not audit.lenders_seen & {"Ada", "Bob"}:
            problems.append(f"[{mutation}] as {viewer.name}: the loan's public lenders are not shown")
        if mutation in ("deposit", "withdraw", "lend") and result["lender"]["balance"] is None:
            problems.append(f"[{mutation}] as {viewer.name}: the caller's own balance is hidden")
    # Bob's search of the same name and his rule are his own: Ada's are as they were.
    if await SavedSearch.filter(lender_id=world.lender_id("Ada")).values() != ada_searches:
        problems.append("Bob's saveSearch under the name of Ada's search changed Ada's search")
    if (
        await api.data(
            "{ me { autoLendRule { amountPerLoan keepBalance criteria { sectors } } } }", token=world.token("Ada")
        )
        != ada_rule
    ):
        problems.append("Bob's setAutoLendRule changed Ada's rule")
    assert not problems, report(problems)


# ============================================================== subscriptions


async def take(ws: Socket, op: str, count: int, problems: list[str], who: str) -> list[dict]:
    """Up to `count` results of `op` (a short answer is noted in `problems`, not a bare timeout)."""
    taken: list[dict] = []
    try:
        while len(taken) < count:
            taken.append(next(iter((await ws.next(op)).values())))
    except TimeoutError:
        problems.append(f"[{op}] as {who}: {len(taken)} results of {count} expected: {json.dumps(taken)[:300]}")
    return taken


async def _errors_of(ws: Socket, op: str) -> str:
    reply = await ws.receive(op)
    if reply["type"] == "error":
        return json.dumps(reply["payload"])
    if reply["type"] == "next" and reply["payload"].get("errors"):
        return json.dumps(reply["payload"]["errors"])
    return f"not an error: {json.dumps(reply)[:300]}"


async def test_my_events_delivers_only_the_subscribers_own_events(live, clock):
    world = await build_world(live)
    partner, problems = world.token("partner"), []
    last = str((await Event.all().order_by("-id").first()).id)
    names = ("Ada", "Ada's read-only token", "Bob", "anonymous", "Ada's lend-only token", "partner")
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            name: await stack.enter_async_context(Socket.open(live.ws_url, token=world.token(name))) for name in names
        }
        for name, ws in opened.items():
            await ws.subscribe("me", MY_EVENTS, {"after": last})
        await opened["Bob"].subscribe("replay", MY_EVENTS, {"after": "0"})
        refused = {
            "anonymous": "Sign in",
            "Ada's lend-only token": "lacks the portfolio:read scope",
            "partner": "Only a lender",
        }
        for name, says in refused.items():
            errors = await _errors_of(opened[name], "me")
            if says not in errors:
                problems.append(f"[myEvents] as {name}: expected an error saying {says!r}, got {errors}")

        # Ada's events, of every kind, none of them Bob's business.
        amina = world.ids["Amina"]
        ada = world.token("Ada")
        assert (await live.repay(partner, amina, "40.00"))["__typename"] == "PostRepaymentSuccess"  # credit, repaid
        await live.loan_id(partner, name="Tomato stall", use="to sell tomatoes", sector="RETAIL")  # Ada's alert
        kito = await live.loan_id(partner, name="Kito", amount="25.00")
        assert (await live.lend(ada, kito, "25.00"))["__typename"] == "LendSuccess"  # funded
        assert (await live.data(DEFAULT, {"input": {"loanId": kito}}, partner))["result"][
            "__typename"
        ] == "MarkDefaultSuccess"
        late = await live.loan_id(
            partner, name="Late", amount="100.00", expiresAt=(clock() + timedelta(days=1)).isoformat()
        )
        assert (await live.lend(ada, late, "25.00"))["__typename"] == "LendSuccess"
        clock.advance(days=2)
        assert await expire_loans(clock())  # refunded: LoanExpired
        await live.app.state.graphql.hub.bus.announce()
        read = await live.data(MARK_READ, {"input": {"ids": [world.ids["Ada's notification"]]}}, ada)
        assert read["result"]["__typename"] == "MarkNotificationsReadSuccess", read
        # Then one event of Bob's own: it must be the first thing his stream shows.
        otieno = world.ids["Otieno"]
        assert (await live.repay(partner, otieno, "10.00"))["__typename"] == "PostRepaymentSuccess"

        await world.refresh()
        for name in ("Ada", "Ada's read-only token"):
            viewer, ws = world.who[name], opened[name]
            events = await take(ws, "me", 7, problems, name)
            kinds = {event["__typename"] for event in events}
            if kinds != MY_EVENT_KINDS:
                problems.append(f"[myEvents] as {name}: kinds {sorted(kinds)}, expected {sorted(MY_EVENT_KINDS)}")
            problems += Audit(world, viewer, "myEvents").walk(events).problems
            if not await ws.nothing_for("me", 0.3):
                problems.append(f"[myEvents] as {name}: more events than Ada's seven")
        bob_events = set(await Event.filter(lender_id=world.lender_id("Bob")).values_list("id", flat=True))
        bob, ws = world.who["Bob"], opened["Bob"]
        first = (await take(ws, "me", 1, problems, "Bob") or [{}])[0]
        if not (
            first.get("__typename") == "RepaymentCredited"
            and int(first["eventId"]) in bob_events
            and first["loan"]["name"] == "Otieno"
        ):
            problems.append(
                f"[myEvents] as Bob: LEAK: first event is {json.dumps(first)[:300]}, expected his Otieno credit"
            )
        problems += Audit(world, bob, "myEvents").walk(first).problems
        if not await ws.nothing_for("me", 0.3):
            problems.append("[myEvents] as Bob: more than his one event")
        # Bob's replay from the start: exactly his own events, in order.
        replayed = await take(ws, "replay", len(bob_events), problems, "Bob")
        ids = [int(event["eventId"]) for event in replayed]
        if ids != sorted(bob_events):
            problems.append(
                f'[myEvents(after: "0")] as Bob: LEAK or loss: event ids {ids}, his are {sorted(bob_events)}'
            )
        problems += Audit(world, bob, "myEvents(after: 0)").walk(replayed).problems
        if not await ws.nothing_for("replay", 0.3):
            problems.append('[myEvents(after: "0")] as Bob: replayed events that are not his')
    assert not problems, report(problems)


async def test_shared_stream_results_show_each_subscriber_only_their_own_private_fields(live):
    """loanProgress and loanListed are public, but a selection may reach lenders' private fields through
    `loan.lenders` and `loan.allocations`; the server executes each event once per distinct selection and
    shares the result among subscribers. Each subscriber must still see only their own values."""
    world = await build_world(live)
    shared_loan, problems = world.ids["Shared"], []
    last = str((await Event.all().order_by("-id").first()).id)
    viewers = ("Ada", "Bob", "anonymous", "Ada's read-only token")
    documents = {
        **{f"loanProgress {name}": (progress_document(sel), {"loan": shared_loan, "after": last}) for name, sel in STREAM_SELECTIONS.items()},
        **{f"loanListed {name}": (listed_document(sel), {}) for name, sel in STREAM_SELECTIONS.items()},
    }  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            name: await stack.enter_async_context(Socket.open(live.ws_url, token=world.token(name))) for name in viewers
        }
        for ws in opened.values():
            for op, (document, variables) in documents.items():
                await ws.subscribe(op, document, variables)
        # Carol lends to the Shared loan (already lent to by Ada's and Bob's rules): one loanProgress event;
        # loanListed replays the Shared loan's listing (after: "0").
        assert (await live.lend(world.token("Carol"), shared_loan, "25.00"))["__typename"] == "LendSuccess"
        balances = {name: await live.balance(world.token(name)) for name in ("Ada", "Bob")}
        for name in viewers:
            viewer, ws = world.who[name], opened[name]
            for op in documents:
                message = await ws.receive(op)
                if message["type"] != "next" or message["payload"].get("errors"):
                    problems.append(f"[{op}] as {name}: {json.dumps(message)[:300]}")
                    continue
                event = next(iter(message["payload"]["data"].values()))
                audit = Audit(world, viewer, op).walk(event)
                problems += audit.problems
                loan = event["loan"]
                if op.startswith("loanProgress"):
                    facts = {k: event[k] for k in ("kind", "amountAdded", "fundedAmount", "lenderCount", "status")}
                    if facts != {
                        "kind": "SHARE_ADDED",
                        "amountAdded": "25.00",
                        "fundedAmount": "100.00",
                        "lenderCount": 3,
                        "status": "FUNDRAISING",
                    }:
                        problems.append(f"[{op}] as {name}: public progress {facts}")
                if "allocations" in loan:
                    problems += shared_loan_allocations(loan["allocations"], viewer, world, op)
                    continue
                if not {"Ada", "Bob"} <= audit.lenders_seen:
                    problems.append(
                        f"[{op}] as {name}: the public profiles of Ada and Bob are not shown ({audit.lenders_seen})"
                    )
                for edge in loan["lenders"]["edges"]:
                    node = edge["node"]
                    owner = world.lenders[int(GlobalID.from_id(node["id"]).node_id)]
                    if (
                        "balance" in node
                        and viewer.may(world.lender_id(owner), PORTFOLIO_READ)
                        and node["balance"] != balances[owner]
                    ):
                        problems.append(f"[{op}] as {name}: own balance {node['balance']}, expected {balances[owner]}")
    assert not problems, report(problems)
