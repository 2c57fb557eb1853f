"""Repayments: a partner pays back principal and every cent goes to exactly one lender.

How a repayment is shared out:
- pro rata by share, exact to the cent (largest remainder); when cents do not
  divide evenly the odd ones go to the lenders furthest behind, so over many
  repayments nobody is favoured;
- less any currency loss the loan's liability puts on lenders: NONE (the
  partner bears it), LENDER (lenders bear all of it), SHARED (the partner
  covers up to 10% of the repayment, lenders the rest);
- the loan turns REPAYING with the first repayment and REPAID with the last.
Repayments follow a monthly schedule; a loan behind it is past due, and a
partner may declare a loan defaulted, writing off what is outstanding.
"""

from decimal import Decimal

from graph.ids import decode_id
from lending.loans import expire_loans
from models import Account, Loan, LoanStatus, Repayment, Share, Transfer, TransferKind
from tests.api import admin_token, partner_token

LOAN = """query($id: ID!) { loan(id: $id) {
  status repaidAmount daysPastDue schedule { number dueDate amount paidAmount } } }"""

MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) {
  __typename ... on UserError { code message } ... on LoanNotRepaying { status }
  ... on MarkDefaultSuccess { loan { status repaidAmount daysPastDue } } } }"""

PARTNERS = """{ partners(first: 10) { edges { node { name loanCount defaultRate arrearsRate } } } }"""

SHARE_NODES = """{ me { portfolio { shares(first: 10) { edges { node { amount repaidAmount currencyLoss } } } } } }"""


async def funded_loan(api, partner: str, *shares: str, **listing) -> tuple[str, list[str]]:
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


async def balances(api, tokens: list[str]) -> list[str]:
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


# --- currency loss --------------------------------------------------------------------------------


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
    assert lost.destination_id == (await Account.get(kind="WORLD")).id
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


# --- schedule, delinquency and default ----------------------------------------------------------


async def test_the_schedule_and_days_past_due_follow_the_clock(api, clock):
    partner = await partner_token()
    # Funded on 2026-03-02: three monthly instalments of 100.00 from the month after.
    loan_id, _ = await funded_loan(api, partner, "200.00", "100.00", termMonths=3)
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert shown["schedule"] == [
        {"number": 1, "dueDate": "2026-04-02", "amount": "100.00", "paidAmount": "0.00"},
        {"number": 2, "dueDate": "2026-05-02", "amount": "100.00", "paidAmount": "0.00"},
        {"number": 3, "dueDate": "2026-06-02", "amount": "100.00", "paidAmount": "0.00"},
    ]
    assert shown["daysPastDue"] == 0

    clock.advance(days=45)  # 2026-04-16: the first instalment is 14 days late
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert (shown["status"], shown["daysPastDue"]) == ("FUNDED", 14)

    await api.repay(partner, loan_id, "60.00")  # part of the first instalment: still late
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert shown["daysPastDue"] == 14
    assert [i["paidAmount"] for i in shown["schedule"]] == ["60.00", "0.00", "0.00"]

    await api.repay(partner, loan_id, "40.00")  # the rest of it: up to date
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert shown["daysPastDue"] == 0
    assert [i["paidAmount"] for i in shown["schedule"]] == ["100.00", "0.00", "0.00"]

    clock.advance(days=26)  # 2026-05-12: the second instalment is 10 days late
    shown = (await api.data(LOAN, {"id": loan_id}))["loan"]
    assert shown["daysPastDue"] == 10
    assert (await api.data(PARTNERS))["partners"]["edges"][0]["node"]["arrearsRate"] == "0.5000"  # 100 / 200


async def test_the_last_instalment_takes_the_odd_cents(api):
    partner = await partner_token()
    loan_id, _ = await funded_loan(api, partner, "100.00", termMonths=3)
    await api.repay(partner, loan_id, "40.00")
    schedule = (await api.data(LOAN, {"id": loan_id}))["loan"]["schedule"]
    assert [(i["amount"], i["paidAmount"]) for i in schedule] == [
        ("33.33", "33.33"),
        ("33.33", "6.67"),
        ("33.34", "0.00"),
    ]


async def test_an_instalment_is_not_in_arrears_on_its_due_date(api, clock):
    partner = await partner_token()
    loan_id, _ = await funded_loan(api, partner, "100.00", termMonths=2)
    clock.advance(days=31)  # 2026-04-02 12:00, the first due date itself
    assert (await api.data(LOAN, {"id": loan_id}))["loan"]["daysPastDue"] == 0
    # Due today is not yet past due: arrears agree with daysPastDue.
    assert (await api.data(PARTNERS))["partners"]["edges"][0]["node"]["arrearsRate"] == "0.0000"
    clock.advance(days=1)
    assert (await api.data(LOAN, {"id": loan_id}))["loan"]["daysPastDue"] == 1
    assert (await api.data(PARTNERS))["partners"]["edges"][0]["node"]["arrearsRate"] == "0.5000"


async def test_a_partner_marks_a_loan_defaulted_and_the_outstanding_is_written_off(api, clock):
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "200.00", "100.00", termMonths=3)
    await api.repay(partner, loan_id, "90.00")
    clock.advance(days=100)

    result = (await api.data(MARK_DEFAULT, {"input": {"loanId": loan_id}}, partner))["markDefault"]

    assert result == {
        "__typename": "MarkDefaultSuccess",
        "loan": {"status": "DEFAULTED", "repaidAmount": "90.00", "daysPastDue": 0},
    }
    loan = await Loan.get()
    assert (loan.status, loan.repaid_cents, loan.ended_at) == (LoanStatus.DEFAULTED, 9000, clock())
    written_off = await Transfer.get(kind=TransferKind.WRITE_OFF)
    assert written_off.amount_cents == 21000  # 300.00 - 90.00
    assert written_off.destination_id == (await Account.get(kind="WORLD")).id
    assert await partner_balance(loan_id) == 0
    # The lenders keep what came back; nothing more is credited.
    assert await balances(api, [ada, bob]) == ["60.00", "30.00"]
    assert await share_rows(loan_id) == [(6000, 0), (3000, 0)]
    # A defaulted loan takes no more repayments and cannot default twice.
    assert (await api.repay(partner, loan_id, "10.00"))["__typename"] == "LoanNotRepaying"
    twice = (await api.data(MARK_DEFAULT, {"input": {"loanId": loan_id}}, partner))["markDefault"]
    assert (twice["__typename"], twice["status"]) == ("LoanNotRepaying", "DEFAULTED")
    assert await Transfer.filter(kind=TransferKind.WRITE_OFF).count() == 1


async def test_only_the_loans_partner_or_an_admin_may_mark_it_defaulted(api):
    owner = await partner_token("Juhudi Kilimo", "KE")
    other = await partner_token("Musoni", "KE")
    loan_id, (ada,) = await funded_loan(api, owner, "50.00")
    fundraising = await api.loan_id(owner, amount="100.00")

    for token in (other, ada, None):
        refused = (await api.data(MARK_DEFAULT, {"input": {"loanId": loan_id}}, token))["markDefault"]
        assert refused["__typename"] == "Forbidden"
    not_out = (await api.data(MARK_DEFAULT, {"input": {"loanId": fundraising}}, owner))["markDefault"]
    assert (not_out["__typename"], not_out["status"]) == ("LoanNotRepaying", "FUNDRAISING")
    assert await Loan.filter(status=LoanStatus.DEFAULTED).count() == 0
    assert await Transfer.filter(kind=TransferKind.WRITE_OFF).count() == 0

    done = (await api.data(MARK_DEFAULT, {"input": {"loanId": loan_id}}, await admin_token()))["markDefault"]
    assert done["loan"]["status"] == "DEFAULTED"
    assert await Transfer.filter(kind=TransferKind.WRITE_OFF).values_list("amount_cents", flat=True) == [5000]


async def test_partner_default_and_arrears_rates_are_derived_from_its_loans(api, clock):
    juhudi = await partner_token("Juhudi Kilimo", "KE")
    musoni = await partner_token("Musoni", "KE")
    # Juhudi's loans, all funded on 2026-03-02:
    defaulting, _ = await funded_loan(api, juhudi, "200.00", "100.00", termMonths=3)  # 300.00
    repaid, _ = await funded_loan(api, juhudi, "100.00", "100.00", termMonths=2)  # 200.00
    late, _ = await funded_loan(api, juhudi, "100.00", termMonths=4)  # 100.00, 25.00 a month
    await api.loan_id(juhudi, amount="500.00")  # still fundraising: not disbursed
    await api.repay(juhudi, defaulting, "90.00")
    await api.repay(juhudi, repaid, "200.00")
    await api.repay(juhudi, late, "10.00")
    # Musoni's loan is up to date.
    current, _ = await funded_loan(api, musoni, "100.00", termMonths=4)
    await api.repay(musoni, current, "50.00")

    clock.advance(days=75)  # 2026-05-16: two instalments of `late` (50.00) were due by 05-02
    marked = (await api.data(MARK_DEFAULT, {"input": {"loanId": defaulting}}, juhudi))["markDefault"]
    assert marked["__typename"] == "MarkDefaultSuccess"

    nodes = [e["node"] for e in (await api.data(PARTNERS))["partners"]["edges"]]
    assert nodes == [
        {
            "name": "Juhudi Kilimo",
            "loanCount": 4,
            # written off 210.00 over disbursed 300.00 + 200.00 + 100.00 = 600.00
            "defaultRate": "0.3500",
            # past due 50.00 - 10.00 = 40.00 over outstanding 100.00 - 10.00 = 90.00
            "arrearsRate": "0.4444",
        },
        {"name": "Musoni", "loanCount": 1, "defaultRate": "0.0000", "arrearsRate": "0.0000"},
    ]
    assert await Transfer.filter(kind=TransferKind.WRITE_OFF).values_list("amount_cents", flat=True) == [21000]
    late_loan = (await api.data(LOAN, {"id": late}))["loan"]
    assert late_loan["daysPastDue"] == 44  # since 2026-04-02, the first instalment only 10.00 paid
    assert [i["paidAmount"] for i in late_loan["schedule"]] == ["10.00", "0.00", "0.00", "0.00"]


# --- concurrency (PostgreSQL: SQLite would serialise the requests) --------------------------------


async def test_concurrent_repayments_never_exceed_the_loan(pg_api):
    import asyncio

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
    import asyncio

    api = pg_api
    partner = await partner_token()
    loan_id, (ada, bob) = await funded_loan(api, partner, "50.00", "50.00")

    results = await asyncio.gather(*(api.repay(partner, loan_id, "20.00", key="rp-same") for _ in range(4)))

    assert all(r == results[0] for r in results) and results[0]["__typename"] == "PostRepaymentSuccess"
    assert await Repayment.all().count() == 1
    assert (await Loan.get()).repaid_cents == 2000
    assert await balances(api, [ada, bob]) == ["10.00", "10.00"]
