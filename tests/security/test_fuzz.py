"""OWASP GraphQL cheat sheet, "Input Validation", tried at random: a property-based fuzz of every mutation's input.

For every mutation of the schema (read from the schema itself, so a new
mutation without a fuzz plan fails `test_every_mutation_has_a_fuzz_plan`),
hypothesis builds its `$input` from the GraphQL input types: each field kept
from a valid input, replaced by a plausible value, by a hostile value of its
own type (unicode, control characters and lone surrogates, very long strings,
decimals with many places, 1e400, NaN and Infinity as strings and as JSON
numbers, integers beyond 32 and 64 bits, numbers too long for Python's JSON
parser, odd ISO dates at the ends of the calendar, global ids of other types,
of huge or negative ints, or plain garbage), by a value of another type
altogether, by null, or left out; plus fields the type does not have, nested
filters with random lists, and whole inputs or `variables` of the wrong shape.

Each input is sent twice: with a token of a caller who may run the mutation,
and with one who may not (another role, a lender token without the scope, a
revoked or never-issued token, no token). Every response must be

- HTTP 200 or 400 (413 only when the body is over the configured limit):
  never a 5xx, never an exception out of the app;
- free of "Internal error" / extensions.code INTERNAL (an unexpected
  exception, masked by graph/extensions.py MaskUnexpectedErrors; its error id
  and traceback are in the `lendgraph.errors` log, quoted in the failure);
- either a refusal before execution (errors without a `path`, data null) or
  data whose mutation result is the success type or a type implementing
  UserError, with a code and a message; an error from inside a resolver (one
  with a `path`) is an untyped error and fails the test;

and after every request the ledger must balance (`check_books`): the fixture
checks it only once, at the end of the test. The fuzz runs once per mutation,
and once more over all mutations with the app in production mode, which
coerces variables itself to hide "Did you mean" hints (graph/extensions.py).

Each input is drawn mostly as a valid input with one field replaced, the field
drawn evenly among all fields at every level (so a nested filter's `keywords`
is fuzzed as often as a top-level `amount`), and the other fields left valid,
so that the odd value gets past their checks to wherever it can do harm.

The world (partners, lenders with credit, loans in each state, shares, saved
searches, tokens) is arranged once per test, not per example; examples share
it, so later examples meet the state the earlier ones left (a search deleted,
a loan defaulted, a rule that lent). Lender tokens that an example revoked
are reissued before the next one.

Rate limits are off in this app (tests/security has their own tests): with a
fake clock their windows never end, and the fuzz sends far more money
mutations than a lender may per minute.

`SEEDS` is the regression corpus: the minimal failing inputs the fuzz has
found, replayed on every run (`test_fuzz_regressions`) whatever hypothesis
draws, so a bug once found stays visible until it is fixed, and stays fixed.
Add a seed for each new finding.

Runs are deterministic (`derandomize`, no example database) so that CI is
repeatable. To explore, with more and fresh examples and hypothesis's
statistics (input shapes drawn, answers seen per caller):

    FUZZ_EXAMPLES=500 FUZZ_RANDOM=1 pytest tests/security/test_fuzz.py --hypothesis-show-statistics
"""

import base64
import json
import logging
import os
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from graphql.utilities import validate_input_value
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from strawberry.relay import GlobalID

from graph.schema import schema
from graph.settings import Settings
from lending.ledger import check_books
from lending.tokens import PORTFOLIO_READ, SCOPES, authenticate, issue_token
from models import Role
from tests.api import LISTING, Api, admin_token, partner_token
from tests.clock import FakeClock
from tests.conftest import serve

GQL = schema._schema
MUTATIONS = GQL.mutation_type.fields
USER_ERROR = GQL.get_type("UserError")
NODE_TYPES = sorted(t.name for t in GQL.get_possible_types(GQL.get_type("Node")))
MAX_BODY_BYTES = Settings().max_body_bytes

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is arranged once per test, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)


# ============================================================== the world


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


