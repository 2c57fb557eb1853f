"""A loan funded by given shares, each by a lender of its own, and what its repayments left in the database.

Shared by the repayment tests (test_repayments.py, test_currency_loss.py, test_schedule_and_default.py,
test_repayment_split.py).
"""

from decimal import Decimal

from graph.ids import decode_id
from models import Account, Loan, Share
from tests.api import Api

LOAN = """query($id: ID!) { loan(id: $id) {
  status repaidAmount daysPastDue schedule { number dueDate amount paidAmount } } }"""


async def funded_loan(api: Api, partner: str, *shares: str, **listing) -> tuple[str, list[str]]:
    """A loan of exactly the given shares, each lent by a new lender who deposited just that much.

    Returns the loan's global id and the lenders' tokens, in the order of `shares`.
    """
    amount = sum(Decimal(s) for s in shares)
    loan_id = await api.loan_id(partner, amount=f"{amount:.2f}", **listing)
    tokens = []
    for n, share in enumerate(shares):
        _, token = await api.funded_lender(share, f"Lender{n}")
        lent = await api.lend(token, loan_id, share)
        assert lent["__typename"] == "LendSuccess", lent
        tokens.append(token)
    assert lent["loan"]["status"] == "FUNDED"
    return loan_id, tokens


async def balances(api: Api, tokens: list[str]) -> list[str]:
    return [await api.balance(token) for token in tokens]


async def share_rows(loan_id: str) -> list[tuple[int, int]]:
    """(repaid_cents, loss_cents) of each share of the loan, in the order lenders joined."""
    return (
        await Share.filter(loan_id=decode_id(loan_id, "Loan")).order_by("id").values_list("repaid_cents", "loss_cents")
    )


async def partner_balance(loan_id: str) -> int:
    """What the partner still owes the platform: disbursed less repaid, in cents."""
    loan = await Loan.get(id=decode_id(loan_id, "Loan"))
    return await Account.get(partner_id=loan.partner_id).values_list("balance_cents", flat=True)
