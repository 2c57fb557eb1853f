"""Global ids: whatever a client sends as an id, it names an object or nothing; it never breaks the server.

A global id is base64 of "Type:key", and the key of every object is its
database id written plainly: 1 to 2,147,483,647, ASCII digits, no sign, no
leading zero, no spaces. `node(id:)` answers null for anything else (a key of
letters, overflowing, negative, in exponent notation, with spaces, in other
digits, a type that is no Node); so do `loan(id:)` and `lender(id:)`; inputs
that take an id (LendInput.loanId and the others, fuzzed in
tests/security/test_fuzz.py) answer NotFound. Never an internal error.
"""

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.relay import GlobalID

from tests.api import partner_token

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
LOAN = "query($id: ID!) { loan(id: $id) { id } }"
LENDER = "query($id: ID!) { lender(id: $id) { id } }"

NAMED_KEYS = ["abc", "99999999999999999999999", "-1", "1e3", " 1", "1 ", "\u0661", "01", "+1", "1_0", "0x1", "",
              "0", "2147483648", "9" * 5000, "1.0", "\uff11", "1\x00", "NaN"]  # fmt: skip
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)  # a lone surrogate cannot travel in UTF-8
KEYS = st.one_of(
    st.sampled_from(NAMED_KEYS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    TEXT,
)
TYPES = st.one_of(
    st.sampled_from(["Loan", "Partner", "Lender", "Share", "ApiToken", "Query", "LoanEdge", "loan", "Nope", ""]),
    TEXT,
)


def gid(type_name: str, key: str) -> str:
    return str(GlobalID(type_name, key))


def key_of(global_id: str) -> str:
    return GlobalID.from_id(global_id).node_id


@pytest.fixture
async def world(api):
    """A loan, its partner and a lender: the objects a canonical id may find."""
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    lender_id, _ = await api.register()
    loan = await api.data("query($id: ID!) { loan(id: $id) { partner { id } } }", {"id": loan_id})
    return {"Loan": key_of(loan_id), "Partner": key_of(loan["loan"]["partner"]["id"]), "Lender": key_of(lender_id)}


def refused_or_null(body: dict, field: str) -> bool:
    """True for a null answer; a request refused before it ran (errors without a path) passes too."""
    errors = body.get("errors") or []
    for error in errors:
        assert (error.get("extensions") or {}).get("code") != "INTERNAL", body
        assert error.get("message") != "Internal error", body
        assert not error.get("path"), f"an error from the resolver: {body}"
    if errors:
        assert body.get("data") is None, body
        return True
    return body["data"][field] is None


@pytest.mark.parametrize("key", NAMED_KEYS)
async def test_a_loan_key_that_is_no_database_id_names_nothing(api, world, key):
    for query, field in ((NODE, "node"), (LOAN, "loan")):
        body = await api.post(query, {"id": gid("Loan", key)})
        assert body == {"data": {field: None}}, (key, body)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(type_name=TYPES, key=KEYS)
async def test_any_global_id_names_an_object_or_nothing(api, world, type_name, key):
    global_id = gid(type_name, key)
    found = world.get(type_name) == key
    body = await api.post(NODE, {"id": global_id})
    if found:
        assert body == {"data": {"node": {"__typename": type_name, "id": global_id}}}, body
    else:
        assert refused_or_null(body, "node"), body
    for query, field, type_of in ((LOAN, "loan", "Loan"), (LENDER, "lender", "Lender")):
        body = await api.post(query, {"id": global_id})
        if world.get(type_of) == key and type_name == type_of:
            assert body == {"data": {field: {"id": global_id}}}, body
        else:
            assert refused_or_null(body, field), body


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    garbage=st.one_of(
        st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=24),
    )
)
async def test_an_id_that_is_no_global_id_names_nothing(api, world, garbage):
    for query, field in ((NODE, "node"), (LOAN, "loan"), (LENDER, "lender")):
        assert refused_or_null(await api.post(query, {"id": garbage}), field)
