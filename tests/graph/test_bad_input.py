"""Bad input to every mutation: a clear answer, never a crash, and the database exactly as it was.

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

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from strawberry.relay import GlobalID

from tests.api import LISTING, Api, admin_token, partner_token
from tests.clock import FakeClock
from tests.snapshot import changes, snapshot

# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Typed:
    """A typed error in the mutation's payload."""

    typename: str
    code: str
    field: str | None = None  # InvalidInput.field
    says: str = ""  # part of the message (case-insensitive)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more fields of the error type


@dataclass(frozen=True)
class Refused:
    """GraphQL refuses the variables: no data, one error naming the input path and the reason."""

    path: str  # ".amount"; "" when the input object as a whole is wrong
    says: str  # the start of the reason
    code: str | None = None  # extensions.code, when the refusal has one

    @property
    def message(self) -> str:
        return f"Variable '$input' has invalid value{' at ' + self.path if self.path else ''}: {self.says}"


def bad_amount(says: str = "") -> Typed:
    return Typed("InvalidAmount", "INVALID_AMOUNT", says=says)


def invalid(field: str, says: str = "") -> Typed:
    return Typed("InvalidInput", "INVALID_INPUT", field=field, says=says)


def not_a_decimal(value: Any, path: str = ".amount") -> Refused:
    """The Decimal scalar's refusal: ASCII digits, an optional point and at most two decimals, or nothing."""
    shown = f"{value!r} (a number) is not a string" if isinstance(value, (int, float)) else repr(value)
    return Refused(path, f"Not a Decimal: {shown}. A Decimal is a string of ASCII digits", code="INVALID_AMOUNT")


def null(path: str, type_: str) -> Refused:
    return Refused(path, f"Expected value of non-null type '{type_}' not to be None.")


def insufficient(needed: str, available: str) -> Typed:
    return Typed("InsufficientCredit", "INSUFFICIENT_CREDIT", extra={"needed": needed, "available": available})


def exceeds(remaining: str) -> Typed:
    return Typed("ExceedsRemaining", "EXCEEDS_REMAINING", extra={"remaining": remaining})


def not_fundraising(**details: Any) -> Typed:
    return Typed("LoanNotFundraising", "LOAN_NOT_FUNDRAISING", **details)


def not_repaying(status: str) -> Typed:
    return Typed("LoanNotRepaying", "LOAN_NOT_REPAYING", extra={"status": status})


FORBIDDEN = Typed("Forbidden", "FORBIDDEN")
NOT_FOUND = Typed("NotFound", "NOT_FOUND")
CONFLICT = Typed("IdempotencyConflict", "IDEMPOTENCY_CONFLICT", extra={"key": "used-key"})
EMAIL_TAKEN = Typed("EmailTaken", "EMAIL_TAKEN", says="already exists")
POSITIVE = bad_amount("positive")

# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Ref:
    """A value known only once the world is arranged (an id, say)."""

    name: str


def case(id: str, expect: Typed | Refused, *, as_: str | None = "lender", **fields: Any):
    """One bad request: `fields` override the valid input; `as_` names the token sent (None: none)."""
    return pytest.param(fields, as_, expect, id=id)


def resolve(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return world[value.name]
    if isinstance(value, dict):
        return {k: resolve(v, world) for k, v in value.items()}
    return value


def loan_gid(node_id: str) -> str:
    return str(GlobalID("Loan", node_id))


BOGUS_TOKEN = "lg_" + "x" * 43  # shaped like a token, but never issued
HUGE = "1" + "0" * 30  # more digits than Decimal's default precision (28)
HUGE_WITH_DECIMALS = "1" + "0" * 26 + ".001"
UNKNOWN_LOAN = loan_gid("999999")


def document(field: str, input_type: str, extra: str = "") -> str:
    return f"""mutation($input: {input_type}!) {{ result: {field}(input: $input) {{
        __typename ... on UserError {{ code message }} ... on InvalidInput {{ field }} {extra} }} }}"""


async def attempt(
    api: Api, query: str, base: dict, fields: dict, as_: str | None, expect: Typed | Refused, world: dict
) -> None:
    """Send the bad request; check the answer; prove the database unchanged."""
    variables = {"input": resolve(base | fields, world)}
    token = world["tokens"][as_] if as_ else None
    before = await snapshot()
    body = await api.post(query, variables, token)
    after = await snapshot()
    try:
        check_answer(body, expect)
    except AssertionError as wrong:
        if after != before:  # say both: the wrong answer and what it changed
            raise AssertionError(f"{wrong}\n{changes(before, after)}") from None
        raise
    assert after == before, changes(before, after)


def check_answer(body: dict, expect: Typed | Refused) -> None:
    if isinstance(expect, Refused):
        assert body.get("data") is None, body
        assert [e["message"][: len(expect.message)] for e in body.get("errors", [])] == [expect.message], body
        if expect.code is not None:
            assert [(e.get("extensions") or {}).get("code") for e in body["errors"]] == [expect.code], body
        return
    assert not body.get("errors"), body["errors"]
    result = body["data"]["result"]
    assert result["__typename"] == expect.typename, result
    assert result["code"] == expect.code, result
    assert result["message"].strip(), result
    assert expect.says.lower() in result["message"].lower(), result
    if expect.field is not None:
        assert result["field"] == expect.field, result
    for name, value in expect.extra.items():
        assert result[name] == value, result


async def seen(api: Api, token: str) -> None:
    """A lender's first authenticated request records last_seen_at; make it before the snapshot."""
    await api.data("{ me { id } }", token=token)


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
MULTIPLE = bad_amount("multiple of 25.00")


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
