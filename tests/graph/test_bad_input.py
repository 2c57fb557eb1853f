"""Bad input to every mutation: a clear answer, never a crash, and the database exactly as it was.

Here the mutations of lenders and of anyone (registerLender, deposit, withdraw, lend); those of
partners (listLoan, postRepayment, markDefault) are in test_bad_partner_input.py, and the table's
machinery in tests/graph/bad_input.py.

Each case is one row of a table: the input fields that differ from a valid
request, who sends it, and what must come back. That is either

- a typed error, a `UserError` member of the mutation's result union
  (`Typed`: its __typename, code, and for InvalidInput the field), or
- for a value its GraphQL type cannot represent at all ("tomorrow" as a
  DateTime, 2**31 as an Int, and as a Decimal anything but ASCII digits with
  an optional point and at most two decimals: "abc", "-25.00", "10.005",
  "1e400", "NaN", the JSON number -5), GraphQL's own refusal of the variables
  before any resolver runs (`Refused`: the path, the reason and, for a
  Decimal, the code INVALID_AMOUNT). tests/security/test_amount_strings.py
  tries the Decimal format at length.

Every case arranges its world through the public API, takes a snapshot of
every table, sends the one bad request, checks the answer and then proves
that no row changed. Lender tokens are used once before the snapshot,
because an authenticated request records when the lender was last seen (on
purpose: auto-lending triggers on it).
"""

from datetime import timedelta

import pytest
from strawberry.relay import GlobalID

from tests.api import Api, admin_token, partner_token
from tests.clock import FakeClock
from tests.graph.bad_input import (
    BOGUS_TOKEN,
    CONFLICT,
    EMAIL_TAKEN,
    FORBIDDEN,
    HUGE,
    HUGE_WITH_DECIMALS,
    MULTIPLE,
    NOT_FOUND,
    POSITIVE,
    UNKNOWN_LOAN,
    Ref,
    attempt,
    bad_amount,
    case,
    document,
    exceeds,
    insufficient,
    invalid,
    loan_gid,
    not_a_decimal,
    not_fundraising,
    null,
    seen,
)

# ---------------------------------------------------------------- registerLender

REGISTER = document("registerLender", "RegisterLenderInput")


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("name-empty", invalid("displayName"), as_=None, displayName=""),
        case("name-blank", invalid("displayName"), as_=None, displayName="  \t "),
        case("name-101-chars", invalid("displayName"), as_=None, displayName="x" * 101),
        case("name-with-nul", invalid("displayName"), as_=None, displayName="Ada\x00"),
        case("email-empty", invalid("email"), as_=None, email=""),
        case("email-without-at", invalid("email"), as_=None, email="ada.example.org"),
        case("email-without-domain-dot", invalid("email"), as_=None, email="ada@example"),
        case("email-with-space", invalid("email"), as_=None, email="ada lovelace@example.org"),
        case("email-255-chars", invalid("email"), as_=None, email="a" * 243 + "@example.org"),
        case("email-with-nul", invalid("email"), as_=None, email="ada\x00@example.org"),
        case("email-taken", EMAIL_TAKEN, as_=None, email="grace@example.org"),
        case("email-taken-other-case", EMAIL_TAKEN, as_=None, email="GRACE@Example.ORG"),
    ],
)
async def test_register_lender_refuses(api, fields, as_, expect):
    await api.register("Grace", "grace@example.org")
    base = {"displayName": "Ada", "email": "ada@example.org"}
    await attempt(api, REGISTER, base, fields, as_, expect, {"tokens": {}})


# ---------------------------------------------------------------- deposit, withdraw


async def lender_world(api: Api) -> dict:
    """A lender with 50.00 of credit, deposited with the key "used-key"; a partner; an admin."""
    _, lender = await api.register()
    assert (await api.deposit(lender, "50.00", key="used-key"))["__typename"] == "DepositSuccess"
    tokens = {"lender": lender, "partner": await partner_token(), "admin": await admin_token(), "bogus": BOGUS_TOKEN}
    return {"tokens": tokens}


