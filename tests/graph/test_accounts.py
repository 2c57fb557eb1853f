"""Registering, depositing and withdrawing credit."""

from models import Account, Lender, Transfer
from tests.api import new_key, partner_token
from tests.querycount import count_round_trips

WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) {
  __typename ... on UserError { code message } ... on InsufficientCredit { needed available }
  ... on WithdrawSuccess { lender { balance } transaction { amount kind } } } }"""


async def test_register_returns_a_token_that_signs_in(api):
    lender_id, token = await api.register("Grace", "grace@example.org")
    me = (await api.data("{ me { id displayName email balance } }", token=token))["me"]
    assert me == {"id": lender_id, "displayName": "Grace", "email": "grace@example.org", "balance": "0.00"}
    assert await Lender.filter(email="grace@example.org").count() == 1


async def test_register_refuses_a_taken_email(api):
    await api.register("Grace", "grace@example.org")
    body = await api.data(
        """mutation { registerLender(input: {displayName: "G", email: "GRACE@example.org"}) {
             __typename ... on UserError { code } } }"""
    )
    assert body["registerLender"] == {"__typename": "EmailTaken", "code": "EMAIL_TAKEN"}
    assert await Lender.all().count() == 1


async def test_deposit_adds_credit_and_records_a_transaction(api):
    _, token = await api.register()
    result = await api.deposit(token, "120.50")
    assert result["lender"] == {"balance": "120.50"}
    assert result["transaction"] == {"amount": "120.50", "kind": "DEPOSIT"}
    assert await Transfer.filter(kind="DEPOSIT").count() == 1


async def test_same_idempotency_key_deposits_once(api):
    _, token = await api.register()
    first = await api.deposit(token, "50.00", key="pay-1")
    again = await api.deposit(token, "50.00", key="pay-1")
    assert first == again
    assert await api.balance(token) == "50.00"
    conflict = await api.deposit(token, "60.00", key="pay-1")
    assert conflict["__typename"] == "IdempotencyConflict"
    assert await api.balance(token) == "50.00"
    assert await Transfer.all().count() == 1


async def test_withdraw_takes_credit_out_but_never_below_zero(api):
    _, token = await api.funded_lender("100.00")
    out = (await api.data(WITHDRAW, {"input": {"amount": "40.00", "idempotencyKey": new_key()}}, token))["withdraw"]
    assert out["lender"] == {"balance": "60.00"}
    assert out["transaction"] == {"amount": "-40.00", "kind": "WITHDRAWAL"}
    refused = (await api.data(WITHDRAW, {"input": {"amount": "60.01", "idempotencyKey": new_key()}}, token))["withdraw"]
    assert refused["__typename"] == "InsufficientCredit"
    assert (refused["needed"], refused["available"]) == ("60.01", "60.00")
    assert await api.balance(token) == "60.00"
    assert await Account.filter(kind="LENDER", balance_cents=6000).count() == 1


async def test_transactions_history_pages_newest_first(api):
    _, token = await api.register()
    for amount in ("1.00", "2.00", "3.00"):
        await api.deposit(token, amount)
    query = """query($after: String) { me { transactions(first: 2, after: $after) {
        totalCount edges { node { amount } } pageInfo { hasNextPage endCursor } } } }"""
    first = (await api.data(query, {"after": None}, token))["me"]["transactions"]
    assert [e["node"]["amount"] for e in first["edges"]] == ["3.00", "2.00"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    rest = (await api.data(query, {"after": first["pageInfo"]["endCursor"]}, token))["me"]["transactions"]
    assert [e["node"]["amount"] for e in rest["edges"]] == ["1.00"]
    assert not rest["pageInfo"]["hasNextPage"]


COUNTED_DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on DepositSuccess { lender { displayName balance } transaction { amount kind } } } }"""


async def test_a_deposit_without_an_auto_lend_rule_costs_postgresql_the_token_and_one_call(pg_api):
    """The deposit is one call answered with the rows the payload shows and the credit it left; no auto-lending
    is looked for."""
    _, token = await pg_api.funded_lender("10.00")  # the lender is seen now: no last_seen write below
    variables = {"input": {"amount": "25.00", "idempotencyKey": "counted"}}

    with count_round_trips() as trips:
        result = (await pg_api.data(COUNTED_DEPOSIT, variables, token))["deposit"]

    assert result == {
        "__typename": "DepositSuccess",
        "lender": {"displayName": "Ada", "balance": "35.00"},
        "transaction": {"amount": "25.00", "kind": "DEPOSIT"},
    }
    assert len(trips.statements) <= 2, trips.report()
    token_lookup, deposit = trips.statements
    assert 'FROM "api_token"' in token_lookup and deposit.startswith("SELECT lendgraph_move_credit("), trips.report()
    assert await pg_api.balance(token) == "35.00"
    assert (await Account.get(lender_id=(await Lender.get(display_name="Ada")).id)).balance_cents == 3_500


MOVES = """mutation($loan: ID!) {
  first: deposit(input: {amount: "25.00", idempotencyKey: "d1"}) { ... on DepositSuccess { lender { balance } } }
  lent: lend(input: {loanId: $loan, amount: "25.00", idempotencyKey: "l1"}) {
    __typename ... on LendSuccess { lender { balance } } }
  out: withdraw(input: {amount: "5.00", idempotencyKey: "w1"}) { ... on WithdrawSuccess { lender { balance } } }
  again: deposit(input: {amount: "25.00", idempotencyKey: "d1"}) { ... on DepositSuccess { lender { balance } } }
}"""


async def test_each_money_mutation_of_a_document_answers_the_credit_as_it_left_it(api):
    """Mutations run in turn: each answer's balance is the credit after that one, not after the first; a replay
    of the first deposit (same key) moves nothing and answers the credit as it is now."""
    _, token = await api.funded_lender("10.00")
    loan = await api.loan_id(await partner_token())
    answer = await api.data(MOVES, {"loan": loan}, token)
    assert answer == {
        "first": {"lender": {"balance": "35.00"}},
        "lent": {"__typename": "LendSuccess", "lender": {"balance": "10.00"}},
        "out": {"lender": {"balance": "5.00"}},
        "again": {"lender": {"balance": "5.00"}},
    }
    assert await api.balance(token) == "5.00"
    assert (await Account.get(lender_id=(await Lender.get(display_name="Ada")).id)).balance_cents == 500


async def test_a_deposit_answers_the_credit_after_its_auto_lend_rule_lent_it(api):
    _, token = await api.register()
    await api.loan_id(await partner_token())
    rule = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) { __typename } }"""
    assert (await api.data(rule, token=token))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
    answer = await api.data(COUNTED_DEPOSIT, {"input": {"amount": "30.00", "idempotencyKey": "card"}}, token)
    assert answer["deposit"]["lender"]["balance"] == "5.00"  # 25.00 of it lent at once
    assert await api.balance(token) == "5.00"
