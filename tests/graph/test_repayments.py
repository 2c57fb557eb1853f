"""Repayments: a partner pays back principal and every cent goes to exactly one lender.

How a repayment is shared out:
- pro rata by share, exact to the cent (largest remainder); when cents do not
  divide evenly the odd ones go to the lenders furthest behind, so over many
  repayments nobody is favoured;
- less any currency loss the loan's liability puts on lenders (test_currency_loss.py);
- the loan turns REPAYING with the first repayment and REPAID with the last.
Repayments follow a monthly schedule; a loan behind it is past due, and a
partner may declare a loan defaulted, writing off what is outstanding
(test_schedule_and_default.py).
"""

import asyncio
from decimal import Decimal

from lending.loans import expire_loans
from models import Loan, LoanStatus, Repayment, Share, Transfer, TransferKind
from tests.api import admin_token, partner_token
from tests.graph.funded_loans import LOAN, balances, funded_loan, partner_balance, share_rows

# --- splitting a repayment among lenders ---------------------------------------------


async def test_a_repayment_is_split_pro_rata_by_share(api):
    partner = await partner_token()
    loan_id, (ada, bob, cy) = await funded_loan(api, partner, "100.00", "50.00", "50.00")

    result = await api.repay(partner, loan_id, "100.00")

    assert result == {
        "__typename": "PostRepaymentSuccess",
        "amount": "100.00",
        "lendersCredited": "100.00",
        "loan": {"status": "REPAYING", "repaidAmount": "100.00"},
    }
    assert await balances(api, [ada, bob, cy]) == ["50.00", "25.00", "25.00"]
    assert await share_rows(loan_id) == [(5000, 0), (2500, 0), (2500, 0)]
    moved = (
        await Transfer.filter(kind=TransferKind.REPAYMENT)
        .order_by("amount_cents")
        .values_list("amount_cents", flat=True)
    )
    assert moved == [2500, 2500, 5000]  # one transfer per lender, from the partner's account
    assert await partner_balance(loan_id) == 10000  # 200.00 disbursed, 100.00 back
    repayment = await Repayment.get()
    assert (repayment.amount_cents, repayment.currency_loss_cents, repayment.lender_loss_cents) == (10000, 0, 0)


async def test_odd_cents_go_to_exactly_one_lender_each(api):
    partner = await partner_token()
    loan_id, tokens = await funded_loan(api, partner, "25.00", "25.00", "25.00")

    result = await api.repay(partner, loan_id, "10.01")

    assert (result["amount"], result["lendersCredited"]) == ("10.01", "10.01")
    parts = [Decimal(b) for b in await balances(api, tokens)]
    assert sum(parts) == Decimal("10.01")
    # 10.01 / 3 = 3.3366...: three floors of 3.33 leave two odd cents, one each for two lenders.
    assert sorted(parts) == [Decimal("3.33"), Decimal("3.34"), Decimal("3.34")]
    repaid = [r for r, _ in await share_rows(loan_id)]
    assert sum(repaid) == 1001 and sorted(repaid) == [333, 334, 334]
    assert await Transfer.filter(kind=TransferKind.REPAYMENT).count() == 3


async def test_a_single_cent_goes_to_the_largest_share_first(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "25.00")

    await api.repay(partner, loan_id, "0.01")  # exact parts 0.0067 and 0.0033: Ada's is the larger
    assert await balances(api, [ada, bob]) == ["0.01", "0.00"]
    # A lender who got no cent gets no transfer either (transfers are never zero).
    assert await Transfer.filter(kind=TransferKind.REPAYMENT).count() == 1

    await api.repay(partner, loan_id, "0.01")  # now Bob is the one behind his exact 0.0067
    assert await balances(api, [ada, bob]) == ["0.01", "0.01"]
    await api.repay(partner, loan_id, "0.01")  # the third cent makes it exactly 2:1 again
    assert await balances(api, [ada, bob]) == ["0.02", "0.01"]
    assert await share_rows(loan_id) == [(2, 0), (1, 0)]


async def test_over_many_small_repayments_no_lender_is_favoured(api):
    partner = await partner_token()
    loan_id, tokens = await funded_loan(api, partner, "25.00", "25.00", "25.00")
    total = 0
    for cents in [1, 2, 1, 4, 1, 5, 1, 1, 7, 2, 1, 1, 4, 1, 2, 1, 1, 1, 5, 1, 3, 5]:
        result = await api.repay(partner, loan_id, f"{Decimal(cents) / 100:.2f}")
        assert result["__typename"] == "PostRepaymentSuccess", result
        total += cents
        repaid = [r for r, _ in await share_rows(loan_id)]
        assert sum(repaid) == total
        # Equal shares: after every repayment, the lenders are within one cent of each other.
        assert max(repaid) - min(repaid) <= 1, (total, repaid)
    assert total == 51  # divisible by three: every lender has exactly a third
    assert await balances(api, tokens) == ["0.17", "0.17", "0.17"]


