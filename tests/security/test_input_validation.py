"""OWASP GraphQL cheat sheet, "Input Validation" and "Injection Prevention".

Text is bounded and free of control characters (else a typed InvalidInput),
reaches the database only as a bound parameter, and comes back exactly as it
was sent; a keyword search treats LIKE wildcards as the characters they are.
Values of the wrong type are refused by GraphQL before a resolver runs. The
property-based fuzz of every mutation is test_fuzz.py; a table of bad input
per mutation is tests/graph/test_bad_input.py and test_bad_partner_input.py.
"""

import json

import pytest

from tests.api import partner_token
from tests.security.calls import codes
from tests.snapshot import changes, snapshot

SQL = "Robert'); DROP TABLE lender; --"
QUOTES = "\"' `$(whoami)` \\\\ ; -- /* */ {{7*7}} <script>"
KEYWORD_SEARCH = "query($k: [String!]) { loans(filter: {keywords: $k}) { edges { node { name } } } }"


async def test_text_that_looks_like_sql_or_markup_is_stored_and_returned_as_it_was(api):
    partner = await partner_token()
    loan = await api.list_loan(partner, name=SQL, use=QUOTES, description=f"{SQL}\n{QUOTES}")
    assert loan["__typename"] == "ListLoanSuccess", loan
    _, token = await api.register(SQL, email="robert@example.org")
    saved = await api.data(
        """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
             __typename ... on SaveSearchSuccess { savedSearch { name filter { keywords } } } } }""",
        {"input": {"name": QUOTES, "filter": {"keywords": [SQL]}}},
        token,
    )
    assert saved["saveSearch"]["savedSearch"] == {"name": QUOTES, "filter": {"keywords": [SQL.lower()]}}

    read = await api.data(
        """query($id: ID!) { node(id: $id) { ... on Loan { name use description } } me { displayName } }""",
        {"id": loan["loan"]["id"]},
        token,
    )
    assert read["node"] == {"name": SQL, "use": QUOTES, "description": f"{SQL}\n{QUOTES}"}
    assert read["me"]["displayName"] == SQL
    # The keyword is a search term, not SQL: it finds the loan whose text holds it, and every table is still there.
    found = await api.data(KEYWORD_SEARCH, {"k": ["drop table lender"]})
    assert [edge["node"]["name"] for edge in found["loans"]["edges"]] == [SQL]
    assert (await api.data("{ loans { totalCount } }"))["loans"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [("%", ["100% solar"]), ("_", ["snake_case farm"]), ("\\", ["back\\slash"]), ("0%", ["100% solar"]), ("s%r", [])],
)
async def test_keyword_wildcards_match_only_themselves(api, keyword, expected):
    partner = await partner_token()
    for name in ("100% solar", "snake_case farm", "back\\slash", "Plain goats"):
        await api.loan_id(partner, name=name)
    found = await api.data(KEYWORD_SEARCH, {"k": [keyword]})
    assert sorted(edge["node"]["name"] for edge in found["loans"]["edges"]) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Ada\x00", "control characters"),
        ("Ada\x1b[31m", "control characters"),
        ("Ada\ud800", "unpaired surrogates"),
        ("A" * 101, "characters"),
        ("   ", "characters"),
    ],
    ids=["nul", "escape-sequence", "lone-surrogate", "too-long", "blank"],
)
async def test_bad_text_is_a_typed_error_that_writes_nothing(api, name, reason):
    before = await snapshot()
    request = {
        "query": """mutation($input: RegisterLenderInput!) { registerLender(input: $input) {
                      __typename ... on InvalidInput { field message } } }""",
        "variables": {"input": {"displayName": name, "email": "ada@example.org"}},
    }
    # Sent as ASCII JSON, where a lone surrogate travels as the escape \\ud800 (it has no UTF-8 form).
    response = await api.http.post(
        "/graphql", content=json.dumps(request), headers={"Content-Type": "application/json"}
    )
    result = response.json()["data"]["registerLender"]
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == "displayName" and reason in result["message"]
    after = await snapshot()
    assert after == before, changes(before, after)


@pytest.mark.parametrize(
    ("variables", "where"),
    [
        ({"k": 7}, "k"),  # a number where strings belong
        ({"k": [{"$ne": None}]}, "k"),  # an object where a string belongs (NoSQL-style operator)
        ({"k": [["nested"]]}, "k"),
    ],
    ids=["number", "operator-object", "nested-list"],
)
async def test_values_of_the_wrong_type_are_refused_before_anything_runs(api, variables, where):
    body = await api.post(KEYWORD_SEARCH, variables)
    assert body.get("data") is None and body["errors"], body
    assert f"${where}" in body["errors"][0]["message"]
    assert codes(body) == [None]  # GraphQL's own refusal, with its message; no resolver ran
