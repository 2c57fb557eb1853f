"""lending.repayments.lender_loss: the part of a repayment's currency loss that lenders bear, called directly.

The loan's liability decides: NONE, the partner bears it all; LENDER, lenders bear it all; SHARED, the
partner covers the loss up to 10% of the repayment (in whole cents, rounded down) and lenders the rest.
How lenders' part is shared among their shares: tests/lending/test_split.py. The same rules through the
API: tests/graph/test_currency_loss.py.
"""

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from lending.repayments import lender_loss
from models import CurrencyLossLiability

NONE, SHARED, LENDER = CurrencyLossLiability.NONE, CurrencyLossLiability.SHARED, CurrencyLossLiability.LENDER
SETTINGS = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize(
    ("amount", "loss", "lenders_bear"),
    [
        (4_000, 600, 200),  # 6.00 lost on 40.00: the partner covers 4.00, lenders 2.00
        (4_000, 300, 0),  # within the partner's 10%
        (4_000, 400, 0),  # exactly the partner's 10%
        (4_000, 401, 1),  # a cent beyond it
        (4_000, 4_000, 3_600),  # the whole repayment lost
        (4_005, 401, 1),  # 10% of 40.05 is 4.005: the partner covers 4.00
        (9, 1, 1),  # 10% of 0.09 is less than a cent: the partner covers nothing
        (10, 1, 0),
        (4_000, 0, 0),
    ],
)
def test_under_shared_liability_the_partner_covers_ten_percent_of_the_repayment(amount, loss, lenders_bear):
    assert lender_loss(SHARED, amount, loss) == lenders_bear


def test_under_none_liability_lenders_bear_nothing_and_under_lender_liability_all():
    assert lender_loss(NONE, 4_000, 600) == 0
    assert lender_loss(NONE, 4_000, 4_000) == 0
    assert lender_loss(LENDER, 4_000, 600) == 600
    assert lender_loss(LENDER, 4_000, 4_000) == 4_000


@st.composite
def repayments(draw: st.DrawFn) -> tuple[int, int]:
    """A repayment's amount and its currency loss (never more than the amount), in cents."""
    amount = draw(st.one_of(st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=5_000_000)))
    return amount, draw(st.integers(min_value=0, max_value=amount))


@SETTINGS
@given(repayments())
@example((4_000, 400))
@example((1, 1))
def test_lenders_bear_what_the_liability_gives_them_and_the_partner_the_rest(repayment):
    amount, loss = repayment
    assert lender_loss(NONE, amount, loss) == 0
    assert lender_loss(LENDER, amount, loss) == loss
    shared = lender_loss(SHARED, amount, loss)
    assert 0 <= shared <= loss
    # The partner's part is its 10% of the repayment, or the whole loss when that is less.
    assert loss - shared == min(loss, amount * 10 // 100)


@SETTINGS
@given(repayments())
def test_under_shared_liability_each_cent_beyond_the_partners_ten_percent_is_the_lenders(repayment):
    amount, loss = repayment
    assume(loss < amount)  # one cent more is still a loss within the repayment
    more = lender_loss(SHARED, amount, loss + 1) - lender_loss(SHARED, amount, loss)
    assert more == (1 if loss >= amount * 10 // 100 else 0)