# ============================================================== values


class RawJSON(str):
    """Text put into the request body as is: a JSON number no Python value can be dumped as."""

    def __repr__(self) -> str:
        return f"RawJSON({str(self)[:40]!r}{'...' if len(self) > 40 else ''} ({len(self)} chars))"


def encode(body: Any) -> bytes:
    """The request body: JSON with NaN/Infinity allowed, lone surrogates escaped, RawJSON spliced in."""
    raw: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, RawJSON):
            marker = f"@@raw-{uuid.uuid4().hex}@@"
            raw[json.dumps(marker)] = str(value)
            return marker
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body))  # ensure_ascii: "\ud800" travels escaped, as any client may send it
    for marker, value in raw.items():
        text = text.replace(marker, value)
    return text.encode()


# Characters that break naive code, one class per branch: controls (NUL among them), lone
# surrogates (valid JSON, not encodable as UTF-8), format characters (bidi overrides, zero-width,
# the BOM), combining marks, private use and unassigned code points, and a few chosen by hand.
NOW = FakeClock().now  # the fake clock's start: "now" for every request of the fuzz
ODD_CHARS = st.one_of(
    st.characters(categories=["Cs"]),
    st.characters(categories=["Cc"]),
    st.characters(categories=["Cf", "Zl", "Zp"]),
    st.characters(categories=["Mn", "Me", "Nd"]),
    st.characters(categories=["Co", "Cn"]),
    st.sampled_from(["\x00", "\u202e", "\ufeff", "\uffff", "\U0001f4b8", "\u0130", "\u00df", "'", '"', "\\", "%", "_"]),
)
ANY_CHAR = st.one_of(st.characters(), ODD_CHARS)
WORDS = st.text(st.characters(categories=["L", "Nd"]), min_size=1, max_size=12)


def sprinkle(head: str, odd: str, tail: str) -> str:
    return head + odd + tail


def repeat(char: str, count: int) -> str:
    return char * count


def copies(value: Any, count: int) -> list:
    return [value] * count


def email(local: str, domain: str) -> str:
    return f"{local}@{domain}.org"


def offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def from_now(seconds: int, tz: timezone) -> str:
    return (NOW + timedelta(seconds=seconds)).astimezone(tz).isoformat()


LONG_STRINGS = st.builds(
    repeat,
    st.sampled_from(["x", " ", "\u00e9", "\U0001f4b8", "\x00", "a@b.c", "25"]),
    st.sampled_from([51, 101, 201, 255, 256, 501, 1001, 4000, 10_001]),
)
TEXTS = st.one_of(
    # One odd character inside an otherwise plausible value: it gets past "required" and length checks.
    st.builds(sprinkle, WORDS, ODD_CHARS, st.text(st.characters(categories=["L"]), max_size=4)),
    st.text(ANY_CHAR, max_size=20),
    st.text(max_size=20),
    LONG_STRINGS,
    st.sampled_from(
        ["", " ", "\t\n", "null", "0", "-1", "1e400", "NaN", "true", "<script>", "' OR 1=1 --", "%00", "${jndi:x}"]
    ),
)