async def test_unequal_shares_stay_within_a_cent_of_their_exact_part_over_many_repayments(api):
    partner = await partner_token()
    shares = ("50.00", "25.00", "25.00", "75.00")
    loan_id, _ = await funded_loan(api, partner, *shares)
    weights = [int(Decimal(s) * 100) for s in shares]
    total = 0
    for cents in [1, 3, 1, 2, 7, 1, 1, 5, 3, 1, 2, 1, 11, 1, 1, 3]:
        await api.repay(partner, loan_id, f"{Decimal(cents) / 100:.2f}")
        total += cents
        repaid = [r for r, _ in await share_rows(loan_id)]
        assert sum(repaid) == total
        for got, weight in zip(repaid, weights, strict=True):
            # |got - total * weight / W| < 1 cent, in integers.
            assert abs(got * sum(weights) - total * weight) < sum(weights), (total, repaid)


# --- the loan's lifecycle -----------------------------------------------------------------


async def test_the_loan_is_repaying_then_repaid_and_ends(api, clock):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00", termMonths=2)
    first = await api.repay(partner, loan_id, "30.00")
    assert first["loan"] == {"status": "REPAYING", "repaidAmount": "30.00"}
    assert (await Loan.get()).ended_at is None

    clock.advance(days=40)
    last = await api.repay(partner, loan_id, "70.00")

    assert last["loan"] == {"status": "REPAID", "repaidAmount": "100.00"}
    loan = await Loan.get()
    assert (loan.status, loan.repaid_cents, loan.ended_at) == (LoanStatus.REPAID, 10000, clock())
    assert await balances(api, [ada, bob]) == ["50.00", "50.00"]  # every cent lent came back
    assert await share_rows(loan_id) == [(5000, 0), (5000, 0)]
    assert await partner_balance(loan_id) == 0
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert shown["daysPastDue"] == 0
    assert [i["paidAmount"] for i in shown["schedule"]] == ["50.00", "50.00"]

    more = await api.repay(partner, loan_id, "0.01")
    assert (more["__typename"], more["code"]) == ("LoanNotRepaying", "LOAN_NOT_REPAYING")
    assert await Repayment.all().count() == 2


