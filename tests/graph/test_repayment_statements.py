"""What a repayment costs the database: the same number of statements for 5 lenders as for 40.

A repayment updates its loan's shares, credits its lenders and writes their
events set by set; the auto-lending it sets off picks all the loans first,
then books every allocation at once. So neither grows with the number of
lenders paid. Counted on PostgreSQL, where the set-based statements run.
"""

from graph.ids import decode_id
from models import Account, Allocation, Loan, Share, Transfer, TransferKind
from tests.api import Api, partner_token
from tests.querycount import Queries, count_queries

SET_RULE = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) {
  __typename ... on UserError { code message } } }"""


async def loan_of_lenders(api: Api, partner: str, group: str, count: int, *, rules: bool) -> tuple[str, list[str]]:
    """A loan of `count` shares of 25.00, each lent by hand by a lender of its own, with or without a rule."""
    loan_id = await api.loan_id(partner, name=f"{group} loan", amount=f"{25 * count}.00")
    tokens = []
    for n in range(count):
        _, token = await api.funded_lender("25.00", f"{group}{n}")
        assert (await api.lend(token, loan_id))["__typename"] == "LendSuccess"
        if rules:  # set once the credit is lent: the rule waits for the repayment
            assert (await api.data(SET_RULE, token=token))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
        tokens.append(token)
    return loan_id, tokens


async def repay_counted(api: Api, partner: str, loan_id: str, amount: str) -> Queries:
    with count_queries(this_task_only=True) as queries:
        result = await api.repay(partner, loan_id, amount)
    assert result["__typename"] == "PostRepaymentSuccess", result
    return queries


def writes(queries: Queries, start: str) -> int:
    """How many of the statements write with this start (after the WITH clause that carries the rows)."""
    return sum(statement.startswith(start) or f") {start}" in statement for statement in queries.statements)


async def test_a_repayment_costs_the_same_statements_for_5_lenders_as_for_40(pg_api):
    partner = await partner_token()
    small, few = await loan_of_lenders(pg_api, partner, "Few", 5, rules=False)
    large, many = await loan_of_lenders(pg_api, partner, "Many", 40, rules=False)

    for loan_id, amount in ((small, "50.00"), (large, "400.00")):  # 10.00 to each lender, then the rest
        assert (await pg_api.repay(partner, loan_id, amount))["__typename"] == "PostRepaymentSuccess"
    counts = {}
    for loan_id, lenders in ((small, 5), (large, 40)):
        counts[lenders] = await repay_counted(pg_api, partner, loan_id, f"{15 * lenders}.00")

    assert len(counts[5]) == len(counts[40]), "\n\n".join(q.report() for q in counts.values())
    for queries in counts.values():  # the shares, the balances and the transfers: one statement each
        assert writes(queries, 'UPDATE "share"') == writes(queries, "UPDATE account") == 1, queries.report()
        assert writes(queries, "INSERT INTO transfer") == 1, queries.report()
    for token in few + many:
        assert await pg_api.balance(token) == "25.00"
    assert await Transfer.filter(kind=TransferKind.REPAYMENT).count() == 2 * 45  # one per lender per repayment
    for loan_id in (small, large):
        loan = await Loan.get(id=decode_id(loan_id, "Loan"))
        assert (loan.status, loan.repaid_cents) == ("REPAID", loan.amount_cents)


async def test_auto_relending_a_repayment_costs_the_same_statements_for_5_lenders_as_for_40(pg_api):
    partner = await partner_token()
    small, few = await loan_of_lenders(pg_api, partner, "Few", 5, rules=True)
    large, many = await loan_of_lenders(pg_api, partner, "Many", 40, rules=True)
    for n in range(12):  # room for rules: 500.00 in each
        await pg_api.loan_id(partner, name=f"Open {n:02}", amount="1000.00")

    counts = {lenders: await repay_counted(pg_api, partner, loan_id, f"{25 * lenders}.00")
              for loan_id, lenders in ((small, 5), (large, 40))}  # fmt: skip

    assert len(counts[5]) == len(counts[40]), "\n\n".join(q.report() for q in counts.values())
    for queries in counts.values():  # the repayment's transfers, then the new shares' (all loans at once)
        assert writes(queries, "INSERT INTO transfer") == 2, queries.report()
        assert writes(queries, 'INSERT INTO "share"') == 1, queries.report()
    # Every cent came back and went straight out again: each lender holds a second share of 25.00.
    for token in few + many:
        assert await pg_api.balance(token) == "0.00"
    assert await Allocation.all().count() == 45
    relent = await Share.filter(loan__name__startswith="Open").values_list("loan__name", "amount_cents")
    assert len(relent) == 45 and {cents for _, cents in relent} == {2500}
    # The soonest to expire first, 20 shares each: half of each loan, the cap for rules.
    by_loan: dict[str, int] = {}
    for name, cents in relent:
        by_loan[name] = by_loan.get(name, 0) + cents
    assert by_loan == {"Open 00": 50000, "Open 01": 50000, "Open 02": 12500}
    assert sum(await Account.filter(kind="LENDER").values_list("balance_cents", flat=True)) == 0
