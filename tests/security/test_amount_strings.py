"""Amount strings: a Decimal input is ASCII digits, an optional point and at most two decimals, and nothing else.

Every Decimal input of the API (the amounts of deposit, withdraw, lend, listLoan and
postRepayment, postRepayment's currencyLoss, an auto-lend rule's amountPerLoan and
keepBalance, and the risk ratings of a LoanFilter wherever one is taken) reads only
`[0-9]+(\\.[0-9]{1,2})?`. Python's Decimal() reads far more: "25_00" is 2500, "٢٥" (Arabic-Indic
digits) is 25 and so is 25 in fullwidth digits, and exponents, signs, spaces, NaN and JSON numbers all
parse. Each of those is refused before anything runs, as a variable or as an inline literal, with
`extensions.code` INVALID_AMOUNT and a message that says the format, and every table is
left exactly as it was. A well-formed string means exactly its cents: a deposit of
"123.4" credits 123.40, as the API and the database both show.

The world is arranged once per test function (on SQLite and on PostgreSQL) and shared by
its examples; the money rate limit is off, since the examples are many money mutations of
one lender.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.relay import GlobalID

from models import Account, AutoLendRule, Loan, Repayment, SavedSearch, Transfer
from tests.amounts import KNOWN_BAD, MALFORMED_STRINGS, expected_cents, spelled
from tests.api import LISTING, Api, new_key, partner_token
from tests.clock import FakeClock
from tests.conftest import serve
from tests.snapshot import Snapshot, changes, snapshot

CODE = "INVALID_AMOUNT"
SAYS = ("ASCII digits", "at most two decimals")  # the format, in every refusal's message


def examples(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,  # CI repeats the same cases
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ================================================================ the world


@dataclass
class World:
    api: Api
    tokens: dict[str, str]  # ada: 1,000,000.00 of credit; grace: none; partner
    loans: dict[str, str]  # open: 50,000.00 fundraising; repaying: 50,000.00 lent by Bob
    ada: int  # Ada's lender pk
    grace: int
    before: Snapshot = field(default_factory=dict)


@pytest.fixture
async def money_api(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """The API with rate limits off: the examples are more money mutations than a lender may make in a minute."""
    off = {"rate_limit_per_ip": 0, "rate_limit_per_token": 0, "rate_limit_money_per_lender": 0}
    async with serve(database_url, clock, **off) as api:
        yield api


def pk(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


@pytest.fixture
async def world(money_api: Api) -> World:
    api = money_api
    partner = await partner_token()
    ada_id, ada = await api.funded_lender("1000000.00", "Ada")
    grace_id, grace = await api.register("Grace")
    _, bob = await api.funded_lender("50000.00", "Bob")
    open_loan = await api.loan_id(partner, amount="50000.00")
    repaying = await api.loan_id(partner, amount="50000.00")
    assert (await api.lend(bob, repaying, "50000.00"))["loan"]["status"] == "FUNDED"
    assert (await api.repay(partner, repaying, "1.00"))["loan"]["status"] == "REPAYING"
    for token in (ada, grace):  # a lender's first request records when it was seen: before any snapshot
        await api.balance(token)
    tokens = {"ada": ada, "grace": grace, "partner": partner}
    world = World(api, tokens, {"open": open_loan, "repaying": repaying}, pk(ada_id), pk(grace_id))
    world.before = await snapshot()
    return world


# ================================================================ where a Decimal goes in


QUERIES = {"loans", "autoLendPreview"}


@dataclass(frozen=True)
class Target:
    """One Decimal input: a root field, its argument, where the Decimal sits in it, and who may send it."""

    root: str
    arg_type: str
    path: tuple[str, ...]
    caller: str | None
    base: Callable[[World], dict[str, Any]] = lambda world: {}
    arg: str = "input"

    @property
    def id(self) -> str:
        return ".".join((self.root, *self.path))

    @property
    def operation(self) -> str:
        return "query" if self.root in QUERIES else "mutation"

    def argument(self, world: World, value: Any) -> dict[str, Any]:
        argument = self.base(world)
        inner = argument
        for key in self.path[:-1]:
            inner = inner.setdefault(key, {})
        inner[self.path[-1]] = value
        return argument


def keyed(**fields: Any) -> Callable[[World], dict[str, Any]]:
    return lambda world: {**fields, "idempotencyKey": new_key()}


def on_loan(loan: str, **fields: Any) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"loanId": world.loans[loan], **fields, "idempotencyKey": new_key()}


def search(world: World) -> dict[str, Any]:
    return {"name": "rated", "filter": {}}


TARGETS = [
    Target("deposit", "DepositInput!", ("amount",), "ada", keyed()),
    Target("withdraw", "WithdrawInput!", ("amount",), "ada", keyed()),
    Target("lend", "LendInput!", ("amount",), "ada", on_loan("open")),
    Target("listLoan", "ListLoanInput!", ("amount",), "partner", lambda world: dict(LISTING)),
    Target("postRepayment", "PostRepaymentInput!", ("amount",), "partner", on_loan("repaying")),
    Target("postRepayment", "PostRepaymentInput!", ("currencyLoss",), "partner", on_loan("repaying", amount="10.00")),
    Target("setAutoLendRule", "AutoLendRuleInput!", ("amountPerLoan",), "grace"),
    Target("setAutoLendRule", "AutoLendRuleInput!", ("keepBalance",), "grace"),
    Target("setAutoLendRule", "AutoLendRuleInput!", ("criteria", "riskRatingMin"), "grace"),
    Target("setAutoLendRule", "AutoLendRuleInput!", ("criteria", "riskRatingMax"), "grace"),
    Target("saveSearch", "SaveSearchInput!", ("filter", "riskRatingMin"), "ada", search),
    Target("saveSearch", "SaveSearchInput!", ("filter", "riskRatingMax"), "ada", search),
    Target("loans", "LoanFilter", ("riskRatingMin",), None, arg="filter"),
    Target("loans", "LoanFilter", ("riskRatingMax",), None, arg="filter"),
    Target("autoLendPreview", "AutoLendRuleInput", ("amountPerLoan",), "grace"),
]
SELECTION = {"loans": "{ totalCount }"}  # every other root field answers a union
UNION = "{ __typename ... on UserError { code message } }"


@dataclass(frozen=True)
class Bare:
    """A literal written as it is: 25, 2.5e1, true, NaN (an enum value), {a: 1}."""

    text: str


ENUM_FIELDS = {"sector", "gender", "currencyLossLiability", "trigger"}


def literal(value: Any, enum: bool = False) -> str:
    """A value as an inline GraphQL literal; a string field named in ENUM_FIELDS is an enum value."""
    if isinstance(value, Bare):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if enum else json.dumps(value, ensure_ascii=False)  # JSON's escapes are GraphQL's
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return "{" + ", ".join(f"{key}: {literal(item, key in ENUM_FIELDS)}" for key, item in value.items()) + "}"


async def send(world: World, target: Target, value: Any, inline: bool) -> dict[str, Any]:
    """The request with `value` in the target's place: as a variable, or inline in the document."""
    argument = target.argument(world, value)
    selection = SELECTION.get(target.root, UNION)
    token = world.tokens[target.caller] if target.caller else None
    if inline:
        document = f"{target.operation} {{ result: {target.root}({target.arg}: {literal(argument)}) {selection} }}"
        return await world.api.post(document, {}, token)
    document = (
        f"{target.operation}($arg: {target.arg_type}) {{ result: {target.root}({target.arg}: $arg) {selection} }}"
    )
    return await world.api.post(document, {"arg": argument}, token)