async def test_a_repayment_over_the_outstanding_is_refused_and_changes_nothing(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00")

    too_much = await api.repay(partner, loan_id, "100.01")
    assert (too_much["__typename"], too_much["code"], too_much["remaining"]) == (
        "ExceedsRemaining",
        "EXCEEDS_REMAINING",
        "100.00",
    )
    # The refused first repayment did not even start the loan repaying.
    assert (await Loan.get()).status is LoanStatus.FUNDED

    await api.repay(partner, loan_id, "40.00")
    refused = await api.repay(partner, loan_id, "60.01")
    assert (refused["__typename"], refused["remaining"]) == ("ExceedsRemaining", "60.00")

    loan = await Loan.get()
    assert (loan.status, loan.repaid_cents, loan.ended_at) == (LoanStatus.REPAYING, 4000, None)
    assert await Repayment.all().count() == 1
    assert await Transfer.filter(kind=TransferKind.REPAYMENT).count() == 2
    assert await share_rows(loan_id) == [(2000, 0), (2000, 0)]
    assert await balances(api, [ada, bob]) == ["20.00", "20.00"]
    assert await partner_balance(loan_id) == 6000

    exact = await api.repay(partner, loan_id, "60.00")
    assert exact["loan"] == {"status": "REPAID", "repaidAmount": "100.00"}


async def test_a_fundraising_loan_cannot_be_repaid(api):
    partner = await partner_token()
    loan_id = await api.loan_id(partner, amount="100.00")
    _, ada = await api.funded_lender("25.00")
    await api.lend(ada, loan_id, "25.00")

    result = await api.repay(partner, loan_id, "10.00")

    assert (result["__typename"], result["code"]) == ("LoanNotRepaying", "LOAN_NOT_REPAYING")
    loan = await Loan.get()
    assert (loan.status, loan.repaid_cents) == (LoanStatus.FUNDRAISING, 0)
    assert await Repayment.all().count() == 0
    assert await Share.filter(repaid_cents__gt=0).count() == 0
    assert await api.balance(ada) == "0.00"


async def test_an_expired_loan_cannot_be_repaid(api, clock):
    partner = await partner_token()
    loan_id = await api.loan_id(partner, amount="100.00")
    _, ada = await api.funded_lender("25.00")
    await api.lend(ada, loan_id, "25.00")
    clock.advance(days=31)
    await expire_loans(clock())

    result = await api.repay(partner, loan_id, "10.00")

    assert result["__typename"] == "LoanNotRepaying"
    assert await Repayment.all().count() == 0
    assert await api.balance(ada) == "25.00"  # the refund, nothing more


# --- who may repay ------------------------------------------------------------------------------


async def test_a_partner_cannot_repay_another_partners_loan(api):
    owner = await partner_token("Juhudi Kilimo", "KE")
    other = await partner_token("Musoni", "KE")
    loan_id, (ada,) = await funded_loan(api, owner, "50.00")

    result = await api.repay(other, loan_id, "10.00")

    assert (result["__typename"], result["code"]) == ("Forbidden", "FORBIDDEN")
    loan = await Loan.get()
    assert (loan.status, loan.repaid_cents) == (LoanStatus.FUNDED, 0)
    assert await Repayment.all().count() == 0
    assert await api.balance(ada) == "0.00"


async def test_lenders_and_anonymous_callers_cannot_post_repayments(api):
    partner = await partner_token()
    loan_id, (ada,) = await funded_loan(api, partner, "50.00")

    assert (await api.repay(ada, loan_id, "10.00"))["__typename"] == "Forbidden"
    assert (await api.repay(None, loan_id, "10.00"))["__typename"] == "Forbidden"
    assert await Repayment.all().count() == 0
    assert await api.balance(ada) == "0.00"


async def test_an_admin_may_repay_any_partners_loan(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "25.00", "25.00")

    result = await api.repay(await admin_token(), loan_id, "50.00")

    assert result["loan"] == {"status": "REPAID", "repaidAmount": "50.00"}
    assert await balances(api, [ada, bob]) == ["25.00", "25.00"]
    assert await partner_balance(loan_id) == 0


async def test_repaying_an_unknown_loan_is_not_found(api):
    partner = await partner_token()
    result = await api.repay(partner, "TG9hbjo5OTk=", "10.00")  # "Loan:999"
    assert (result["__typename"], result["code"]) == ("NotFound", "NOT_FOUND")


# --- idempotency ------------------------------------------------------------------------------------


async def test_replaying_an_idempotency_key_returns_the_same_result_and_credits_once(api):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00")

    first = await api.repay(partner, loan_id, "30.00", key="rp-1")
    again = await api.repay(partner, loan_id, "30.00", key="rp-1")

    assert first == again
    assert await Repayment.all().count() == 1
    assert await balances(api, [ada, bob]) == ["15.00", "15.00"]
    assert (await Loan.get()).repaid_cents == 3000

    conflict = await api.repay(partner, loan_id, "31.00", key="rp-1")
    assert conflict["__typename"] == "IdempotencyConflict"
    assert await Repayment.all().count() == 1

    # The last repayment replays as the success it was, not as "loan not repaying".
    last = await api.repay(partner, loan_id, "70.00", key="rp-2")
    replay = await api.repay(partner, loan_id, "70.00", key="rp-2")
    assert last == replay and replay["loan"]["status"] == "REPAID"
    assert await balances(api, [ada, bob]) == ["50.00", "50.00"]


async def test_a_refused_repayment_leaves_its_key_free(api):
    partner = await partner_token()
    loan_id, (ada,) = await funded_loan(api, partner, "50.00")

    refused = await api.repay(partner, loan_id, "50.01", key="rp-1")
    assert refused["__typename"] == "ExceedsRemaining"
    ok = await api.repay(partner, loan_id, "50.00", key="rp-1")
    assert ok["__typename"] == "PostRepaymentSuccess"
    assert await api.balance(ada) == "50.00"


# --- concurrency (PostgreSQL: SQLite would serialise the requests) --------------------------------


async def test_concurrent_repayments_never_exceed_the_loan(pg_api):
    api = pg_api
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00")

    results = await asyncio.gather(*(api.repay(partner, loan_id, "30.00") for _ in range(5)))

    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ExceedsRemaining"] * 2 + ["PostRepaymentSuccess"] * 3  # 90.00 fits, 120.00 would not
    assert {r["remaining"] for r in results if r["__typename"] == "ExceedsRemaining"} == {"10.00"}
    loan = await Loan.get()
    assert (loan.repaid_cents, loan.status) == (9000, LoanStatus.REPAYING)
    assert await share_rows(loan_id) == [(4500, 0), (4500, 0)]
    assert await balances(api, [ada, bob]) == ["45.00", "45.00"]


async def test_the_same_key_sent_concurrently_credits_once(pg_api):
    api = pg_api
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00")

    results = await asyncio.gather(*(api.repay(partner, loan_id, "20.00", key="rp-same") for _ in range(4)))

    assert all(r == results[0] for r in results) and results[0]["__typename"] == "PostRepaymentSuccess"
    assert await Repayment.all().count() == 1
    assert (await Loan.get()).repaid_cents == 2000
    assert await balances(api, [ada, bob]) == ["10.00", "10.00"]