DEPOSIT = document("deposit", "DepositInput", "... on IdempotencyConflict { key }")


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("zero", POSITIVE, amount="0"),
        case("negative", not_a_decimal("-25.00"), amount="-25.00"),
        case("negative-zero", not_a_decimal("-0.00"), amount="-0.00"),
        case("negative-json-number", not_a_decimal(-5), amount=-5),
        case("json-number", not_a_decimal(25.0), amount=25.0),
        case("three-decimals", not_a_decimal("10.005"), amount="10.005"),
        case("a-cent-over-the-maximum", bad_amount("at most 1000000.00"), amount="1000000.01"),
        case("huge", bad_amount("at most 1000000.00"), amount=HUGE),
        case("1e400", not_a_decimal("1e400"), amount="1e400"),
        case("huge-with-decimals", not_a_decimal(HUGE_WITH_DECIMALS), amount=HUGE_WITH_DECIMALS),
        case("NaN", not_a_decimal("NaN"), amount="NaN"),
        case("Infinity", not_a_decimal("Infinity"), amount="Infinity"),
        case("underscores", not_a_decimal("25_00"), amount="25_00"),
        case("arabic-indic-digits", not_a_decimal("٢٥"), amount="٢٥"),
        case("surrounding-space", not_a_decimal(" 25.00"), amount=" 25.00"),
        case("abc", not_a_decimal("abc"), amount="abc"),
        case("empty", not_a_decimal(""), amount=""),
        case("decimal-comma", not_a_decimal("12,50"), amount="12,50"),
        case("null", null(".amount", "Decimal!"), amount=None),
        case("no-token", FORBIDDEN, as_=None),
        case("unknown-token", FORBIDDEN, as_="bogus"),
        case("partner", FORBIDDEN, as_="partner"),
        case("admin", FORBIDDEN, as_="admin"),
        case("key-empty", invalid("idempotencyKey"), idempotencyKey=""),
        case("key-101-chars", invalid("idempotencyKey"), idempotencyKey="k" * 101),
        case("key-with-nul", invalid("idempotencyKey"), idempotencyKey="key\x00"),
        case("key-reused-for-another-amount", CONFLICT, idempotencyKey="used-key", amount="60.00"),
    ],
)
async def test_deposit_refuses(api, fields, as_, expect):
    world = await lender_world(api)
    await attempt(api, DEPOSIT, {"amount": "10.00", "idempotencyKey": "new-key"}, fields, as_, expect, world)


WITHDRAW = document(
    "withdraw", "WithdrawInput", "... on InsufficientCredit { needed available } ... on IdempotencyConflict { key }"
)


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("zero", POSITIVE, amount="0.00"),
        case("negative", not_a_decimal("-10.00"), amount="-10.00"),
        case("three-decimals", not_a_decimal("10.001"), amount="10.001"),
        case("1e400", not_a_decimal("1e400"), amount="1e400"),
        case("huge", bad_amount("at most 1000000.00"), amount=HUGE),
        case("NaN", not_a_decimal("NaN"), amount="NaN"),
        case("abc", not_a_decimal("abc"), amount="abc"),
        case("a-cent-more-than-the-balance", insufficient("50.01", "50.00"), amount="50.01"),
        case("the-maximum", insufficient("1000000.00", "50.00"), amount="1000000.00"),
        case("no-token", FORBIDDEN, as_=None),
        case("partner", FORBIDDEN, as_="partner"),
        case("key-empty", invalid("idempotencyKey"), idempotencyKey=""),
        case("key-of-the-deposit", CONFLICT, idempotencyKey="used-key", amount="50.00"),
    ],
)
async def test_withdraw_refuses(api, fields, as_, expect):
    world = await lender_world(api)
    await attempt(api, WITHDRAW, {"amount": "10.00", "idempotencyKey": "new-key"}, fields, as_, expect, world)