def assert_refused(body: dict[str, Any], *sent: Any) -> None:
    """Refused before anything ran: no data; every error has the code and says the format."""
    assert body.get("data") is None, (sent, body)
    assert body.get("errors"), (sent, body)
    for error in body["errors"]:
        assert (error.get("extensions") or {}).get("code") == CODE, (sent, body)
        assert all(words in error["message"] for words in SAYS), (sent, body)


async def assert_unchanged(world: World, what: str) -> None:
    after = await snapshot()
    assert after == world.before, f"{what}: {changes(world.before, after)}"


# ================================================================ malformed: refused, nothing moved


async def test_the_schema_says_the_format(api: Api):
    described = await api.data('{ __type(name: "Decimal") { description } }')
    assert all(words in described["__type"]["description"] for words in SAYS)
    assert CODE in described["__type"]["description"]


NON_STRINGS = [25, 0, -5, 25.0, 25.5, 1e16, True, False, {"amount": "25.00"}, {}, ["25.00"], []]
BARE_LITERALS = [Bare(text) for text in ["25", "-5", "25.0", "2.5e1", "1e400", "true", "NaN", "Infinity", "{a: 1}"]]
BARE_LITERALS += [Bare('["25.00"]'), Bare("[]")]


async def test_the_known_bad_amounts_are_refused_everywhere(world: World):
    """The README's examples, JSON numbers, booleans, objects and lists, in every Decimal input, both ways."""
    for target in TARGETS:
        for value in KNOWN_BAD:
            for inline in (False, True):
                assert_refused(await send(world, target, value, inline), target.id, value, inline)
        for value in NON_STRINGS:
            assert_refused(await send(world, target, value, inline=False), target.id, value)
        for bare in BARE_LITERALS:
            assert_refused(await send(world, target, bare, inline=True), target.id, bare)
        await assert_unchanged(world, target.id)


