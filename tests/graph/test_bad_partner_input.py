"""Bad input to the partners' mutations (listLoan, postRepayment, markDefault): a clear answer, never a
crash, and the database exactly as it was. One row of a table per case, as in test_bad_input.py."""

import pytest
from strawberry.relay import GlobalID

from tests.api import LISTING, Api, admin_token, partner_token
from tests.graph.bad_input import (
    BOGUS_TOKEN,
    CONFLICT,
    FORBIDDEN,
    HUGE,
    MULTIPLE,
    NOT_FOUND,
    POSITIVE,
    UNKNOWN_LOAN,
    Ref,
    Refused,
    attempt,
    bad_amount,
    case,
    document,
    exceeds,
    invalid,
    not_a_decimal,
    not_repaying,
    null,
    seen,
)

# ---------------------------------------------------------------- listLoan


async def listing_world(api: Api) -> dict:
    """A partner in Kenya, another in Uganda, an admin and a lender."""
    partner = await partner_token("Juhudi Kilimo", "KE")
    other = await partner_token("Ugafode", "UG")
    _, lender = await api.register()
    await seen(api, lender)
    partners = await api.data("{ partners(first: 10) { edges { node { id name } } } }")
    ids = {edge["node"]["name"]: edge["node"]["id"] for edge in partners["partners"]["edges"]}
    tokens = {
        "partner": partner,
        "other_partner": other,
        "admin": await admin_token(),
        "lender": lender,
        "bogus": BOGUS_TOKEN,
    }
    return {"tokens": tokens, "partner_id": ids["Juhudi Kilimo"], "other_partner_id": ids["Ugafode"]}


LIST_LOAN = document("listLoan", "ListLoanInput")
NOT_AN_INT32 = Refused(".termMonths", "Int cannot represent non 32-bit signed integer value: 2147483648")
NOT_A_DATETIME = Refused(".expiresAt", 'Value cannot represent a DateTime: "tomorrow".')
# The fake clock starts at 2026-03-02T12:00:00Z; a listing may run up to 90 days.


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("amount-zero", POSITIVE, as_="partner", amount="0.00"),
        case("amount-negative", not_a_decimal("-500.00"), as_="partner", amount="-500.00"),
        case("amount-not-a-multiple", MULTIPLE, as_="partner", amount="510.00"),
        case("amount-three-decimals", not_a_decimal("500.001"), as_="partner", amount="500.001"),
        case("amount-over-50000", bad_amount("at most 50000.00"), as_="partner", amount="50025.00"),
        case("amount-huge", bad_amount("at most 50000.00"), as_="partner", amount=HUGE),
        case("amount-1e400", not_a_decimal("1e400"), as_="partner", amount="1e400"),
        case("amount-NaN", not_a_decimal("NaN"), as_="partner", amount="NaN"),
        case("amount-abc", not_a_decimal("abc"), as_="partner", amount="abc"),
        case("term-zero", invalid("termMonths"), as_="partner", termMonths=0),
        case("term-121", invalid("termMonths"), as_="partner", termMonths=121),
        case("term-beyond-int32", NOT_AN_INT32, as_="partner", termMonths=2**31),
        case("country-not-the-partners", invalid("countryIsoCode"), as_="partner", countryIsoCode="UG"),
        case("country-unknown", invalid("countryIsoCode"), as_="partner", countryIsoCode="XX"),
        case("name-empty", invalid("name"), as_="partner", name=""),
        case("name-201-chars", invalid("name"), as_="partner", name="x" * 201),
        case("name-with-nul", invalid("name"), as_="partner", name="Amina\x00"),
        case("use-empty", invalid("use"), as_="partner", use=""),
        case("currency-two-letters", invalid("currency"), as_="partner", currency="US"),
        case("currency-symbol", invalid("currency"), as_="partner", currency="U$D"),
        case("currency-not-ascii", invalid("currency"), as_="partner", currency="ÉUR"),
        case("expires-in-the-past", invalid("expiresAt"), as_="partner", expiresAt="2026-03-01T12:00:00+00:00"),
        case("expires-now", invalid("expiresAt"), as_="partner", expiresAt="2026-03-02T12:00:00+00:00"),
        case("expires-after-90-days", invalid("expiresAt"), as_="partner", expiresAt="2026-05-31T12:00:01+00:00"),
        case("expires-without-timezone", invalid("expiresAt"), as_="partner", expiresAt="2026-03-10T12:00:00"),
        case("expires-tomorrow", NOT_A_DATETIME, as_="partner", expiresAt="tomorrow"),
        case("partner-names-another-partner", FORBIDDEN, as_="partner", partnerId=Ref("other_partner_id")),
        case("admin-names-no-partner", invalid("partnerId"), as_="admin"),
        case("admin-names-an-unknown-partner", NOT_FOUND, as_="admin", partnerId=str(GlobalID("Partner", "999"))),
        case(
            "admin-lists-outside-the-partners-country",
            invalid("countryIsoCode"),
            as_="admin",
            partnerId=Ref("other_partner_id"),
        ),
        case("lender", FORBIDDEN, as_="lender"),
        case("no-token", FORBIDDEN, as_=None),
    ],
)
async def test_list_loan_refuses(api, fields, as_, expect):
    world = await listing_world(api)
    await attempt(api, LIST_LOAN, LISTING, fields, as_, expect, world)