# fmt: off
EDGE_DECIMALS = [
    "0", "-0", "0.00", "-0.00", "0.001", "0.01", "0.005", "25", "25.0", "25.00", "25.000", "24.99", "25.01",
    "-25.00", "1.00", "10.00", "100", "1000000.00", "1000000.01", "50000.00", "50025", "10000.00", "10000.25",
    "1e2", "2.5E+1", "1e400", "1E+999999", "1e-999999", "-1e400", "1E-7", "NaN", "-NaN", "sNaN", "-sNaN",
    "Infinity", "-Infinity", "inf", "-inf", "nan", " 25.00", "25.00 ", "+25", "25,00", "0x19", "1_000",
    "\u0662\u0665", "\uff12\uff15", "", " ", "25.00\x00", "25..0", "1" + "0" * 26 + ".001", "9" * 100,
    "0." + "0" * 100 + "1", "1" + "0" * 5000, "25." + "0" * 5000, "12345678901234567890123456789.01",
]
EDGE_DATETIMES = [
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.999999+00:00", "9999-12-31T24:00:00", "9999-12-31T24:00:00Z",
    "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z", "2026-03-03", "2026-03-03T12:00:00Z", "20260303T120000Z",
    "2026-03-03T12:00:00", "2026-03-03T12:00:00+25:00", "2026-02-30T00:00:00Z", "2026-03-03T12:00:00.123456789Z",
    "2026-W10-2T12:00Z", "2026-03-03T12:00:00+00:00[Europe/Paris]", "tomorrow", "", "now", "2026-13-01T00:00:00Z",
    "+12026-03-03T00:00:00Z", "2026-03-03T12:00:00\x00Z",
]
# The edges of SMALLINT, INTEGER and BIGINT columns, and of the API's own ranges.
EDGE_INTS = [
    0, -1, 1, 12, 120, 121, 365, 366, 32767, 32768, -32769, 65536, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**30,
]
# fmt: on
RAW_NUMBERS = st.sampled_from(
    [
        RawJSON("9" * 5000),
        RawJSON("-" + "9" * 4301),
        RawJSON("1e999"),
        RawJSON("-1e999"),
        RawJSON("1e-999"),
        RawJSON("2.50e1"),
        RawJSON("25.000000000000000000000000000000001"),
        RawJSON("-0"),
    ]
)
JSON_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 25, 25.0, 25.5, 0.1, 1e16, 1e308, 2**31, 2**53 + 1, 2**63, 2**64]),
    RAW_NUMBERS,
)
DECIMALS = st.one_of(
    st.sampled_from(EDGE_DECIMALS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=0, max_value=40).flatmap(
        lambda places: st.decimals(min_value=-(10**7), max_value=10**7, places=places).map(str)
    ),
    JSON_NUMBERS,
)
INTS = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.sampled_from(EDGE_INTS),
    st.sampled_from(["12", "1e3", 12.0, 12.5, float("nan"), float("inf"), True]),
    RAW_NUMBERS,
)
BOOLEANS = st.one_of(st.booleans(), st.sampled_from(["true", "false", 0, 1, "", None]))

OFFSETS = st.builds(offset, st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
NEAR_NOW = st.builds(
    from_now,
    st.integers(min_value=-86400 * 10, max_value=86400 * 400),
    st.one_of(st.just(UTC), OFFSETS),
)
DATETIMES = st.one_of(
    NEAR_NOW,
    st.sampled_from(EDGE_DATETIMES),
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), OFFSETS, st.timezones())).map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**40), max_value=2**40),  # epoch seconds, not ISO
    TEXTS,
)
DATES = st.one_of(
    st.dates().map(str), st.sampled_from(["2026-02-30", "0000-01-01", "99999-01-01", "2026-3-3", ""]), TEXTS
)

JSON_LEAVES = st.one_of(st.none(), st.booleans(), JSON_NUMBERS, TEXTS)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def encoded_id(type_name: str, node_id: str) -> str:
    return str(GlobalID(type_name, node_id))


def hostile_ids(world: World) -> st.SearchStrategy:
    """Global ids of other types, of odd or huge numbers, and garbage that is no global id at all."""
    type_names = st.one_of(
        st.sampled_from(NODE_TYPES),
        st.sampled_from(["", "loan", "Loan ", "Nope", "Loan:1", "Node"]),
        st.text(max_size=8),
    )
    node_ids = st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(
            [
                "0",
                "-1",
                "01",
                " 1",
                "1 ",
                "+1",
                "1_0",
                "\u0661",
                "2147483647",
                "2147483648",
                "1e3",
                "0x1",
                "",
                "9" * 5000,
            ]
        ),
        st.text(max_size=10),
    )
    return st.one_of(
        st.builds(encoded_id, type_names, node_ids),
        st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),  # not UTF-8, no colon, ...
        st.text(ANY_CHAR, max_size=12).map(lambda t: base64.b64encode(t.encode("utf-8", "surrogatepass")).decode()),
        st.sampled_from(world.all_ids()).map(lambda gid: gid.rstrip("=")),  # padding dropped
        st.sampled_from(world.all_ids()).map(lambda gid: gid + "\x00"),
        st.sampled_from(world.all_ids()).map(lambda gid: " " + gid),
        TEXTS,
        st.integers(min_value=-(2**63), max_value=2**63),  # an ID may be sent as a JSON integer
        st.sampled_from([1.5, float("nan"), True, RawJSON("9" * 5000)]),
    )


