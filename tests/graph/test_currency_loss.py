"""Currency loss: what a repayment lost to the exchange rate, and who bears it.

The loan's liability decides: NONE (the partner bears it), LENDER (lenders bear all of it), SHARED
(the partner covers up to 10% of the repayment, lenders the rest). What lenders bear is split among
them as exactly as the repayment itself.
"""

from lending.ledger import world_account_for_loan
from models import Loan, LoanStatus, Repayment, Transfer, TransferKind
from tests.api import partner_token
from tests.graph.funded_loans import balances, funded_loan, partner_balance, share_rows

SHARE_NODES = """{ me { portfolio { shares(first: 10) { edges { node { amount repaidAmount currencyLoss } } } } } }"""


async def test_currency_loss_under_none_liability_is_the_partners(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00", currencyLossLiability="NONE")

    result = await api.repay(partner, loan_id, "40.00", loss="4.00")

    assert (result["amount"], result["lendersCredited"]) == ("40.00", "40.00")
    assert await balances(api, [ada, bob]) == ["20.00", "20.00"]
    assert await share_rows(loan_id) == [(2000, 0), (2000, 0)]
    repayment = await Repayment.get()
    assert (repayment.currency_loss_cents, repayment.lender_loss_cents) == (400, 0)
    assert await Transfer.filter(kind=TransferKind.CURRENCY_LOSS).count() == 0
    assert await partner_balance(loan_id) == 6000


async def test_currency_loss_under_lender_liability_is_borne_by_lenders(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00", currencyLossLiability="LENDER")

    result = await api.repay(partner, loan_id, "40.00", loss="4.00")

    assert (result["amount"], result["lendersCredited"]) == ("40.00", "36.00")
    assert result["loan"]["repaidAmount"] == "40.00"  # the principal is repaid, loss included
    assert await balances(api, [ada, bob]) == ["18.00", "18.00"]
    assert await share_rows(loan_id) == [(2000, 200), (2000, 200)]
    shares = (await api.data(SHARE_NODES, token=ada))["me"]["portfolio"]["shares"]["edges"]
    assert [e["node"] for e in shares] == [{"amount": "50.00", "repaidAmount": "20.00", "currencyLoss": "2.00"}]
    # The lost money leaves the platform, from the partner's account.
    lost = await Transfer.get(kind=TransferKind.CURRENCY_LOSS)
    assert lost.amount_cents == 400
    assert lost.destination_id == await world_account_for_loan(lost.loan_id)
    repayment = await Repayment.get()
    assert (repayment.currency_loss_cents, repayment.lender_loss_cents) == (400, 400)
    assert await partner_balance(loan_id) == 6000  # 100.00 - 36.00 to lenders - 4.00 lost


async def test_currency_loss_under_shared_liability_partner_covers_ten_percent_of_the_repayment(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00", currencyLossLiability="SHARED")

    # 6.00 lost on 40.00: the partner covers 10% of 40.00 = 4.00, lenders the other 2.00.
    result = await api.repay(partner, loan_id, "40.00", loss="6.00")

    assert result["lendersCredited"] == "38.00"
    assert await balances(api, [ada, bob]) == ["19.00", "19.00"]
    assert await share_rows(loan_id) == [(2000, 100), (2000, 100)]
    assert await Transfer.filter(kind=TransferKind.CURRENCY_LOSS).values_list("amount_cents", flat=True) == [200]
    assert (await Repayment.get()).lender_loss_cents == 200
    assert await partner_balance(loan_id) == 6000

    # A loss within the partner's 10% costs lenders nothing: 3.00 lost on 40.00.
    small = await api.repay(partner, loan_id, "40.00", loss="3.00")
    assert small["lendersCredited"] == "40.00"
    assert await balances(api, [ada, bob]) == ["39.00", "39.00"]
    assert await share_rows(loan_id) == [(4000, 100), (4000, 100)]
    assert await Transfer.filter(kind=TransferKind.CURRENCY_LOSS).count() == 1


async def test_the_lenders_loss_is_split_exactly_too(api):
    partner = await partner_token()
    loan_id, tokens = await funded_loan(api, partner, "25.00", "25.00", "25.00", currencyLossLiability="LENDER")

    result = await api.repay(partner, loan_id, "10.00", loss="1.00")

    assert result["lendersCredited"] == "9.00"
    rows = await share_rows(loan_id)
    assert sum(r for r, _ in rows) == 1000 and sum(lost for _, lost in rows) == 100
    for repaid, lost in rows:
        assert repaid in (333, 334) and lost in (33, 34) and lost <= repaid
    # 3.33 repaid bears 0.33 of the loss, 3.34 bears 0.34: everyone nets exactly 3.00.
    assert await balances(api, tokens) == ["3.00", "3.00", "3.00"]


async def test_over_many_repayments_no_lender_bears_more_of_the_currency_loss(api):
    partner = await partner_token()
    loan_id, tokens = await funded_loan(api, partner, "25.00", "25.00", "25.00", currencyLossLiability="LENDER")
    for n in range(1, 11):
        # 0.03 splits evenly (0.01 each); its 0.01 of loss cannot, and must not always fall on one lender.
        result = await api.repay(partner, loan_id, "0.03", loss="0.01")
        assert result["lendersCredited"] == "0.02"
        rows = await share_rows(loan_id)
        assert [repaid for repaid, _ in rows] == [n, n, n]
        losses = [lost for _, lost in rows]
        assert sum(losses) == n
        assert max(losses) - min(losses) <= 1, (n, losses)
    assert sorted(await balances(api, tokens)) == ["0.06", "0.07", "0.07"]  # 0.30 - 0.10 lost, as even as cents allow


async def test_a_currency_loss_above_the_repayment_is_refused(api):
    partner = await partner_token()
    loan_id, (ada,) = await funded_loan(api, partner, "50.00", currencyLossLiability="LENDER")

    result = await api.repay(partner, loan_id, "10.00", loss="10.01")

    assert (result["__typename"], result["code"]) == ("InvalidAmount", "INVALID_AMOUNT")
    assert await Repayment.all().count() == 0
    assert (await Loan.get()).status is LoanStatus.FUNDED
    assert await api.balance(ada) == "0.00"
