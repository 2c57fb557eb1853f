"""lending.accounts.balance_cents: the lender's credit as the ledger holds it, by one fixed statement."""

import pytest

from graph.ids import decode_id
from lending.accounts import balance_cents
from lending.errors import NotFound
from models import Account
from tests.api import Api


async def test_the_balance_follows_every_movement_of_credit(api: Api):
    lender_id, token = await api.funded_lender("100.00")
    lender = decode_id(lender_id, "Lender")
    assert await balance_cents(lender) == 10_000
    withdrawn = """mutation { withdraw(input: {amount: "30.25", idempotencyKey: "w1"}) { __typename } }"""
    assert (await api.data(withdrawn, token=token))["withdraw"]["__typename"] == "WithdrawSuccess"
    assert await balance_cents(lender) == 6_975 == (await Account.get(lender_id=lender)).balance_cents
    assert await api.balance(token) == "69.75"


async def test_a_lender_without_an_account_is_not_found(api: Api):
    with pytest.raises(NotFound):
        await balance_cents(2**31 - 1)
