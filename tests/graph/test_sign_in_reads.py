"""A query of the signed-in lender answers from what the request's token lookup read (lending.tokens.sign_in):
the lender's row and credit come with the token, in its one statement. A mutation reads again after it writes,
and a WebSocket, whose context outlives any lookup, reads afresh for every operation."""

from tests.api import Api, new_key
from tests.querycount import count_queries
from tests.ws import Socket

ME = "query { me { id displayName balance } }"
PORTFOLIO = """query { me { balance portfolio {
  stats { loanCount lent } shares(first: 10) { totalCount edges { node { amount } } } } } }"""
DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on DepositSuccess { lender { displayName balance } } } }"""


async def test_the_signed_in_lender_costs_a_query_the_token_lookup_alone(api: Api):
    lender_id, token = await api.funded_lender("100.00", "Ada")
    await api.data(ME, token=token)  # the first request of the minute records that Ada was seen
    with count_queries() as queries:
        me = (await api.data(ME, token=token))["me"]
    assert me == {"id": lender_id, "displayName": "Ada", "balance": "100.00"}
    assert len(queries) == 1, queries.report()
    with count_queries() as queries:
        portfolio = (await api.data(PORTFOLIO, token=token))["me"]
    assert portfolio["balance"] == "100.00" and portfolio["portfolio"]["shares"]["totalCount"] == 0
    # The lookup, the stats, the page of shares and their count: not the lender nor the balance again.
    assert len(queries) == 4, queries.report()


async def test_a_mutation_answers_with_the_credit_it_left(api: Api):
    _, token = await api.funded_lender("100.00", "Ada")
    await api.data(ME, token=token)
    deposit = await api.data(DEPOSIT, {"input": {"amount": "25.00", "idempotencyKey": new_key()}}, token)
    assert deposit["deposit"] == {"__typename": "DepositSuccess", "lender": {"displayName": "Ada", "balance": "125.00"}}
    assert (await api.data(ME, token=token))["me"]["balance"] == "125.00"


async def test_a_socket_reads_the_credit_afresh_for_each_operation(live: Api):
    _, token = await live.funded_lender("100.00", "Ada")
    async with Socket.open(live.ws_url, token=token) as ws:
        await ws.subscribe("1", ME)
        assert (await ws.next("1"))["me"]["balance"] == "100.00"
        assert (await live.deposit(token, "25.00"))["__typename"] == "DepositSuccess"
        await ws.subscribe("2", ME)
        assert (await ws.next("2"))["me"]["balance"] == "125.00"