# ---------------------------------------------------------------- lend


async def lend_world(api: Api, clock: FakeClock) -> dict:
    """A lender with 60.00 who lent 25.00 (key "used-key") to a 100.00 loan; a full loan; a loan past its deadline."""
    partner = await partner_token()
    loan = await api.loan_id(partner, amount="100.00")
    full = await api.loan_id(partner, amount="25.00")
    closing = await api.loan_id(partner, amount="100.00", expiresAt=(clock() + timedelta(days=1)).isoformat())
    lender_id, lender = await api.funded_lender("85.00")
    assert (await api.lend(lender, loan, "25.00", key="used-key"))["__typename"] == "LendSuccess"
    _, other = await api.funded_lender("25.00", "Bob")
    assert (await api.lend(other, full, "25.00"))["loan"]["status"] == "FUNDED"
    clock.advance(days=2)  # `closing` is past its deadline; the expiry sweep has not run yet
    await seen(api, lender)
    pk = GlobalID.from_id(loan).node_id
    tokens = {"lender": lender, "partner": partner, "admin": await admin_token(), "bogus": BOGUS_TOKEN}
    return {
        "tokens": tokens,
        "loan": loan,
        "full": full,
        "closing": closing,
        "lender_id": lender_id,
        "padded": loan_gid(f" {pk}"),  # the loan's own id, with a space before the number
    }


LEND = document(
    "lend",
    "LendInput",
    """... on InsufficientCredit { needed available } ... on ExceedsRemaining { remaining }
       ... on LoanNotFundraising { status } ... on IdempotencyConflict { key }""",
)


@pytest.mark.parametrize(
    "fields, as_, expect",
    [
        case("zero", POSITIVE, amount="0.00"),
        case("negative", not_a_decimal("-25.00"), amount="-25.00"),
        case("not-a-multiple-10", MULTIPLE, amount="10.00"),
        case("not-a-multiple-25.50", MULTIPLE, amount="25.50"),
        case("three-decimals", not_a_decimal("25.001"), amount="25.001"),
        case("1e400", not_a_decimal("1e400"), amount="1e400"),
        case("huge", bad_amount("at most"), amount=HUGE),
        case("huge-with-decimals", not_a_decimal(HUGE_WITH_DECIMALS), amount=HUGE_WITH_DECIMALS),
        case("NaN", not_a_decimal("NaN"), amount="NaN"),
        case("abc", not_a_decimal("abc"), amount="abc"),
        case("more-than-remains", exceeds("75.00"), amount="100.00"),
        case("more-than-the-credit", insufficient("75.00", "60.00"), amount="75.00"),
        case("loan-funded", not_fundraising(extra={"status": "FUNDED"}), loanId=Ref("full")),
        case("loan-past-its-deadline", not_fundraising(says="deadline"), loanId=Ref("closing")),
        case("loan-id-garbage", NOT_FOUND, loanId="garbage"),
        case("loan-id-of-a-lender", NOT_FOUND, loanId=Ref("lender_id")),
        case("loan-id-unknown", NOT_FOUND, loanId=UNKNOWN_LOAN),
        case("loan-id-not-a-number", NOT_FOUND, loanId=loan_gid("abc")),
        case("loan-id-beyond-int32", NOT_FOUND, loanId=loan_gid(str(2**31))),
        case("loan-id-padded", NOT_FOUND, loanId=Ref("padded")),
        case("no-token", FORBIDDEN, as_=None),
        case("partner", FORBIDDEN, as_="partner"),
        case("admin", FORBIDDEN, as_="admin"),
        case("key-reused-for-another-amount", CONFLICT, idempotencyKey="used-key", amount="50.00"),
    ],
)
async def test_lend_refuses(api, clock, fields, as_, expect):
    world = await lend_world(api, clock)
    base = {"loanId": Ref("loan"), "amount": "25.00", "idempotencyKey": "new-key"}
    await attempt(api, LEND, base, fields, as_, expect, world)
