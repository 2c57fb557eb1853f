"""Work that runs after a mutation has committed never turns its success into an error.

A deposit, a repayment, a listing or a new auto-lend rule commits first;
auto-lending then runs on the new credit or the new loan. If auto-lending
fails there, the mutation still happened: its caller must hear success, or
it would send the deposit again under a new key and pay twice. The failure
is logged, and the periodic sweep lends the credit later.
"""

import logging

import pytest

from lending import autolend
from models import Account, Loan, Transfer
from tests.api import partner_token

SET_RULE = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) {
  __typename ... on UserError { code message } } }"""


class AutoLendingDown(Exception):
    pass


@pytest.fixture
def broken_auto_lending(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*args: object) -> None:
        raise AutoLendingDown("the database went away after the commit")

    monkeypatch.setattr(autolend, "on_credit", fail)
    monkeypatch.setattr(autolend, "fund_loan", fail)


async def test_a_deposit_succeeds_when_auto_lending_after_it_fails(api, broken_auto_lending, caplog):
    _, ada = await api.register("Ada")
    assert (await api.data(SET_RULE, token=ada))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"

    answer = await api.deposit(ada, "50.00", key="card-1")

    assert answer["__typename"] == "DepositSuccess", answer
    assert answer["lender"]["balance"] == "50.00"
    assert await Transfer.filter(kind="DEPOSIT").count() == 1
    assert "auto-lending after new credit" in caplog.text
    # The client, told of its success, does not retry; if it does, with its key, nothing moves twice.
    assert (await api.deposit(ada, "50.00", key="card-1"))["__typename"] == "DepositSuccess"
    assert await api.balance(ada) == "50.00"


async def test_a_repayment_succeeds_when_auto_lending_after_it_fails(api, monkeypatch, caplog):
    partner = await partner_token()
    _, ada = await api.funded_lender("100.00", "Ada")
    loan_id = await api.loan_id(partner, amount="100.00")
    await api.lend(ada, loan_id, "100.00")

    async def fail(*args: object) -> None:
        raise AutoLendingDown("lost connection")

    monkeypatch.setattr(autolend, "on_credit", fail)
    answer = await api.repay(partner, loan_id, "40.00")

    assert answer["__typename"] == "PostRepaymentSuccess", answer
    assert answer["loan"] == {"status": "REPAYING", "repaidAmount": "40.00"}
    assert await api.balance(ada) == "40.00"
    assert "auto-lending after new credit" in caplog.text


async def test_a_listing_succeeds_when_auto_lending_to_it_fails(api, broken_auto_lending, caplog):
    partner = await partner_token()

    answer = await api.list_loan(partner, amount="500.00")

    assert answer["__typename"] == "ListLoanSuccess", answer
    assert await Loan.filter(name="Amina").count() == 1
    assert "auto-lending to new loan" in caplog.text


async def test_a_new_rule_is_saved_when_its_first_run_fails(api, broken_auto_lending, caplog):
    _, ada = await api.funded_lender("100.00", "Ada")

    answer = (await api.data(SET_RULE, token=ada))["setAutoLendRule"]

    assert answer["__typename"] == "AutoLendRuleSuccess", answer
    assert (await api.data("{ me { autoLendRule { enabled } } }", token=ada))["me"]["autoLendRule"] == {"enabled": True}
    assert "auto-lending after new credit" in caplog.text


async def test_the_sweep_lends_later_what_failed_after_a_deposit(api, clock, monkeypatch):
    partner = await partner_token()
    loan_id = await api.loan_id(partner, amount="500.00")
    _, ada = await api.register("Ada")
    await api.data(SET_RULE, token=ada)
    real = autolend.on_credit

    async def fail(*args: object) -> None:
        raise AutoLendingDown("lost connection")

    monkeypatch.setattr(autolend, "on_credit", fail)
    await api.deposit(ada, "25.00")
    monkeypatch.setattr(autolend, "on_credit", real)
    assert await api.balance(ada) == "25.00"

    assert await autolend.sweep(clock()) == 1

    assert await api.balance(ada) == "0.00"
    loan = (await api.data("query($id: ID!) { loan(id: $id) { fundedAmount } }", {"id": loan_id}))["loan"]
    assert loan == {"fundedAmount": "25.00"}
    assert (await Account.get(lender__display_name="Ada")).balance_cents == 0


@pytest.fixture(autouse=True)
def _errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="lendgraph.autolend")