def scalar_values(world: World) -> dict[str, st.SearchStrategy]:
    """Hostile values of each scalar a mutation input can hold; a new scalar needs an entry here."""
    return {
        "String": TEXTS,
        "ID": st.one_of(st.sampled_from(world.all_ids()), hostile_ids(world)),
        "Int": INTS,
        "Float": JSON_NUMBERS,
        "Boolean": BOOLEANS,
        "Decimal": DECIMALS,
        "DateTime": DATETIMES,
        "Date": DATES,
    }


GOOD_AMOUNTS = st.sampled_from(["25.00", "50.00", "25", "100.00", "1.00", "10.00", "0.01", "75.00", "1000.00"])
COUNTRY_CODES = st.sampled_from(["KE", "UG", "ke", " KE ", "US", "XX", "KEN", ""])


def good_values(world: World) -> dict[str, st.SearchStrategy]:
    """Plausible values by field name: they get the fuzz past the first checks to the deeper ones."""
    loans = st.sampled_from(world.ids["Loan"])
    return {
        "loanId": loans,
        "partnerId": st.sampled_from(world.ids["Partner"]),
        "amount": GOOD_AMOUNTS,
        "currencyLoss": st.sampled_from(["0.00", "0.01", "1.00", "5.00", "0"]),
        "amountPerLoan": GOOD_AMOUNTS,
        "keepBalance": st.sampled_from(["0.00", "25.00", "4000.00", "0"]),
        "riskRatingMin": st.sampled_from(["0.5", "1.0", "3.5", "5.0", "5.5", "0.3", "2.25"]),
        "riskRatingMax": st.sampled_from(["0.5", "1.0", "3.5", "5.0", "5.5", "0.3", "2.25"]),
        "idempotencyKey": st.one_of(
            st.sampled_from(["k1", "k2", "k3"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=100),
        ),
        "termMonths": st.integers(min_value=0, max_value=130),
        "maxTermMonths": st.integers(min_value=-1, max_value=130),
        "idleDays": st.integers(min_value=-1, max_value=370),
        "expiresAt": NEAR_NOW,
        "pauseUntil": st.one_of(NEAR_NOW, st.sampled_from(EDGE_DATETIMES[:5])),
        "countryIsoCode": COUNTRY_CODES,
        "countries": st.lists(COUNTRY_CODES, max_size=5),
        "keywords": st.lists(WORDS, max_size=12),
        "scopes": st.lists(st.sampled_from([*SCOPES, "admin", "LEND", "lend "]), max_size=6),
        "email": st.builds(email, WORDS, WORDS),
        "displayName": WORDS,
        "name": WORDS,
        "use": WORDS,
        "description": st.text(max_size=50),
        "currency": st.sampled_from(["USD", "KES", "usd", "US", "ÉUR", "U$D", " KES "]),
        "alert": st.booleans(),
        "enabled": st.booleans(),
    }


def typed_value(gtype: GraphQLInputType, world: World, depth: int = 0) -> st.SearchStrategy:
    """A hostile value of a GraphQL input type (not null: null comes from the field's mode)."""
    if isinstance(gtype, GraphQLNonNull):
        return typed_value(gtype.of_type, world, depth)
    if isinstance(gtype, GraphQLList):
        item = typed_value(gtype.of_type, world, depth + 1)
        return st.one_of(
            st.lists(item, max_size=6),
            item,  # one value where a list is expected: GraphQL coerces it to a list of one
            st.lists(st.one_of(item, st.none()), min_size=1, max_size=4),
            st.builds(copies, item, st.sampled_from([11, 50, 200])),
        )
    if isinstance(gtype, GraphQLInputObjectType):
        if depth > 2:
            return st.just({})
        return input_object(gtype, {}, world, depth + 1)
    if isinstance(gtype, GraphQLEnumType):
        names = sorted(gtype.values)
        return st.one_of(
            st.sampled_from(names),
            st.sampled_from(names).map(str.lower),
            st.sampled_from(names).map(lambda n: n + " "),
            TEXTS,
            st.integers(min_value=0, max_value=len(names)),
        )
    if isinstance(gtype, GraphQLScalarType):
        return scalar_values(world)[gtype.name]
    raise TypeError(f"no fuzz strategy for {gtype}")


FIELD_MODES = ["good"] * 3 + ["hostile"] * 3 + ["other type", "null", "omit"]
ONE_FIELD_MODES = ["hostile"] * 6 + ["good", "other type", "null", "omit"]
EXTRA_FIELD_NAMES = st.one_of(
    st.sampled_from(
        ["id", "lenderId", "role", "balance", "status", "__typename", "amountCents", "partnerId", "scopes"]
    ),
    st.text(max_size=10),
)


def _replaced(
    draw: st.DrawFn, mode: str, name: str, gtype: GraphQLInputType, world: World, depth: int, out: dict
) -> None:
    """Set (or drop) one field of `out` as `mode` says."""
    goods = good_values(world)
    if mode == "good" and name in goods:
        out[name] = draw(goods[name])
    elif mode in ("good", "hostile"):
        out[name] = draw(typed_value(gtype, world, depth))
    elif mode == "other type":
        out[name] = draw(ANY_JSON)
    elif mode == "null":
        out[name] = None
    else:
        out.pop(name, None)


def field_paths(type_: GraphQLInputObjectType, depth: int = 0) -> list[tuple[str, ...]]:
    """Every field of an input type, and every field of the input objects nested in it (not in lists)."""
    paths = []
    for name, input_field in sorted(type_.fields.items()):
        paths.append((name,))
        gtype = input_field.type.of_type if isinstance(input_field.type, GraphQLNonNull) else input_field.type
        if isinstance(gtype, GraphQLInputObjectType) and depth < 2:
            paths += [(name, *rest) for rest in field_paths(gtype, depth + 1)]
    return paths


def one_field(type_: GraphQLInputObjectType, base: dict, world: World) -> st.SearchStrategy:
    """`base` with one field, maybe of a nested filter, hostile, of another type, null or left out.

    The path is drawn evenly among all fields at every level, so a nested filter's fields are fuzzed
    as often as top-level ones; the other fields stay valid, so the odd value gets past their checks
    to wherever it can do harm.
    """
    paths = field_paths(type_)

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        path = draw(st.sampled_from(paths))
        out = dict(base)
        holder, holder_type = out, type_
        for name in path[:-1]:
            inner = holder.get(name)
            holder[name] = dict(inner) if isinstance(inner, dict) else {}
            holder, holder_type = holder[name], get_named_type(holder_type.fields[name].type)
        name = path[-1]
        mode = draw(st.sampled_from(ONE_FIELD_MODES))
        _replaced(draw, mode, name, holder_type.fields[name].type, world, len(path), holder)
        return out

    return build()


def input_object(type_: GraphQLInputObjectType, base: dict, world: World, depth: int = 0) -> st.SearchStrategy:
    """`base` with a few of its fields made plausible, hostile, of another type, null or left out."""
    names = sorted(type_.fields)

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        out = dict(base)
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)), unique=True)):
            _replaced(draw, draw(st.sampled_from(FIELD_MODES)), name, type_.fields[name].type, world, depth, out)
        return out

    return build()


