"""The committed SDL is the schema the code serves, and it keeps the public contract."""

from pathlib import Path

from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"

CONTRACT_QUERIES = {"loans", "loan", "node", "me", "lender", "partners"}
CONTRACT_MUTATIONS = {
    "registerLender",
    "deposit",
    "withdraw",
    "lend",
    "listLoan",
    "postRepayment",
}


def test_schema_graphql_is_the_exported_schema():
    assert SDL.read_text() == schema.as_str() + "\n", "schema.graphql is stale: run `make schema`"


def test_schema_holds_the_contract():
    graphql = graphql_core_schema(schema)
    assert set(graphql.query_type.fields) >= CONTRACT_QUERIES
    assert set(graphql.mutation_type.fields) >= CONTRACT_MUTATIONS
    user_error = graphql.get_type("UserError")
    assert {"code", "message"} <= set(user_error.fields)
    lend_result = {t.name for t in graphql.get_type("LendResult").types}
    assert {
        "LendSuccess",
        "InsufficientCredit",
        "LoanNotFundraising",
        "InvalidAmount",
        "ExceedsRemaining",
        "NotFound",
        "Forbidden",
    } <= lend_result
    loan = set(graphql.get_type("Loan").fields)
    assert {
        "id", "name", "use", "country", "sector", "gender", "riskRating", "amount", "fundedAmount",
        "remainingAmount", "lenderCount", "status", "termMonths", "listedAt", "expiresAt", "partner",
    } <= loan  # fmt: skip
    assert {"edges", "pageInfo", "totalCount"} <= set(graphql.get_type("LoanConnection").fields)
    assert {
        "countries",
        "sectors",
        "genders",
        "riskRatingMin",
        "riskRatingMax",
        "keywords",
        "statuses",
        "maxTermMonths",
    } <= set(graphql.get_type("LoanFilter").fields)
    assert {"NEWEST", "EXPIRING_SOON", "AMOUNT_LEFT", "LOAN_AMOUNT", "LOAN_AMOUNT_DESC"} <= set(
        graphql.get_type("LoanSort").values
    )
    assert {"id", "displayName", "balance", "portfolio"} <= set(graphql.get_type("Lender").fields)
    assert {"name", "riskRating", "defaultRate", "arrearsRate"} <= set(graphql.get_type("Partner").fields)