# ---------------------------------------------------------------- postRepayment, markDefault


async def partner_world(api: Api, *, every_state: bool) -> dict:
    """A partner's loan of 100.00, funded, with 10.00 repaid (key "used-key"): 90.00 outstanding.

    With every_state, also its loans in each other state, and another partner's funded loan.
    """
    partner = await partner_token("Juhudi Kilimo")
    _, lender = await api.funded_lender("200.00")
    amounts = {"repaying": "100.00"}
    if every_state:
        amounts |= {"funded": "25.00", "repaid": "25.00", "defaulted": "25.00", "fundraising": "100.00"}
    loans = {name: await api.loan_id(partner, amount=amount) for name, amount in amounts.items()}
    tokens = {"partner": partner, "lender": lender, "bogus": BOGUS_TOKEN}
    if every_state:
        tokens |= {"other_partner": await partner_token("Musoni"), "admin": await admin_token()}
        loans["other_partners"] = await api.loan_id(tokens["other_partner"], amount="25.00")
    for name, loan in loans.items():
        if name != "fundraising":
            assert (await api.lend(lender, loan, amounts.get(name, "25.00")))["loan"]["status"] == "FUNDED"
    assert (await api.repay(partner, loans["repaying"], "10.00", key="used-key"))["loan"]["status"] == "REPAYING"
    if every_state:
        assert (await api.repay(partner, loans["repaid"], "25.00"))["loan"]["status"] == "REPAID"
        done = await api.post(MARK_DEFAULT, {"input": {"loanId": loans["defaulted"]}}, partner)
        assert done["data"]["result"]["__typename"] == "MarkDefaultSuccess", done
    return {"tokens": tokens, **loans}