def with_extra_fields(type_: GraphQLInputObjectType, value: dict) -> st.SearchStrategy:
    """Fields the input type does not have: GraphQL must refuse them, never pass them on."""
    names = EXTRA_FIELD_NAMES.filter(lambda name: name not in type_.fields)
    return st.dictionaries(names, ANY_JSON, min_size=1, max_size=2).map(lambda extra: {**value, **extra})


INPUT_SHAPES = (
    ["one field"] * 8
    + ["fields"] * 4
    + ["valid", "extra fields", "null", "missing", "not an object", "list of inputs", "bad variables"]
)


def variables_for(mutation: str, plan: "Plan", world: World) -> st.SearchStrategy:
    """The request's `variables`: mostly `{"input": <fuzzed input>}`, sometimes of the wrong shape."""
    arg = MUTATIONS[mutation].args["input"].type
    type_ = get_named_type(arg)
    assert isinstance(type_, GraphQLInputObjectType)

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        base = plan.valid(world)
        shape = draw(st.sampled_from(INPUT_SHAPES))
        event(f"input shape: {shape}")
        if shape == "one field":
            return {"input": draw(one_field(type_, base, world))}
        if shape == "fields":
            return {"input": draw(input_object(type_, base, world))}
        if shape == "valid":
            return {"input": base}
        if shape == "extra fields":
            return {"input": draw(with_extra_fields(type_, base))}
        if shape == "null":
            return {"input": None}
        if shape == "missing":
            return {}
        if shape == "not an object":
            return {"input": draw(JSON_LEAVES)}
        if shape == "list of inputs":
            return {"input": [base, draw(input_object(type_, base, world))]}
        return draw(st.one_of(JSON_LEAVES, st.lists(JSON_LEAVES, max_size=3)))  # variables themselves not an object

    return build()


