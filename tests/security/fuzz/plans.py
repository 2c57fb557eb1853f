"""How to fuzz each mutation (who may call it, who may not, a valid input), and the regression seeds."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType, GraphQLUnionType, get_named_type

from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema
from tests.api import LISTING
from tests.security.fuzz.values import RawJSON
from tests.security.fuzz.world import World

GQL = graphql_core_schema(schema)
MUTATIONS = GQL.mutation_type.fields
USER_ERROR = GQL.get_type("UserError")

LENDER_ONLY_OTHERS = ("readonly", "partner", "admin", None, "bogus", "revoked", "not_bearer")


@dataclass(frozen=True)
class Plan:
    """How to fuzz one mutation: who may call it, who may not, and a valid input to start from."""

    callers: tuple[str | None, ...]
    others: tuple[str | None, ...]
    valid: Callable[[World], dict]


def _email(world: World) -> str:
    world.emails += 1
    return f"fuzz.{world.emails}@example.org"


PLANS: dict[str, Plan] = {
    "registerLender": Plan(
        callers=(None,),
        others=("lender", "partner", "admin", "bogus"),  # anyone may register; a token changes nothing
        valid=lambda w: {"displayName": "Grace", "email": _email(w)},
    ),
    "deposit": Plan(("lender",), LENDER_ONLY_OTHERS, lambda w: {"amount": "10.00", "idempotencyKey": "deposit"}),
    "withdraw": Plan(("lender",), LENDER_ONLY_OTHERS, lambda w: {"amount": "1.00", "idempotencyKey": "withdraw"}),
    "lend": Plan(
        ("lender",),
        LENDER_ONLY_OTHERS,
        lambda w: {"loanId": w.one("Loan.open"), "amount": "25.00", "idempotencyKey": "lend"},
    ),
    "listLoan": Plan(
        ("partner", "admin"),
        ("other_partner", "lender", "readonly", None, "bogus"),
        lambda w: {**LISTING, "partnerId": w.one("Partner.own")},
    ),
    "postRepayment": Plan(
        ("partner", "admin"),
        ("other_partner", "lender", None, "bogus"),
        lambda w: {"loanId": w.one("Loan.repaying"), "amount": "1.00", "idempotencyKey": "repay"},
    ),
    "markDefault": Plan(
        ("partner", "admin"),
        ("other_partner", "lender", None, "bogus"),
        lambda w: {"loanId": w.one("Loan.defaultable")},
    ),
    "saveSearch": Plan(
        ("lender",),
        (*LENDER_ONLY_OTHERS, "other_lender"),
        lambda w: {"name": "Kenya", "filter": {"countries": ["KE"], "sectors": ["AGRICULTURE"]}, "alert": True},
    ),
    "deleteSavedSearch": Plan(
        ("lender",), (*LENDER_ONLY_OTHERS, "other_lender"), lambda w: {"id": w.one("SavedSearch.own")}
    ),
    "setAutoLendRule": Plan(
        ("lender",),
        LENDER_ONLY_OTHERS,
        lambda w: {
            "enabled": True,
            "amountPerLoan": "25.00",
            "keepBalance": "100.00",
            "criteria": {"countries": ["KE"]},
        },
    ),
    "createApiToken": Plan(
        ("lender",), LENDER_ONLY_OTHERS, lambda w: {"name": "third party", "scopes": ["portfolio:read"]}
    ),
    "revokeApiToken": Plan(("lender",), (*LENDER_ONLY_OTHERS, "other_lender"), lambda w: {"id": w.one("ApiToken.own")}),
    "markNotificationsRead": Plan(
        ("lender",), (*LENDER_ONLY_OTHERS, "other_lender"), lambda w: {"ids": w.ids["Notification.own"][:2]}
    ),
}


@dataclass(frozen=True)
class Seed:
    """A hostile input that once broke the API: replayed on every run, whatever hypothesis draws."""

    id: str
    mutation: str
    caller: str | None
    fields: dict[str, Any]  # merged into the plan's valid input (nested dicts merged too)


def merged(base: dict, fields: dict) -> dict:
    out = dict(base)
    for name, value in fields.items():
        out[name] = merged(base[name], value) if isinstance(value, dict) and isinstance(base.get(name), dict) else value
    return out


# The regression corpus: the minimal failing inputs the fuzz found (see the module docstring).
SEEDS = [
    Seed("json-number-of-5000-digits", "deposit", "lender", {"amount": RawJSON("9" * 5000)}),
    Seed(
        "pause-until-beyond-year-9999-in-utc", "setAutoLendRule", "lender", {"pauseUntil": "9999-12-31T23:59:59-23:59"}
    ),
    Seed("display-name-lone-surrogate", "registerLender", None, {"displayName": "0\ud800"}),
    Seed("token-name-lone-surrogate", "createApiToken", "lender", {"name": "0\ud800"}),
    Seed("search-name-lone-surrogate", "saveSearch", "lender", {"name": "0\ud800"}),
    Seed("loan-name-lone-surrogate", "listLoan", "partner", {"name": "0\ud800"}),
    Seed("loan-description-lone-surrogate", "listLoan", "partner", {"description": "0\ud800"}),
    Seed("search-keyword-lone-surrogate", "saveSearch", "lender", {"filter": {"keywords": ["0\ud800"]}}),
    Seed("search-keyword-nul", "saveSearch", "lender", {"filter": {"keywords": ["0\x00"]}}),
    Seed("rule-keyword-lone-surrogate", "setAutoLendRule", "lender", {"criteria": {"keywords": ["0\ud800"]}}),
    Seed("rule-keyword-nul", "setAutoLendRule", "lender", {"criteria": {"keywords": ["0\x00"]}}),
    Seed("rule-max-term-beyond-smallint", "setAutoLendRule", "lender", {"criteria": {"maxTermMonths": 32768}}),
]


def result_types(mutation: str) -> tuple[set[str], set[str]]:
    """(success types, typed errors) of a mutation's result union."""
    result = get_named_type(MUTATIONS[mutation].type)
    members = result.types if isinstance(result, GraphQLUnionType) else [result]
    typed = {t.name for t in members if isinstance(t, GraphQLObjectType) and USER_ERROR in t.interfaces}
    return {t.name for t in members} - typed, typed


def document(mutation: str) -> str:
    arg = MUTATIONS[mutation].args["input"].type
    return (
        f"mutation Fuzz($input: {arg}) {{ result: {mutation}(input: $input) {{ "
        "__typename ... on UserError { code message } } }"
    )
