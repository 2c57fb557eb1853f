"""Races on PostgreSQL: many lenders at once on one loan never overfund it."""

import asyncio

from models import Account, Loan, LoanStatus, Share
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