# ============================================================== plans

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


# ============================================================== sending and judging


class ErrorLog(logging.Filter):
    """The `lendgraph.errors` records, each masked error's id with its traceback, kept here only.

    A filter on the logger, so that the records reach no handler: hypothesis replays a failure
    hundreds of times while shrinking, and pytest would print every traceback of every replay.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    def traceback_of(self, error_id: str) -> str:
        for record in self.records:
            if error_id in record.getMessage() and record.exc_info:
                return key_lines(record.exc_info[1])
        return "(no log record for this error id)"


def key_lines(error: BaseException) -> str:
    """The traceback's last frames in lendgraph's own code, and the exception."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename and "/tests/" not in f.filename] or frames[-1:]
    shown = traceback.format_list(own[-3:] + ([frames[-1]] if frames and frames[-1] not in own[-3:] else []))
    return "".join(shown) + "".join(traceback.format_exception_only(error))


@dataclass
class Exchange:
    mutation: str
    caller: str | None
    variables: Any
    status: int = 0
    body: Any = None
    size: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        variables = repr(self.variables)
        shown = variables if len(variables) < 1500 else variables[:1500] + f"... ({len(variables)} chars)"
        body = json.dumps(self.body, default=str)[:2000] if not isinstance(self.body, str) else self.body[:2000]
        return f"{self.mutation} as {self.caller}: variables={shown}\n  -> HTTP {self.status}: {body}"


async def send(world: World, mutation: str, caller: str | None, variables: Any) -> Exchange:
    token = world.tokens[caller]
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = token if caller == "not_bearer" else f"Bearer {token}"
    content = encode({"query": document(mutation), "variables": variables})
    exchange = Exchange(mutation, caller, variables, size=len(content))
    try:
        response = await world.api.http.post("/graphql", content=content, headers=headers)
    except Exception as error:  # the in-process transport re-raises what the app let escape: a client gets a 500
        raise AssertionError(f"HTTP 500, the app raised {error!r}\n{exchange}\n{key_lines(error)}") from error
    exchange.status = response.status_code
    try:
        exchange.body = response.json()
    except ValueError:
        exchange.body = response.text
    return exchange