JSON_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN
    st.booleans(),
    st.dictionaries(st.sampled_from(["amount", "value", "a"]), st.sampled_from(["25.00", 25]), max_size=2),
    st.lists(st.sampled_from(["25.00", 25]), max_size=2),
)
LITERALS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: Bare(str(n))),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: Bare(repr(x))),
    st.sampled_from(BARE_LITERALS),
)


@examples(80)
@given(
    target=st.sampled_from(TARGETS),
    sent=st.one_of(
        st.tuples(MALFORMED_STRINGS, st.booleans()),  # (value, inline)
        st.tuples(JSON_VALUES, st.just(False)),
        st.tuples(LITERALS, st.just(True)),
    ),
)
async def test_generated_malformed_decimals_are_refused_and_move_nothing(world: World, target: Target, sent):
    value, inline = sent
    assert_refused(await send(world, target, value, inline), target.id, value, inline)
    await assert_unchanged(world, f"{target.id} = {value!r}")


async def test_production_mode_refuses_with_the_same_code(database_url: str, clock: FakeClock):
    """Production coerces variables itself, to hide "Did you mean" hints (graph/pipeline.py): same refusal."""
    async with serve(database_url, clock, production=True) as api:
        _, ada = await api.funded_lender("100.00")
        before = await snapshot()
        for value in ("25_00", "٢٥", 25):
            body = await api.post(
                "mutation($input: DepositInput!) { deposit(input: $input) { __typename } }",
                {"input": {"amount": value, "idempotencyKey": new_key()}},
                ada,
            )
            assert_refused(body, value)
        assert await snapshot() == before


# ================================================================ well-formed: exactly their cents


