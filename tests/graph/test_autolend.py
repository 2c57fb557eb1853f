"""Auto-lending through the public API: rules, triggers, the 50% cap, fairness, notifications, previews."""

import pytest

from lending.autolend import sweep
from models import Allocation, AutoLendRule, Loan, Notification, SavedSearch, Share
from tests.api import partner_token
from tests.ws import Socket

SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) {
  __typename ... on UserError { code message } ... on InvalidInput { field }
  ... on AutoLendRuleSuccess { rule { enabled amountPerLoan keepBalance trigger idleDays
      criteria { countries sectors } } } } }"""
PREVIEW = """query($input: AutoLendRuleInput) { autoLendPreview(input: $input) {
  __typename ... on AutoLendPreview { total note loans { amount loan { name } } } } }"""
BACKTEST = """query($input: AutoLendRuleInput, $days: Int!) { autoLendBacktest(input: $input, days: $days) {
  __typename ... on UserError { code message }
  ... on AutoLendPreview { total note loans { amount loan { name } } } } }"""


async def set_rule(api, token, **rule):
    return (await api.data(SET_RULE, {"input": rule}, token))["setAutoLendRule"]


async def shares_of(token_lender_name: str) -> dict[str, int]:
    rows = await Share.filter(lender__display_name=token_lender_name).values_list("loan__name", "amount_cents")
    return dict(rows)


SAVE_SEARCH = """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
  __typename ... on UserError { code message } ... on InvalidInput { field } } }"""


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"riskRatingMin": "0.3"}, "riskRatingMin"),
        ({"riskRatingMax": "5.5"}, "riskRatingMax"),
        ({"riskRatingMin": "2.25"}, "riskRatingMin"),
        ({"riskRatingMin": "4.0", "riskRatingMax": "2.0"}, "riskRatingMin"),
    ],
)
async def test_a_bad_risk_rating_bound_names_its_own_input(api, criteria, field):
    _, ada = await api.register("Ada")
    refused = await set_rule(api, ada, criteria=criteria, amountPerLoan="50.00")
    assert (refused["__typename"], refused["code"], refused["field"]) == ("InvalidInput", "INVALID_INPUT", field)
    search = {"name": "Safe loans", "filter": criteria, "alert": True}
    refused = (await api.data(SAVE_SEARCH, {"input": search}, ada))["saveSearch"]
    assert (refused["__typename"], refused["field"]) == ("InvalidInput", field)
    assert not await AutoLendRule.exists() and not await SavedSearch.exists()


async def test_an_immediate_rule_lends_new_credit_on_deposit(api):
    partner = await partner_token()
    await api.loan_id(partner, name="Amina", amount="500.00", sector="CLOTHING")
    await api.loan_id(partner, name="Otieno", amount="500.00", sector="AGRICULTURE")
    _, ada = await api.register("Ada")
    rule = await set_rule(api, ada, criteria={"sectors": ["CLOTHING"]}, amountPerLoan="50.00")
    assert rule["rule"]["criteria"] == {"countries": [], "sectors": ["CLOTHING"]}
    assert await shares_of("Ada") == {}  # no credit yet
    await api.deposit(ada, "80.00")
    assert await shares_of("Ada") == {"Amina": 5000}
    assert await api.balance(ada) == "30.00"
    allocation = await Allocation.get()
    assert (allocation.amount_cents, allocation.matched) == (5000, ["sector Clothing"])
    assert (await Loan.get(name="Amina")).auto_funded_cents == 5000


async def test_an_immediate_rule_lends_when_a_matching_loan_is_listed(api):
    _, ada = await api.funded_lender("100.00", "Ada")
    await set_rule(api, ada, criteria={"countries": ["KE"], "genders": ["FEMALE"]})
    partner = await partner_token()
    listed = await api.list_loan(partner, name="Amina", amount="500.00")
    assert listed["loan"]["status"] == "FUNDRAISING"
    await api.list_loan(partner, name="Otieno", gender="MALE")
    assert await shares_of("Ada") == {"Amina": 2500}
    notes = await api.data("{ me { notifications { edges { node { kind message loan { name } } } } } }", token=ada)
    assert notes["me"]["notifications"]["edges"][0]["node"] == {
        "kind": "AUTO_LOAN",
        "message": "We lent 25.00 to Amina in Kenya: matched country KE, gender female",
        "loan": {"name": "Amina"},
    }
    public = await api.data(
        "query($id: ID!) { loan(id: $id) { allocations { amount matched lender { displayName } } } }",
        {"id": listed["loan"]["id"]},
    )
    assert public["loan"]["allocations"] == [
        {"amount": "25.00", "matched": ["country KE", "gender female"], "lender": None}
    ]
    mine = await api.data(
        "query($id: ID!) { loan(id: $id) { allocations { lender { displayName } } } }",
        {"id": listed["loan"]["id"]},
        ada,
    )
    assert mine["loan"]["allocations"] == [{"lender": {"displayName": "Ada"}}]


async def test_the_kept_balance_is_never_lent(api):
    partner = await partner_token()
    for name in ("A", "B", "C"):
        await api.loan_id(partner, name=name, amount="500.00")
    _, ada = await api.register("Ada")
    await set_rule(api, ada, keepBalance="30.00")
    await api.deposit(ada, "80.00")
    assert sum((await shares_of("Ada")).values()) == 5000
    assert await api.balance(ada) == "30.00"


async def test_after_idle_days_waits_until_the_lender_is_away(api, clock):
    partner = await partner_token()
    await api.loan_id(partner, name="Amina", amount="500.00")
    _, ada = await api.funded_lender("50.00", "Ada")
    await set_rule(api, ada, trigger="AFTER_IDLE_DAYS", idleDays=7)
    await api.data("{ me { id } }", token=ada)  # seen today
    assert await sweep(clock()) == 0
    clock.advance(days=6, hours=23)
    assert await sweep(clock()) == 0
    assert await shares_of("Ada") == {}
    clock.advance(hours=1)
    assert await sweep(clock()) == 1
    assert await shares_of("Ada") == {"Amina": 2500}


async def test_a_visit_restarts_the_idle_clock(api, clock):
    partner = await partner_token()
    await api.loan_id(partner, name="Amina", amount="500.00", expiresAt="2026-04-20T00:00:00Z")
    _, ada = await api.funded_lender("50.00", "Ada")
    await set_rule(api, ada, trigger="AFTER_IDLE_DAYS", idleDays=7)
    clock.advance(days=5)
    await api.data("{ me { id } }", token=ada)
    clock.advance(days=5)
    assert await sweep(clock()) == 0
    clock.advance(days=2)
    assert await sweep(clock()) == 1


async def test_days_without_lending_by_hand(api, clock):
    partner = await partner_token()
    first = await api.loan_id(partner, name="Amina", amount="500.00")
    await api.loan_id(partner, name="Wanjiru", amount="500.00", expiresAt="2026-04-20T00:00:00Z")
    _, ada = await api.funded_lender("75.00", "Ada")
    await set_rule(api, ada, trigger="AFTER_DAYS_WITHOUT_LENDING", idleDays=10)
    await api.lend(ada, first, "25.00")
    clock.advance(days=9)
    await api.data("{ me { id } }", token=ada)
    assert await sweep(clock()) == 0
    clock.advance(days=1)
    assert await sweep(clock()) == 1
    assert await shares_of("Ada") == {"Amina": 2500, "Wanjiru": 2500}


async def test_a_paused_rule_waits_for_its_pause_to_end(api, clock):
    partner = await partner_token()
    await api.loan_id(partner, name="Amina", amount="500.00")
    _, ada = await api.funded_lender("50.00", "Ada")
    await set_rule(api, ada, pauseUntil="2026-03-05T00:00:00Z")
    assert await shares_of("Ada") == {}
    clock.advance(days=3)
    assert await sweep(clock()) == 1


async def test_all_rules_together_fund_at_most_half_a_loan_and_manual_lenders_fill_the_rest(api):
    partner = await partner_token()
    for index in range(100):
        _, token = await api.funded_lender("25.00", f"Auto{index:03}")
        await set_rule(api, token)
    loan_id = await api.loan_id(partner, name="Amina", amount="1000.00")
    loan = await Loan.get(name="Amina")
    assert (loan.funded_cents, loan.auto_funded_cents, loan.lender_count) == (50_000, 50_000, 20)
    assert await Allocation.all().count() == 20
    # Those who lend by hand still find the other half.
    for index in range(20):
        _, token = await api.funded_lender("25.00", f"Hand{index:02}")
        result = await api.lend(token, loan_id, "25.00")
        assert result["__typename"] == "LendSuccess"
    loan = await Loan.get(name="Amina")
    assert (loan.funded_cents, loan.auto_funded_cents, loan.status.value) == (100_000, 50_000, "FUNDED")


async def test_rules_share_a_scarce_loan_longest_waiting_first_round_robin(api, clock):
    partner = await partner_token()
    names = ["Eve", "Cy", "Ada", "Bob", "Dan"]
    for name in names:  # Eve's credit waits longest, Dan's least
        _, token = await api.funded_lender("100.00", name)
        await set_rule(api, token, amountPerLoan="75.00")
        clock.advance(hours=1)
    # Half of 400.00 is 200.00: eight shares for five rules wanting three each.
    await api.loan_id(partner, name="Scarce", amount="400.00")
    given = dict(await Allocation.all().values_list("lender__display_name", "amount_cents"))
    assert given == {"Eve": 5000, "Cy": 5000, "Ada": 5000, "Bob": 2500, "Dan": 2500}
    # The round robin goes on where it stopped (after Ada's second share): Bob and Dan come next.
    clock.advance(minutes=1)
    await api.loan_id(partner, name="Next", amount="100.00")
    nxt = await Allocation.filter(loan__name="Next").values_list("lender__display_name", "amount_cents")
    assert sorted(nxt) == [("Bob", 2500), ("Dan", 2500)]
    clock.advance(minutes=1)
    await api.loan_id(partner, name="Third", amount="150.00")
    third = await Allocation.filter(loan__name="Third").values_list("lender__display_name", flat=True)
    assert sorted(third) == ["Ada", "Cy", "Eve"]  # then Bob and Dan again


async def test_auto_loans_are_pushed_on_my_events(live):
    _, ada = await live.funded_lender("25.00", "Ada")
    await set_rule(live, ada)
    partner = await partner_token()
    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe(
            "me",
            "subscription { myEvents { __typename ... on NotificationCreated { notification { kind message } } } }",
        )
        await live.loan_id(partner, name="Amina")
        event = (await ws.next("me"))["myEvents"]
        assert event == {
            "__typename": "NotificationCreated",
            "notification": {"kind": "AUTO_LOAN", "message": "We lent 25.00 to Amina in Kenya: matched any loan"},
        }


async def test_preview_and_backtest_match_what_the_engine_then_does(api, clock):
    partner = await partner_token()
    await api.loan_id(partner, name="Old", amount="500.00", sector="FOOD")
    clock.advance(days=2)
    for name, sector in (("Rosa", "FOOD"), ("Amina", "CLOTHING"), ("Wanjiru", "FOOD"), ("Chala", "FOOD")):
        await api.loan_id(partner, name=name, amount="500.00", sector=sector)
        clock.advance(hours=1)
    _, ada = await api.funded_lender("120.00", "Ada")
    rule = {"criteria": {"sectors": ["FOOD"]}, "amountPerLoan": "50.00", "keepBalance": "10.00"}
    preview = (await api.data(PREVIEW, {"input": rule}, ada))["autoLendPreview"]
    assert preview["total"] == "100.00" and preview["note"] == ""
    planned = [(p["loan"]["name"], p["amount"]) for p in preview["loans"]]
    assert planned == [("Old", "50.00"), ("Rosa", "50.00")]  # soonest to expire first, credit for two
    backtest = (await api.data(BACKTEST, {"input": rule, "days": 1}, ada))["autoLendBacktest"]
    assert [(p["loan"]["name"], p["amount"]) for p in backtest["loans"]] == [("Rosa", "50.00"), ("Wanjiru", "50.00")]
    await set_rule(api, ada, **rule)
    assert await shares_of("Ada") == {"Old": 5000, "Rosa": 5000}
    assert await api.balance(ada) == "20.00"


async def test_preview_says_why_nothing_would_be_lent(api):
    _, ada = await api.register("Ada")
    none = (await api.data(PREVIEW, {}, ada))["autoLendPreview"]
    assert none == {
        "__typename": "AutoLendPreview",
        "total": "0.00",
        "note": "You have no auto-lend rule.",
        "loans": [],
    }
    await set_rule(api, ada)
    broke = (await api.data(PREVIEW, {}, ada))["autoLendPreview"]
    assert broke["note"].startswith("No credit to lend")


@pytest.mark.parametrize(
    ("rule", "typename", "detail"),
    [
        ({"amountPerLoan": "30.00"}, "InvalidAmount", "multiple of 25.00"),
        ({"amountPerLoan": "0"}, "InvalidAmount", "must be positive"),
        # "-5.00" is no Decimal at all: refused before the resolver (tests/security/test_amount_strings.py).
        ({"keepBalance": "1000000.01"}, "InvalidAmount", "balance to keep may be at most 1000000.00"),
        ({"trigger": "AFTER_IDLE_DAYS"}, "InvalidInput", "idleDays"),
        ({"trigger": "AFTER_IDLE_DAYS", "idleDays": 0}, "InvalidInput", "idleDays"),
        ({"trigger": "AFTER_IDLE_DAYS", "idleDays": 100000}, "InvalidInput", "idleDays"),
        ({"idleDays": 5}, "InvalidInput", "idleDays"),
        ({"criteria": {"countries": ["XX"]}}, "InvalidInput", "Unknown country"),
        ({"pauseUntil": "2020-01-01T00:00:00Z"}, "InvalidInput", "pauseUntil must be in the future"),
    ],
)
async def test_bad_rules_are_refused_and_the_rule_is_unchanged(api, rule, typename, detail):
    _, ada = await api.register("Ada")
    await set_rule(api, ada, amountPerLoan="50.00", criteria={"countries": ["KE"]})
    before = await AutoLendRule.all().values()
    result = await set_rule(api, ada, **rule)
    assert result["__typename"] == typename and detail in result["message"], result
    assert await AutoLendRule.all().values() == before
    assert await Notification.all().count() == 0


async def test_auto_lending_books_a_bounded_batch_of_loans_per_transaction_in_the_fair_order(api, clock, monkeypatch):
    from lending import autolend

    monkeypatch.setattr(autolend, "LOANS_PER_TRANSACTION", 1)
    booked: list[list[int]] = []
    fund = autolend._fund_loans
    monkeypatch.setattr(autolend, "_fund_loans", lambda ids, now, *more: (booked.append(ids), fund(ids, now, *more))[1])
    partner = await partner_token()
    repaid = await api.loan_id(partner, name="Repaid", amount="100.00")
    for name in ("Ada", "Bob"):  # Ada's rule waits longest
        _, token = await api.funded_lender("50.00", name)
        assert (await api.lend(token, repaid, "50.00"))["__typename"] == "LendSuccess"
        assert (await set_rule(api, token, amountPerLoan="50.00"))["__typename"] == "AutoLendRuleSuccess"
        clock.advance(hours=1)
    for name in ("First", "Second"):  # room for rules: 25.00 in each
        await api.loan_id(partner, name=name, amount="50.00")
    booked.clear()

    assert (await api.repay(partner, repaid, "100.00"))["__typename"] == "PostRepaymentSuccess"

    first, second = [loan.id for loan in await Loan.filter(name__in=("First", "Second")).order_by("id")]
    assert booked == [[first], [second]]  # one transaction per loan, in id order
    # Ada, served first, went to the back of the queue before the second transaction read it.
    given = await Allocation.all().order_by("id").values_list("loan__name", "lender__display_name", "amount_cents")
    assert given == [("First", "Ada", 2500), ("Second", "Bob", 2500)]