def judge(exchange: Exchange, errors_log: ErrorLog) -> str:
    """Check one response; return what it was: a refusal, a typed error or a success."""
    status, body = exchange.status, exchange.body
    if exchange.size > MAX_BODY_BYTES:
        assert status == 413, f"a body over the limit must get 413\n{exchange}"
        return "too large"
    assert status in (200, 400), f"HTTP {status}: must be 200 or 400\n{exchange}"
    if not isinstance(body, dict):
        assert status == 400, f"a 200 must carry a GraphQL response\n{exchange}"
        return "refused"  # a body strawberry could not read as a GraphQL request
    errors = body.get("errors") or []
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "INTERNAL" or error.get("message") == "Internal error":
            where = errors_log.traceback_of(str(extensions.get("errorId")))
            raise AssertionError(
                f"an unexpected exception (masked as Internal error)\n{exchange}\nserver log:\n{where}"
            )
        assert not error.get("path"), (
            f"an untyped error from a resolver: expected a UserError in the payload\n{exchange}"
        )
    if errors or status == 400:
        assert body.get("data") is None, f"a refused request must have no data\n{exchange}"
        assert errors, f"a refusal must say why\n{exchange}"
        return "refused"
    result = (body.get("data") or {}).get("result")
    assert isinstance(result, dict), f"no errors, so the payload must hold the result\n{exchange}"
    success, typed = result_types(exchange.mutation)
    typename = result.get("__typename")
    assert typename in success | typed, f"{typename} is neither {success} nor a UserError of {typed}\n{exchange}"
    if typename in typed:
        assert isinstance(result.get("code"), str) and result["code"], f"a UserError without a code\n{exchange}"
        assert isinstance(result.get("message"), str) and result["message"].strip(), (
            f"a UserError without a message\n{exchange}"
        )
        return typename
    return "success"


async def fuzz_one(world: World, errors_log: ErrorLog, mutation: str, variables: Any, callers: list) -> list[str]:
    """Send one input as each caller; judge every answer; then the books must balance."""
    seen = []
    for caller in callers:
        exchange = await send(world, mutation, caller, variables)
        seen.append(judge(exchange, errors_log))
        if currently_in_test_context():  # hypothesis statistics (--hypothesis-show-statistics)
            event(f"{'may call' if caller in PLANS[mutation].callers else 'may not'}: {seen[-1]}")
        books = await check_books()
        assert books.ok, f"the books do not balance after\n{exchange}\n{books.problems}"
    await world.reissue_revoked_tokens()
    return seen


# ============================================================== fixtures


@pytest.fixture
async def fuzz_api(request: pytest.FixtureRequest, database_url: str, clock: FakeClock):
    """The API with rate limits off (and, when parametrized so, in production mode); books checked at the end."""
    off = {"rate_limit_per_ip": 0, "rate_limit_per_token": 0, "rate_limit_money_per_lender": 0}
    async with serve(database_url, clock, production=getattr(request, "param", False), **off) as client:
        yield client


@pytest.fixture
async def world(fuzz_api: Api) -> World:
    return await arrange(fuzz_api)


@pytest.fixture
def errors_log():
    """The masked errors' log, kept for the failures to quote; strawberry's log of every refused request, off.

    strawberry logs each GraphQL error with its traceback: thousands of expected refusals would bury
    the one failure. A failure quotes the key lines of its own error's traceback from `lendgraph.errors`.
    """
    collected = ErrorLog()
    errors = logging.getLogger("lendgraph.errors")
    strawberry_log = logging.getLogger("strawberry.execution")
    was_disabled = strawberry_log.disabled
    errors.addFilter(collected)
    strawberry_log.disabled = True
    yield collected
    strawberry_log.disabled = was_disabled
    errors.removeFilter(collected)


# ============================================================== tests


def _input_types(gtype: Any, seen: set[str]) -> None:
    named = get_named_type(gtype)
    if named.name in seen:
        return
    seen.add(named.name)
    if isinstance(named, GraphQLInputObjectType):
        for input_field in named.fields.values():
            _input_types(input_field.type, seen)