POST_REPAYMENT = document(
    "postRepayment",
    "PostRepaymentInput",
    "... on ExceedsRemaining { remaining } ... on LoanNotRepaying { status } ... on IdempotencyConflict { key }",
)
LOSS = bad_amount("currency loss")  # the message must say which amount is wrong


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("zero", POSITIVE, as_="partner", amount="0.00"),
        case("negative", not_a_decimal("-10.00"), as_="partner", amount="-10.00"),
        case("three-decimals", not_a_decimal("1.005"), as_="partner", amount="1.005"),
        case("1e400", not_a_decimal("1e400"), as_="partner", amount="1e400"),
        case("huge", bad_amount("at most"), as_="partner", amount=HUGE),
        case("NaN", not_a_decimal("NaN"), as_="partner", amount="NaN"),
        case("abc", not_a_decimal("abc"), as_="partner", amount="abc"),
        case("a-cent-over-the-outstanding", exceeds("90.00"), as_="partner", amount="90.01"),
        case("loss-over-the-amount", LOSS, as_="partner", amount="10.00", currencyLoss="10.01"),
        case("loss-negative", not_a_decimal("-1.00", ".currencyLoss"), as_="partner", currencyLoss="-1.00"),
        case("loss-three-decimals", not_a_decimal("0.001", ".currencyLoss"), as_="partner", currencyLoss="0.001"),
        case("loss-NaN", not_a_decimal("NaN", ".currencyLoss"), as_="partner", currencyLoss="NaN"),
        case("loss-huge", LOSS, as_="partner", currencyLoss=HUGE),
        case("loss-abc", not_a_decimal("abc", ".currencyLoss"), as_="partner", currencyLoss="abc"),
        case("key-reused-for-another-amount", CONFLICT, as_="partner", idempotencyKey="used-key", amount="20.00"),
    ],
)
async def test_post_repayment_refuses_bad_amounts(api, fields, as_, expect):
    world = await partner_world(api, every_state=False)
    base = {"loanId": Ref("repaying"), "amount": "10.00", "idempotencyKey": "new-key"}
    await attempt(api, POST_REPAYMENT, base, fields, as_, expect, world)


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("loan-fundraising", not_repaying("FUNDRAISING"), as_="partner", loanId=Ref("fundraising")),
        case("loan-repaid", not_repaying("REPAID"), as_="partner", loanId=Ref("repaid")),
        case("loan-defaulted", not_repaying("DEFAULTED"), as_="partner", loanId=Ref("defaulted")),
        case("more-than-a-funded-loan", exceeds("25.00"), as_="partner", loanId=Ref("funded"), amount="25.01"),
        case("another-partners-loan", FORBIDDEN, as_="partner", loanId=Ref("other_partners")),
        case("lender", FORBIDDEN, as_="lender"),
        case("no-token", FORBIDDEN, as_=None),
        case("loan-id-unknown", NOT_FOUND, as_="partner", loanId=UNKNOWN_LOAN),
        case("loan-id-garbage", NOT_FOUND, as_="partner", loanId="garbage"),
    ],
)
async def test_post_repayment_refuses_wrong_loan_or_caller(api, fields, as_, expect):
    world = await partner_world(api, every_state=True)
    base = {"loanId": Ref("repaying"), "amount": "10.00", "idempotencyKey": "new-key"}
    await attempt(api, POST_REPAYMENT, base, fields, as_, expect, world)


MARK_DEFAULT = document("markDefault", "MarkDefaultInput", "... on LoanNotRepaying { status }")


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("loan-fundraising", not_repaying("FUNDRAISING"), as_="partner", loanId=Ref("fundraising")),
        case("loan-repaid", not_repaying("REPAID"), as_="partner", loanId=Ref("repaid")),
        case("loan-already-defaulted", not_repaying("DEFAULTED"), as_="partner", loanId=Ref("defaulted")),
        case("admin-on-a-fundraising-loan", not_repaying("FUNDRAISING"), as_="admin", loanId=Ref("fundraising")),
        case("another-partners-loan", FORBIDDEN, as_="other_partner"),
        case("lender", FORBIDDEN, as_="lender"),
        case("no-token", FORBIDDEN, as_=None),
        case("loan-id-unknown", NOT_FOUND, as_="partner", loanId=UNKNOWN_LOAN),
        case("loan-id-garbage", NOT_FOUND, as_="partner", loanId="garbage"),
        case("loan-id-null", null(".loanId", "ID!"), as_="partner", loanId=None),
    ],
)
async def test_mark_default_refuses(api, fields, as_, expect):
    world = await partner_world(api, every_state=True)
    await attempt(api, MARK_DEFAULT, {"loanId": Ref("repaying")}, fields, as_, expect, world)
