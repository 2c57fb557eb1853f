"""The cases tried: reads any viewer may send (`PROBES`), and mutations on someone else's things (`CROSS_OWNER`)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.api import new_key
from tests.security.access_control.audit import shared_loan_allocations
from tests.security.access_control.documents import (
    DEFAULT,
    DELETE_SEARCH,
    LEND_,
    LIST,
    MARK_READ,
    REPAY,
    REVOKE,
    with_fragments,
)
from tests.security.access_control.world import MONEY_CALLS, Who, World

# ============================================================== reads any viewer may send


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
            "query($ada: ID!, $bob: ID!) {"
            " ada: node(id: $ada) { ...PublicNode } bob: node(id: $bob) { ...PublicNode } }"
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


# ============================================================== mutations on someone else's thing


@dataclass(frozen=True)
class Attempt:
    name: str
    mutation: str
    document: str
    input: Callable[[World], dict]
    as_: str | None
    expect: str  # the UserError's __typename


def listing(**fields: Any) -> dict:
    return {"name": "Sneaky", "use": "to test", "countryIsoCode": "KE", "sector": "FOOD", "gender": "FEMALE",
            "amount": "100.00", "termMonths": 6} | fields  # fmt: skip


def _repayment(w: World) -> dict:
    return {"loanId": w.ids["Rosa"], "amount": "10.00", "idempotencyKey": new_key()}


# Everyone who is not Ada with her full token, and what they get for Ada's objects.
NOT_ADA = (
    ("Bob", "NotFound"), ("Bob's read-only token", "Forbidden"), ("Ada's read-only token", "Forbidden"),
    ("Ada's lend-only token", "Forbidden"), ("anonymous", "Forbidden"), ("partner", "Forbidden"),
    ("admin", "Forbidden"),
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
        "revokeApiToken of Ada's read-only token", "revokeApiToken", REVOKE,
        lambda w: {"id": w.ids["Ada's read-only token"]},
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
        Attempt(f"postRepayment of the other partner's loan by {who}", "postRepayment", REPAY, _repayment, who,
                "Forbidden")
        for who in ("partner", "Ada", "Bob", "anonymous")
    ),
    *(
        Attempt(f"markDefault of the other partner's loan by {who}", "markDefault", DEFAULT,
                lambda w: {"loanId": w.ids["Rosa"]}, who, "Forbidden")
        for who in ("partner", "Ada", "Bob", "anonymous")
    ),
    # listLoan for another partner; lend to an id that is Ada's share, not a loan.
    Attempt("listLoan for the other partner by the partner", "listLoan", LIST,
            lambda w: listing(partnerId=w.ids["Peru Partner"], countryIsoCode="PE"), "partner", "Forbidden"),
    Attempt("listLoan by a lender", "listLoan", LIST, lambda w: listing(), "Bob", "Forbidden"),
    Attempt("lend to Ada's share id by Bob", "lend", LEND_,
            lambda w: {"loanId": w.ids["Ada's Amina share"], "amount": "25.00", "idempotencyKey": new_key()},
            "Bob", "NotFound"),
]  # fmt: skip
