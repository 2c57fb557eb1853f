"""Keywords through the API: one definition decides auto-lending, autoLendPreview, the `loans` query and
saved-search alerts. A keyword matches when it appears inside the name, the use or the description, never
across two of them; the ASCII letters A-Z match in either case, every other character only as written."""

import pytest

from lending.autolend import sweep
from models import Allocation, Loan, Notification, Share
from tests.api import partner_token

SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) {
  __typename ... on UserError { code message } ... on AutoLendRuleSuccess { rule { criteria { keywords } } } } }"""
PREVIEW = """query($input: AutoLendRuleInput) { autoLendPreview(input: $input) {
  __typename ... on AutoLendPreview { total note loans { amount loan { name } } } } }"""
LOANS = """query($keywords: [String!]) {
  loans(filter: {keywords: $keywords}) { totalCount edges { node { name } } } }"""
NOTIFICATIONS = "{ me { notifications { totalCount edges { node { kind loan { name } } } } } }"


async def set_rule(api, token: str, keyword: str) -> dict:
    rule = {"criteria": {"keywords": [keyword]}, "amountPerLoan": "25.00"}
    return (await api.data(SET_RULE, {"input": rule}, token))["setAutoLendRule"]


async def preview(api, token: str, keyword: str | None = None) -> list[tuple[str, str]]:
    """What autoLendPreview says the lender's rule (or a rule with this keyword) would lend now."""
    rule = {"input": {"criteria": {"keywords": [keyword]}, "amountPerLoan": "25.00"}} if keyword else {}
    result = (await api.data(PREVIEW, rule, token))["autoLendPreview"]
    return [(entry["loan"]["name"], entry["amount"]) for entry in result["loans"]]


async def found(api, keyword: str) -> list[str]:
    page = (await api.data(LOANS, {"keywords": [keyword]}))["loans"]
    assert page["totalCount"] == len(page["edges"])
    return [edge["node"]["name"] for edge in page["edges"]]


async def alerts(api, token: str) -> list[tuple[str, str]]:
    page = (await api.data(NOTIFICATIONS, token=token))["me"]["notifications"]
    return [(edge["node"]["kind"], edge["node"]["loan"]["name"]) for edge in page["edges"]]


async def lent(lender_name: str) -> dict[str, int]:
    """The lender's shares, in cents by loan name, as the database holds them."""
    return dict(await Share.filter(lender__display_name=lender_name).values_list("loan__name", "amount_cents"))


@pytest.mark.parametrize(
    ("keyword", "listing"),
    [
        # " ".join(name, use, description) holds "stock kenya"; no one field does.
        ("stock kenya", {"use": "to buy more stock", "description": "Kenya, Kisumu: Amina sells fabric."}),
        # "É" and "é" are different letters to a keyword: only A-Z fold the same on every database.
        ("école", {"use": "to buy ÉCOLE uniforms to sell", "description": "She sews them at home."}),
    ],
    ids=["split-between-use-and-description", "accented-capital"],
)
async def test_a_loan_that_no_field_matches_is_neither_lent_to_nor_shown_nor_alerted(api, clock, keyword, listing):
    partner = await partner_token()
    _, ada = await api.funded_lender("100.00", "Ada")
    _, bob = await api.register("Bob")
    assert (await set_rule(api, ada, keyword))["rule"]["criteria"]["keywords"] == [keyword]
    assert (await api.save_search(bob, "Stock", {"keywords": [keyword]}))["__typename"] == "SaveSearchSuccess"

    # Listing runs auto-lending and the alerts on this one loan (a Python test of it) ...
    await api.loan_id(partner, name="Amina", amount="500.00", **listing)
    assert await api.balance(ada) == "100.00"
    assert await lent("Ada") == {}
    assert await Allocation.all().count() == 0
    amina = await Loan.get(name="Amina")
    assert (amina.funded_cents, amina.auto_funded_cents, amina.lender_count) == (0, 0, 0)
    assert await alerts(api, bob) == [] and await alerts(api, ada) == []
    assert await Notification.all().count() == 0

    # ... and the preview, the loans query and the sweep ask the database (SQL): all agree.
    assert await preview(api, ada) == []
    assert await preview(api, ada, keyword) == []
    assert await found(api, keyword) == []
    assert await sweep(clock()) == 0
    assert await api.balance(ada) == "100.00" and await lent("Ada") == {}


async def test_a_loan_with_the_keyword_inside_one_field_is_shown_lent_to_and_alerted(api):
    partner = await partner_token()
    # "restock Kenyan" holds "stock kenya" once A-Z are folded.
    await api.loan_id(partner, name="Wanjiru", amount="500.00", use="to restock Kenyan tea for her kiosk")
    _, ada = await api.funded_lender("100.00", "Ada")
    _, bob = await api.register("Bob")

    assert await found(api, "STOCK KENYA") == ["Wanjiru"]
    assert await preview(api, ada, "Stock Kenya") == [("Wanjiru", "25.00")]
    assert (await set_rule(api, ada, "Stock Kenya"))["rule"]["criteria"]["keywords"] == ["stock kenya"]
    assert await lent("Ada") == {"Wanjiru": 2500}  # what the preview said
    assert await api.balance(ada) == "75.00"
    allocation = await Allocation.get()
    assert (allocation.amount_cents, allocation.matched) == (2500, ["keyword \u201cstock kenya\u201d"])
    wanjiru = await Loan.get(name="Wanjiru")
    assert (wanjiru.funded_cents, wanjiru.auto_funded_cents, wanjiru.lender_count) == (2500, 2500, 1)

    # A new listing with the keyword in its description: lent to on listing, and alerted.
    assert (await api.save_search(bob, "Stock", {"keywords": ["stock KENYA"]}))["__typename"] == "SaveSearchSuccess"
    await api.loan_id(partner, name="Baraka", amount="500.00", use="to buy a cow", description="LIVESTOCK KENYA-WIDE")
    assert await lent("Ada") == {"Wanjiru": 2500, "Baraka": 2500}
    assert await api.balance(ada) == "50.00"
    assert await alerts(api, bob) == [("SAVED_SEARCH_MATCH", "Baraka")]
    assert await alerts(api, ada) == [("AUTO_LOAN", "Baraka"), ("AUTO_LOAN", "Wanjiru")]
    assert await found(api, "stock kenya") == ["Baraka", "Wanjiru"]  # newest first
    assert await preview(api, ada) == []  # lent to both already
