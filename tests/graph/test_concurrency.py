"""Races on PostgreSQL: many lenders at once on one loan never overfund it."""

import asyncio

from models import Account, Allocation, Loan, LoanStatus, Share
from tests.api import partner_token

LENDERS = 300
ROUNDS = 10


async def test_300_concurrent_lenders_fill_a_5000_loan_exactly(pg_api):
    partner = await partner_token()
    tokens = [token for _, token in await asyncio.gather(*(pg_api.register(f"L{i}") for i in range(LENDERS)))]
    for round_number in range(ROUNDS):
        await asyncio.gather(*(pg_api.deposit(token, "25.00") for token in tokens))
        loan_id = await pg_api.loan_id(partner, amount="5000.00", name=f"Round {round_number}")

        results = await asyncio.gather(*(pg_api.lend(token, loan_id, "25.00") for token in tokens))

        outcomes = [r["__typename"] for r in results]
        assert outcomes.count("LendSuccess") == 200, round_number
        assert set(outcomes) <= {"LendSuccess", "ExceedsRemaining", "LoanNotFundraising"}
        loan = await Loan.get(name=f"Round {round_number}")
        assert (loan.funded_cents, loan.lender_count, loan.status) == (500_000, 200, LoanStatus.FUNDED)
        assert await Share.filter(loan_id=loan.id).count() == 200
    # Every lender deposited 25.00 a round; what was not lent is still theirs.
    balances = await Account.filter(kind="LENDER").values_list("balance_cents", flat=True)
    assert sum(balances) == LENDERS * ROUNDS * 2500 - ROUNDS * 500_000
    assert min(balances) >= 0


async def test_auto_lending_racing_200_manual_lenders_never_overfunds_or_breaks_the_cap(pg_api):
    partner = await partner_token()
    rule = """mutation { setAutoLendRule(input: {amountPerLoan: "50.00"}) { __typename } }"""
    auto = [token for _, token in await asyncio.gather(*(pg_api.register(f"Auto{i}") for i in range(100)))]
    for token in auto:
        await pg_api.data(rule, token=token)
    manual = [
        token for _, token in await asyncio.gather(*(pg_api.funded_lender("25.00", f"Hand{i}") for i in range(200)))
    ]
    # Hand lenders can bring 5,000.00 and the rules 5,000.00: exactly the loan, if nothing is lost or doubled.
    loan_id = await pg_api.loan_id(partner, amount="10000.00", name="Hot")

    # Credit arrives for every rule while 200 people lend by hand.
    await asyncio.gather(
        *(pg_api.deposit(token, "50.00") for token in auto),
        *(pg_api.lend(token, loan_id, "25.00") for token in manual),
    )

    loan = await Loan.get(name="Hot")
    shares = await Share.filter(loan_id=loan.id).values_list("amount_cents", flat=True)
    assert loan.funded_cents == sum(shares) <= loan.amount_cents
    assert loan.auto_funded_cents * 2 <= loan.amount_cents
    allocated = sum(await Allocation.filter(loan_id=loan.id).values_list("amount_cents", flat=True))
    assert allocated == loan.auto_funded_cents == 500_000
    assert (loan.funded_cents, loan.status, loan.lender_count) == (1_000_000, LoanStatus.FUNDED, 300)
