"""Listing loans, lending to them, funding, expiry."""

import asyncio

from models import Account, Loan, LoanStatus, Share, Transfer
from tests.api import partner_token
from tests.conftest import serve
from tests.querycount import count_queries, count_round_trips


async def test_partner_lists_a_loan_that_expires_in_30_days(api, clock):
    partner = await partner_token()
    result = await api.list_loan(partner, amount="1000.00")
    assert result["__typename"] == "ListLoanSuccess"
    loan = result["loan"]
    assert (loan["amount"], loan["status"]) == ("1000.00", "FUNDRAISING")
    assert loan["expiresAt"].startswith("2026-04-01T12:00")  # 30 days after 2026-03-02
    assert await Loan.filter(status=LoanStatus.FUNDRAISING).count() == 1


async def test_a_lender_cannot_list_loans(api):
    _, token = await api.register()
    result = await api.list_loan(token)
    assert result["__typename"] == "Forbidden"
    assert await Loan.all().count() == 0


async def test_lending_moves_credit_into_the_loan(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, token = await api.funded_lender("60.00")
    result = await api.lend(token, loan_id, "50.00")
    assert result["__typename"] == "LendSuccess"
    assert result["loan"] == {
        "fundedAmount": "50.00",
        "remainingAmount": "50.00",
        "lenderCount": 1,
        "status": "FUNDRAISING",
    }
    assert result["share"] == {"amount": "50.00"}
    assert result["lender"] == {"balance": "10.00"}
    again = await api.lend(token, loan_id, "25.00")
    assert again["__typename"] == "InsufficientCredit"
    assert (again["needed"], again["available"]) == ("25.00", "10.00")
    loan = await Loan.get()
    assert (loan.funded_cents, loan.lender_count) == (5000, 1)
    assert await Account.get(loan_id=loan.id).values_list("balance_cents", flat=True) == 5000


async def test_lending_again_grows_the_share(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, token = await api.funded_lender("100.00")
    await api.lend(token, loan_id, "25.00")
    result = await api.lend(token, loan_id, "25.00")
    assert result["share"] == {"amount": "50.00"}
    assert result["loan"]["lenderCount"] == 1
    assert await Share.all().count() == 1


async def test_the_loan_is_funded_the_moment_it_is_full_and_disbursed(api):
    partner = await partner_token()
    loan_id = await api.loan_id(partner, amount="50.00")
    _, ada = await api.funded_lender("25.00", "Ada")
    _, bob = await api.funded_lender("50.00", "Bob")
    await api.lend(ada, loan_id, "25.00")
    over = await api.lend(bob, loan_id, "50.00")
    assert (over["__typename"], over["remaining"]) == ("ExceedsRemaining", "25.00")
    full = await api.lend(bob, loan_id, "25.00")
    assert full["loan"] == {"fundedAmount": "50.00", "remainingAmount": "0.00", "lenderCount": 2, "status": "FUNDED"}
    late = await api.lend(bob, loan_id, "25.00")
    assert (late["__typename"], late["code"]) == ("LoanNotFundraising", "LOAN_NOT_FUNDRAISING")
    loan = await Loan.get()
    assert loan.funded_at is not None
    # The raised money left the loan's account for the partner's.
    assert await Account.get(loan_id=loan.id).values_list("balance_cents", flat=True) == 0
    assert await Account.get(partner_id=loan.partner_id).values_list("balance_cents", flat=True) == 5000
    assert await Transfer.filter(kind="DISBURSEMENT").count() == 1


async def test_lend_replays_with_the_same_key(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, token = await api.funded_lender("100.00")
    first = await api.lend(token, loan_id, "25.00", key="k1")
    second = await api.lend(token, loan_id, "25.00", key="k1")
    assert first == second
    assert await api.balance(token) == "75.00"
    conflict = await api.lend(token, loan_id, "50.00", key="k1")
    assert conflict["__typename"] == "IdempotencyConflict"
    assert (await Loan.get()).funded_cents == 2500


async def test_expired_loans_refund_every_lender(api, clock):
    from lending.loans import expire_loans

    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    _, ada = await api.funded_lender("50.00", "Ada")
    _, bob = await api.funded_lender("25.00", "Bob")
    await api.lend(ada, loan_id, "50.00")
    await api.lend(bob, loan_id, "25.00")
    clock.advance(days=31)
    late = await api.lend(bob, loan_id, "25.00")  # the deadline passed before the sweep ran
    assert late["__typename"] == "InsufficientCredit" or late["__typename"] == "LoanNotFundraising"
    assert await expire_loans(clock()) == [(await Loan.get()).id]
    assert (await Loan.get()).status is LoanStatus.EXPIRED
    assert (await api.balance(ada), await api.balance(bob)) == ("50.00", "25.00")
    assert await Transfer.filter(kind="REFUND").count() == 2
    stats = await api.data("{ me { portfolio { stats { loanCount lent } } } }", token=ada)
    assert stats["me"]["portfolio"]["stats"] == {"loanCount": 0, "lent": "0.00"}


async def test_loan_lenders_are_public_profiles(api):
    loan_id = await api.loan_id(await partner_token(), amount="100.00")
    for name in ("Ada", "Bob", "Cy"):
        _, token = await api.funded_lender("25.00", name)
        await api.lend(token, loan_id, "25.00")
    query = """query($id: ID!) { loan(id: $id) { lenderCount lenders(first: 2) {
        totalCount edges { node { displayName loanCount balance portfolio { stats { lent } } } } } } }"""
    loan = (await api.data(query, {"id": loan_id}))["loan"]
    assert loan["lenderCount"] == 3
    assert loan["lenders"]["totalCount"] == 3
    assert [e["node"] for e in loan["lenders"]["edges"]] == [
        {"displayName": "Ada", "loanCount": 1, "balance": None, "portfolio": None},
        {"displayName": "Bob", "loanCount": 1, "balance": None, "portfolio": None},
    ]


async def test_the_server_expires_loans_on_its_own_timer(database_url, clock):
    async with serve(database_url, clock, expiry_interval=0.01) as api:
        loan_id = await api.loan_id(await partner_token(), amount="100.00")
        _, token = await api.funded_lender("25.00")
        await api.lend(token, loan_id, "25.00")
        clock.advance(days=30, seconds=1)
        for _ in range(500):  # wait for the timer to run, not for a fixed time
            if (await Loan.get()).status is LoanStatus.EXPIRED:
                break
            await asyncio.sleep(0.01)
        assert (await Loan.get()).status is LoanStatus.EXPIRED
        assert await api.balance(token) == "25.00"


LOANS_WITH_LENDERS = """query($first: Int, $lenders: Int) { loans(first: $first, sort: LOAN_AMOUNT) { edges { node {
  name
  firstTwo: lenders(first: 2) { edges { cursor node { displayName } } pageInfo { hasNextPage endCursor } }
  some: lenders(first: $lenders) { edges { node { displayName } } pageInfo { hasNextPage } } } } } }"""


async def test_the_first_lenders_of_a_page_of_loans_come_in_one_batch(api):
    """A page of loans, each with its first lenders, costs the same queries for 3 loans as for 12."""
    partner = await partner_token()
    tokens = [(await api.funded_lender("500.00", name))[1] for name in ("Ada", "Bob", "Cy", "Dee")]
    for n in range(12):
        loan = await api.loan_id(partner, name=f"L{n:02}", amount=f"{100 + 25 * n}.00")
        for token in tokens[: n % 5]:  # 0 to 4 lenders, joining in the order Ada, Bob, Cy, Dee
            assert (await api.lend(token, loan))["__typename"] == "LendSuccess"

    counts = {}
    for first in (3, 12):
        with count_queries() as queries:
            loans = (await api.data(LOANS_WITH_LENDERS, {"first": first, "lenders": 3}))["loans"]["edges"]
        counts[first] = queries
        for n, edge in enumerate(loans):
            joined = ["Ada", "Bob", "Cy", "Dee"][: n % 5]
            node = edge["node"]
            assert node["name"] == f"L{n:02}"
            assert [e["node"]["displayName"] for e in node["firstTwo"]["edges"]] == joined[:2]
            assert node["firstTwo"]["pageInfo"]["hasNextPage"] is (len(joined) > 2)
            assert [e["node"]["displayName"] for e in node["some"]["edges"]] == joined[:3]
            assert node["some"]["pageInfo"]["hasNextPage"] is (len(joined) > 3)
    for queries in counts.values():  # one for each page size asked for, whatever the number of loans
        shares = [sql for sql in queries.statements if 'FROM "share"' in sql]
        assert len(shares) == 2, queries.report()

    # The cursor of a batched page leads on to the rest, and `first: 0` shows no one.
    busy = (await api.data(LOANS_WITH_LENDERS, {"first": 5, "lenders": 0}))["loans"]["edges"][4]["node"]
    assert busy["some"] == {"edges": [], "pageInfo": {"hasNextPage": True}}
    rest = await api.data(
        """query($id: ID!, $after: String) { node(id: $id) { ... on Loan { lenders(first: 5, after: $after) {
             edges { node { displayName } } pageInfo { hasNextPage hasPreviousPage } } } } }""",
        {"id": await loan_named(api, "L04"), "after": busy["firstTwo"]["pageInfo"]["endCursor"]},
    )
    assert rest["node"]["lenders"] == {
        "edges": [{"node": {"displayName": "Cy"}}, {"node": {"displayName": "Dee"}}],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": True},
    }


async def loan_named(api, name: str) -> str:
    edges = (await api.data("{ loans(first: 100) { edges { node { id name } } } }"))["loans"]["edges"]
    return next(edge["node"]["id"] for edge in edges if edge["node"]["name"] == name)


LEND = """mutation($input: LendInput!) { lend(input: $input) { __typename
  ... on LendSuccess { loan { fundedAmount remainingAmount lenderCount status } share { amount loan { name } }
                       lender { displayName } } } }"""


async def test_a_winning_lend_costs_postgresql_two_statements_the_token_and_the_lend(pg_api):
    """The lend is one call answered with the rows the payload shows; no transaction around it."""
    loan_id = await pg_api.loan_id(await partner_token(), amount="100.00")
    _, token = await pg_api.funded_lender("50.00")
    variables = {"input": {"loanId": loan_id, "amount": "25.00", "idempotencyKey": "counted"}}

    with count_round_trips() as trips:  # the lender was seen just now: no last_seen write
        result = (await pg_api.data(LEND, variables, token))["lend"]

    assert result["__typename"] == "LendSuccess"
    assert result["share"] == {"amount": "25.00", "loan": {"name": "Amina"}}
    # Round trips besides: asyncpg's pool resets each connection it takes back (one per statement here).
    assert len(trips.statements) <= 3, trips.report()
    token_lookup, lend = trips.statements
    assert 'FROM "api_token"' in token_lookup and lend.startswith("SELECT lendgraph_lend("), trips.report()


LOAN_LENDERS = """query($id: ID!) { loan(id: $id) { lenders(first: 10) { edges { node { displayName } } } } }"""


async def test_reading_other_loans_and_lenders_sends_postgresql_the_same_statements(pg_api):
    """Ids are bound, never written into the SQL: PostgreSQL's driver prepares each statement once per
    connection and keeps a hundred, so a text made anew for each set of ids would cost a prepare (a round
    trip, a parse and plan) at every read and push the other statements out of the cache."""
    partner = await partner_token()
    loans = [await pg_api.loan_id(partner, amount="100.00") for _ in range(2)]
    for n, (loan_id, name) in enumerate([(loans[0], "Ada"), (loans[1], "Grace"), (loans[1], "Edsger")]):
        _, token = await pg_api.funded_lender("25.00", name=name)
        assert (await pg_api.lend(token, loan_id, key=f"k{n}"))["__typename"] == "LendSuccess"

    texts = []
    for loan_id, names in [(loans[0], ["Ada"]), (loans[1], ["Grace", "Edsger"])]:
        with count_round_trips() as trips:
            found = (await pg_api.data(LOAN_LENDERS, {"id": loan_id}))["loan"]
        assert [edge["node"]["displayName"] for edge in found["lenders"]["edges"]] == names
        texts.append(trips.statements)

    assert texts[0] == texts[1], "\n\n".join(map("\n".join, texts))