def two_places(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


async def balance_cents(lender: int) -> int:
    return (await Account.get(lender_id=lender)).balance_cents


async def test_the_readme_example_credits_123_40(world: World):
    api, ada = world.api, world.tokens["ada"]
    before = await balance_cents(world.ada)
    result = await api.deposit(ada, "123.4")
    assert result["transaction"] == {"amount": "123.40", "kind": "DEPOSIT"}, result
    assert await api.balance(ada) == two_places(before + 12340)
    assert await balance_cents(world.ada) == before + 12340


@examples(15)
@given(text=spelled(st.integers(min_value=1, max_value=10**8)))
async def test_a_deposit_credits_exactly_its_cents(world: World, text: str):
    api, ada, cents = world.api, world.tokens["ada"], expected_cents(text)
    before = await balance_cents(world.ada)
    result = await api.deposit(ada, text)
    assert result["__typename"] == "DepositSuccess", (text, result)
    assert result["transaction"]["amount"] == two_places(cents)
    assert await api.balance(ada) == result["lender"]["balance"] == two_places(before + cents)
    assert await balance_cents(world.ada) == before + cents
    assert (await Transfer.all().order_by("-id").first()).amount_cents == cents


WITHDRAW = """mutation($input: WithdrawInput!) { withdraw(input: $input) { __typename
    ... on WithdrawSuccess { transaction { amount } lender { balance } } ... on UserError { code message } } }"""


@examples(15)
@given(text=spelled(st.integers(min_value=1, max_value=100_000)))
async def test_a_withdrawal_debits_exactly_its_cents(world: World, text: str):
    api, ada, cents = world.api, world.tokens["ada"], expected_cents(text)
    before = await balance_cents(world.ada)
    result = (await api.data(WITHDRAW, {"input": {"amount": text, "idempotencyKey": new_key()}}, ada))["withdraw"]
    assert result["__typename"] == "WithdrawSuccess", (text, result)
    assert result["transaction"]["amount"] == f"-{two_places(cents)}"
    assert await api.balance(ada) == two_places(before - cents)
    assert await balance_cents(world.ada) == before - cents


SHARES = st.integers(min_value=1, max_value=20).map(lambda k: k * 2500)  # 25.00 to 500.00


@examples(15)
@given(text=spelled(SHARES))
async def test_a_loan_share_is_exactly_its_cents(world: World, text: str):
    api, ada, cents = world.api, world.tokens["ada"], expected_cents(text)
    loan_pk = pk(world.loans["open"])
    funded, balance = (await Loan.get(id=loan_pk)).funded_cents, await balance_cents(world.ada)
    result = await api.lend(ada, world.loans["open"], text)
    assert result["__typename"] == "LendSuccess", (text, result)
    assert result["loan"]["fundedAmount"] == two_places(funded + cents)
    assert result["lender"]["balance"] == await api.balance(ada) == two_places(balance - cents)
    assert (await Loan.get(id=loan_pk)).funded_cents == funded + cents
    assert await balance_cents(world.ada) == balance - cents


@examples(15)
@given(text=spelled(st.integers(min_value=1, max_value=2000).map(lambda k: k * 2500)))
async def test_a_listing_is_exactly_its_cents(world: World, text: str):
    result = await world.api.list_loan(world.tokens["partner"], amount=text)
    assert result["__typename"] == "ListLoanSuccess", (text, result)
    assert result["loan"]["amount"] == two_places(expected_cents(text))
    assert (await Loan.get(id=pk(result["loan"]["id"]))).amount_cents == expected_cents(text)


@examples(15)
@given(text=spelled(st.integers(min_value=1, max_value=10_000)))
async def test_a_repayment_is_exactly_its_cents(world: World, text: str):
    loan_pk, cents = pk(world.loans["repaying"]), expected_cents(text)
    repaid = (await Loan.get(id=loan_pk)).repaid_cents
    result = await world.api.repay(world.tokens["partner"], world.loans["repaying"], text)
    assert result["__typename"] == "PostRepaymentSuccess", (text, result)
    assert result["amount"] == two_places(cents)
    assert result["loan"]["repaidAmount"] == two_places(repaid + cents)
    assert (await Loan.get(id=loan_pk)).repaid_cents == repaid + cents
    assert (await Repayment.all().order_by("-id").first()).amount_cents == cents


@examples(15)
@given(loss=spelled(st.integers(min_value=0, max_value=10_000)))
async def test_a_currency_loss_is_exactly_its_cents(world: World, loss: str):
    result = await world.api.repay(world.tokens["partner"], world.loans["repaying"], "100.00", loss=loss)
    assert result["__typename"] == "PostRepaymentSuccess", (loss, result)
    repayment = await Repayment.all().order_by("-id").first()
    assert (repayment.amount_cents, repayment.currency_loss_cents) == (10000, expected_cents(loss))


SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) { __typename
    ... on AutoLendRuleSuccess { rule { amountPerLoan keepBalance } } ... on UserError { code message } } }"""


@examples(15)
@given(
    amount=spelled(st.integers(min_value=1, max_value=400).map(lambda k: k * 2500)),
    keep=spelled(st.integers(min_value=0, max_value=10**8)),
)
async def test_an_auto_lend_rule_keeps_exactly_its_cents(world: World, amount: str, keep: str):
    variables = {"input": {"amountPerLoan": amount, "keepBalance": keep}}
    result = (await world.api.data(SET_RULE, variables, world.tokens["grace"]))["setAutoLendRule"]
    assert result["__typename"] == "AutoLendRuleSuccess", (amount, keep, result)
    cents = (expected_cents(amount), expected_cents(keep))
    assert result["rule"] == {"amountPerLoan": two_places(cents[0]), "keepBalance": two_places(cents[1])}
    rule = await AutoLendRule.get(lender_id=world.grace)
    assert (rule.amount_cents, rule.keep_cents) == cents


HALF_STARS = st.integers(min_value=1, max_value=10).map(lambda k: k * 50)  # 0.5 to 5.0 stars, as "cents" of a star
SAVE_SEARCH = """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
    __typename ... on SaveSearchSuccess { savedSearch { filter { riskRatingMin riskRatingMax } } }
    ... on UserError { code message } } }"""
RATED = "query($filter: LoanFilter) { loans(filter: $filter) { totalCount } }"


@examples(15)
@given(low=spelled(HALF_STARS), high=spelled(HALF_STARS))
async def test_risk_ratings_are_exactly_their_half_stars(world: World, low: str, high: str):
    low, high = sorted((low, high), key=expected_cents)
    tenths = (expected_cents(low) // 10, expected_cents(high) // 10)
    rated = {"riskRatingMin": low, "riskRatingMax": high}
    result = await world.api.data(SAVE_SEARCH, {"input": {"name": "rated", "filter": rated}}, world.tokens["ada"])
    saved = result["saveSearch"]
    assert saved["__typename"] == "SaveSearchSuccess", (rated, saved)
    assert saved["savedSearch"]["filter"] == {
        "riskRatingMin": str(Decimal(tenths[0]) / 10),  # stars as today: "3.5", "3"
        "riskRatingMax": str(Decimal(tenths[1]) / 10),
    }
    search = await SavedSearch.get(lender_id=world.ada, name="rated")
    assert (search.criteria["risk_min_tenths"], search.criteria["risk_max_tenths"]) == tenths
    # The partner of every loan here has 3.5 stars.
    everything = (await world.api.data(RATED, {"filter": None}))["loans"]["totalCount"]
    found = (await world.api.data(RATED, {"filter": rated}))["loans"]["totalCount"]
    assert found == (everything if tenths[0] <= 35 <= tenths[1] else 0)