def test_every_mutation_has_a_fuzz_plan():
    """A new mutation (or a new scalar in a mutation's input) must come with its fuzz strategy."""
    assert sorted(PLANS) == sorted(MUTATIONS), "add a Plan to PLANS for each new mutation"
    dummy = World(api=None, tokens={}, ids={"Loan": ["x"], "Partner": ["x"]}, lender_pks={})  # type: ignore[arg-type]
    dummy.ids.update({name: ["x"] for name in NODE_TYPES})
    scalars = scalar_values(dummy)
    for name, mutation in MUTATIONS.items():
        assert list(mutation.args) == ["input"], f"{name}: the fuzz sends one `input` argument"
        seen: set[str] = set()
        _input_types(mutation.args["input"].type, seen)
        for type_name in seen:
            gtype = GQL.get_type(type_name)
            if isinstance(gtype, GraphQLScalarType):
                assert type_name in scalars, f"{name}: no fuzz values for the scalar {type_name}"
        success, typed = result_types(name)
        assert success and typed, f"{name}: a result union with a success type and UserErrors"
        plan = PLANS[name]
        assert plan.callers and plan.others and not set(plan.callers) & set(plan.others)


async def test_the_valid_inputs_succeed(world: World, errors_log: ErrorLog):
    """Each plan's valid input succeeds for its first caller: the fuzz starts from the success path."""
    for name, plan in PLANS.items():
        variables = {"input": plan.valid(world)}
        arg = MUTATIONS[name].args["input"].type
        assert not _coercion_errors(variables["input"], arg), name
        exchange = await send(world, name, plan.callers[0], variables)
        assert judge(exchange, errors_log) == "success", f"{exchange}"
    books = await check_books()
    assert books.ok, books.problems


def _coercion_errors(value: Any, gtype: Any) -> list[str]:
    errors: list[str] = []
    validate_input_value(value, gtype, lambda error, path: errors.append(f"{path}: {error.message}"))
    return errors


async def test_fuzz_regressions(world: World, errors_log: ErrorLog):
    """Every seed of the corpus, each judged as the fuzz judges; all failures reported together."""
    failures = []
    for seed in SEEDS:
        variables = {"input": merged(PLANS[seed.mutation].valid(world), seed.fields)}
        try:
            await fuzz_one(world, errors_log, seed.mutation, variables, [seed.caller])
        except AssertionError as failure:
            failures.append(f"[{seed.id}] {failure}")
    assert not failures, f"{len(failures)} of {len(SEEDS)} seeds fail:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("mutation", sorted(PLANS))
@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzz_mutation(world: World, errors_log: ErrorLog, mutation: str, data: st.DataObject):
    """One input, sent by a caller who may run the mutation and by one who may not; books checked after each."""
    plan = PLANS[mutation]
    variables = data.draw(variables_for(mutation, plan, world), label="variables")
    caller = data.draw(st.sampled_from(plan.callers), label="caller")
    other = data.draw(st.sampled_from(plan.others), label="other caller")
    await fuzz_one(world, errors_log, mutation, variables, [caller, other])


@pytest.mark.parametrize("fuzz_api", [True], indirect=True, ids=["production"])
@settings(FUZZ_SETTINGS, max_examples=2 * EXAMPLES)
@given(data=st.data())
async def test_fuzz_in_production_mode(world: World, errors_log: ErrorLog, data: st.DataObject):
    """Production mode coerces variables itself, without "Did you mean" hints (graph/extensions.py): fuzz it too."""
    mutation = data.draw(st.sampled_from(sorted(PLANS)), label="mutation")
    plan = PLANS[mutation]
    variables = data.draw(variables_for(mutation, plan, world), label="variables")
    caller = data.draw(st.sampled_from(plan.callers + plan.others), label="caller")
    await fuzz_one(world, errors_log, mutation, variables, [caller])
