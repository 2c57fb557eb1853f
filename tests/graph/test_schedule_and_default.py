"""A funded loan's monthly schedule, its days past due, the partner's arrears and default rates, and default.

Repayments pay instalments in order; a loan behind its schedule is past due, and a partner (or an
admin) may declare a loan defaulted, writing off what is outstanding.
"""

from lending.ledger import world_account_for_loan
from models import Loan, LoanStatus, Transfer, TransferKind
from tests.api import admin_token, partner_token
from tests.graph.funded_loans import LOAN, balances, funded_loan, partner_balance, share_rows

MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) {
  __typename ... on UserError { code message } ... on LoanNotRepaying { status }
  ... on MarkDefaultSuccess { loan { status repaidAmount daysPastDue } } } }"""

PARTNERS = """{ partners(first: 10) { edges { node { name loanCount defaultRate arrearsRate } } } }"""


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
    assert written_off.destination_id == await world_account_for_loan(loan.id)
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
