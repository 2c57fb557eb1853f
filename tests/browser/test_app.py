"""The lender web app at /app in a real browser: it shows a lender's portfolio with its chart, browses the
loans the API lists, shows new listings and moving fill bars live, signs a lender in, lends 25.00 (once,
even when an answer is lost), explains a refusal, shows the auto-lend preview and a live unread count,
and loads nothing from any other host.

The page is arranged and checked through the public API (`site.api`) and the database (`site.sql`).
Each test's page is saved as a screenshot when it ends (tests/browser/conftest.py).
Playwright's `expect` waits for what the page shows; the page's policy forbids evaluating strings,
so nothing here runs script in it.
"""

import base64
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Page, Request, Route, WebSocketRoute, expect

from tests.browser.conftest import Site

LOANS = """query($filter: LoanFilter, $sort: LoanSort) {
  loans(filter: $filter, sort: $sort, first: 20) { totalCount edges { node { id } } }
}"""
LEND = """mutation($input: LendInput!) { lend(input: $input) {
  __typename ... on LendSuccess { loan { fundedAmount } } ... on UserError { message } } }"""
STATS = """{ me { portfolio { stats { loanCount lent repaid outstanding
  bySector { key loanCount } byCountry { key loanCount } } } } }"""
SHARES = "{ me { balance portfolio { shares(first: 100) { edges { node { amount loan { id } } } } } } }"
PREVIEW = """query($input: AutoLendRuleInput) { autoLendPreview(input: $input) {
  __typename ... on AutoLendPreview { total loans { amount loan { id } } } } }"""
RULE = "{ me { autoLendRule { enabled amountPerLoan criteria { sectors } } } }"
SAVE_SEARCH = """mutation($input: SaveSearchInput!) { saveSearch(input: $input) { __typename } }"""
MARK_ALL_READ = """mutation { markNotificationsRead(input: {all: true}) {
  __typename ... on MarkNotificationsReadSuccess { unreadCount } } }"""
CARDS = "#loans article.loan"


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(outside_requests: list[str], console_errors: list[str]) -> Iterator[None]:
    """After each test: the page asked no other host for anything and logged no error."""
    yield
    assert outside_requests == []
    assert console_errors == []


def open_app(page: Page) -> None:
    """/app, once its loans are shown and its live streams are taken by the server."""
    page.goto("/app")
    expect(page.locator('#loans[data-live="on"]')).to_be_attached()


def shown_loans(page: Page) -> list[str]:
    return [card.get_attribute("data-id") or "" for card in page.locator(CARDS).all()]


def expect_loans(page: Page, site: Site, filter: dict, sort: str = "NEWEST") -> list[str]:
    """The page shows what `loans` answers for the same filter and sort, in its order; those ids."""
    answer = site.api(LOANS, {"filter": {**filter, "statuses": ["FUNDRAISING"]}, "sort": sort})["data"]["loans"]
    ids = [edge["node"]["id"] for edge in answer["edges"]]
    expect(page.locator(CARDS)).to_have_count(len(ids))
    if ids:
        expect(page.locator(CARDS).first).to_have_attribute("data-id", ids[0])
        expect(page.locator(CARDS).last).to_have_attribute("data-id", ids[-1])
    assert shown_loans(page) == ids
    noun = "loan" if answer["totalCount"] == 1 else "loans"
    expect(page.locator("#loans .count")).to_have_text(f"{answer['totalCount']} {noun}")
    return ids


def sign_in(page: Page, token: str) -> None:
    page.locator("#signin input[name=token]").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#balance")).to_be_visible()
    # The lender's own stream (myEvents) is taken by the server.
    expect(page.locator('#notifications[data-live="on"]')).to_be_attached()


def card(page: Page, loan_id: str):
    return page.locator(f'{CARDS}[data-id="{loan_id}"]')


def database_id(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


def test_the_portfolio_shows_its_figures_and_a_chart_by_sector_or_country(page: Page, site: Site, screenshot):
    token = site.tokens["lender"]  # the demo lender: a year of lending
    stats = site.api(STATS, token=token)["data"]["me"]["portfolio"]["stats"]
    open_app(page)
    sign_in(page, token)
    figures = page.locator("#portfolio .figures")
    expect(figures).to_contain_text(f"Loans{stats['loanCount']}")
    for name in ("lent", "repaid", "outstanding"):
        expect(figures).to_contain_text(f"{name.capitalize()}${Decimal(stats[name]):,.2f}")
    rows = page.locator("#portfolio svg.chart g.row")
    expect(rows).to_have_count(len(stats["bySector"]))
    page.locator("#portfolio select[name=by]").select_option("country")
    expect(rows).to_have_count(len(stats["byCountry"]))
    for slice in stats["byCountry"]:
        expect(page.locator("#portfolio svg.chart")).to_contain_text(slice["key"])
    page.locator("#portfolio select[name=by]").select_option("sector")
    expect(rows).to_have_count(len(stats["bySector"]))
    # The picture README.md shows.
    screenshot("app")


def test_the_app_shows_the_fundraising_loans_and_how_to_get_a_token(page: Page, site: Site):
    open_app(page)
    expect_loans(page, site, {})
    # Signed out, the page says where a lender's token comes from.
    help = page.locator("#signin .help")
    expect(help).to_contain_text("make run")
    expect(help).to_contain_text("lender token")
    expect(help).to_contain_text("registerLender")
    expect(page.locator(f"{CARDS} button.lend").first).to_be_disabled()


def test_filters_and_sorts_show_what_the_loans_query_returns(page: Page, site: Site):
    open_app(page)
    loans = page.locator("#loans")
    loans.locator("select[name=sectors]").select_option(["AGRICULTURE", "FOOD", "RETAIL"])
    loans.locator("select[name=genders]").select_option(["FEMALE", "MIXED_GROUP"])
    loans.locator("select[name=riskRatingMin]").select_option("2.5")
    loans.locator("select[name=sort]").select_option("EXPIRING_SOON")
    filter = {
        "sectors": ["AGRICULTURE", "FOOD", "RETAIL"],
        "genders": ["FEMALE", "MIXED_GROUP"],
        "riskRatingMin": "2.5",
    }
    shown = expect_loans(page, site, filter, "EXPIRING_SOON")
    assert shown, "the demo data has such loans"
    loans.locator("select[name=sort]").select_option("LOAN_AMOUNT_DESC")
    assert sorted(expect_loans(page, site, filter, "LOAN_AMOUNT_DESC")) == sorted(shown)
    loans.locator("input[name=maxTermMonths]").fill("9")
    loans.locator("input[name=maxTermMonths]").dispatch_event("change")
    expect_loans(page, site, {**filter, "maxTermMonths": 9}, "LOAN_AMOUNT_DESC")


def test_a_loan_listed_while_the_page_is_open_and_matching_the_filter_appears_within_a_second(page: Page, site: Site):
    open_app(page)
    page.locator("#loans select[name=sectors]").select_option(["CLOTHING"])
    expect_loans(page, site, {"sectors": ["CLOTHING"]})
    expect(page.locator('#loans[data-live="on"]')).to_be_attached()
    name = f"Listed {uuid.uuid4().hex[:6]}"
    elsewhere = site.list_loan(f"{name} (food)", sector="FOOD")
    listed = site.list_loan(name)
    expect(card(page, listed)).to_be_visible(timeout=1000)
    expect(card(page, listed)).to_contain_text(name)
    expect(page.locator(CARDS).first).to_have_attribute("data-id", listed)
    # Events arrive in order: the listing that does not match came first, and is not shown.
    expect(card(page, elsewhere)).to_have_count(0)


def test_a_fill_bar_moves_when_another_lender_lends(page: Page, site: Site):
    loan = site.list_loan(f"Fill {uuid.uuid4().hex[:6]}", amount="500.00")
    open_app(page)
    bar = card(page, loan).locator(".fillbar")
    expect(bar).to_be_visible()
    _, token = site.new_lender("Another Lender")
    lent = site.api(LEND, {"input": {"loanId": loan, "amount": "25.00", "idempotencyKey": uuid.uuid4().hex}}, token)
    funded = lent["data"]["lend"]["loan"]["fundedAmount"]
    expect(bar).to_have_attribute("data-funded", funded)
    expect(bar).to_contain_text(f"${funded} of $500.00 lent")


def test_a_lender_signs_in_lends_25_and_sees_the_balance_change(page: Page, site: Site):
    lender, token = site.new_lender("Browser Lender", deposit="100.00")
    loan = site.list_loan(f"Lend {uuid.uuid4().hex[:6]}")
    open_app(page)
    sign_in(page, token)
    expect(page.locator("#balance")).to_have_text("$100.00")
    card(page, loan).get_by_role("button", name="Lend 25.00").click()
    expect(page.locator("#message")).to_contain_text("You lent $25.00")
    expect(page.locator("#balance")).to_have_text("$75.00")
    me = site.api(SHARES, token=token)["data"]["me"]
    assert me["balance"] == "75.00"
    assert [
        edge["node"]["amount"] for edge in me["portfolio"]["shares"]["edges"] if edge["node"]["loan"]["id"] == loan
    ] == ["25.00"]
    rows = site.sql(
        "SELECT amount_cents FROM share WHERE lender_id = $1 AND loan_id = $2", database_id(lender), database_id(loan)
    )
    assert rows == [{"amount_cents": 2500}]
    # The portfolio follows: one loan, 25.00 lent.
    expect(page.locator("#portfolio .figures")).to_contain_text("Lent$25.00")
    expect(page.locator("#portfolio svg.chart")).to_contain_text("Clothing")  # the loan's sector


def test_a_lend_whose_answer_is_lost_is_sent_again_with_its_key_and_lends_once(
    page: Page, site: Site, console_errors: list[str]
):
    lender, token = site.new_lender("Unlucky Lender", deposit="100.00")
    loan = site.list_loan(f"Retry {uuid.uuid4().hex[:6]}")
    keys: list[str] = []

    def lose_the_first_answer(route: Route, request: Request) -> None:
        body = json.loads(request.post_data or "{}")
        if "lend(" not in body.get("query", ""):
            return route.continue_()
        keys.append(body["variables"]["input"]["idempotencyKey"])
        if len(keys) == 1:
            route.fetch()  # the server lends...
            return route.abort("connectionreset")  # ...and the page never hears of it
        return route.continue_()

    page.route("**/graphql", lose_the_first_answer)
    open_app(page)
    sign_in(page, token)
    card(page, loan).get_by_role("button", name="Lend 25.00").click()
    expect(page.locator("#balance")).to_have_text("$75.00")
    assert len(keys) == 2 and keys[0] == keys[1]
    rows = site.sql("SELECT amount_cents FROM share WHERE lender_id = $1", database_id(lender))
    assert rows == [{"amount_cents": 2500}]
    # The lost answer is the one failed load the console shows.
    assert all("ERR_CONNECTION_RESET" in error or "Failed to load" in error for error in console_errors)
    console_errors.clear()


def test_a_refused_lend_is_explained(page: Page, site: Site):
    _, token = site.new_lender("Empty Lender", deposit="0")
    loan = site.list_loan(f"Refused {uuid.uuid4().hex[:6]}")
    open_app(page)
    sign_in(page, token)
    card(page, loan).get_by_role("button", name="Lend 25.00").click()
    expect(page.locator("#message")).to_have_text("Your credit is $0.00, and this needs $25.00. Add credit first.")
    expect(page.locator("#balance")).to_have_text("$0.00")


def test_the_auto_lend_preview_shows_what_autoLendPreview_returns(page: Page, site: Site):
    _, token = site.new_lender("Rule Maker", deposit="200.00")
    open_app(page)
    sign_in(page, token)
    editor = page.locator("#autolend")
    editor.locator("select[name=sectors]").select_option(["AGRICULTURE", "FOOD"])
    editor.locator("input[name=amountPerLoan]").fill("50")
    editor.locator("input[name=amountPerLoan]").dispatch_event("change")
    editor.get_by_role("button", name="Preview").click()
    rule = {
        "enabled": True,
        "criteria": {"sectors": ["AGRICULTURE", "FOOD"]},
        "amountPerLoan": "50",
        "keepBalance": "0.00",
        "trigger": "IMMEDIATE",
    }
    answer = site.api(PREVIEW, {"input": rule}, token)["data"]["autoLendPreview"]
    assert answer["__typename"] == "AutoLendPreview" and answer["loans"]
    preview = editor.locator('.preview[data-ready="on"]')
    expect(preview.locator(".total")).to_contain_text(f"lend ${answer['total']} now, to {len(answer['loans'])} loans")
    rows = preview.locator("tr")
    expect(rows).to_have_count(len(answer["loans"]))
    assert [row.get_attribute("data-id") for row in rows.all()] == [pick["loan"]["id"] for pick in answer["loans"]]
    assert [row.locator(".amount").inner_text() for row in rows.all()] == [
        f"${pick['amount']}" for pick in answer["loans"]
    ]
    editor.get_by_role("button", name="Save rule").click()
    expect(page.locator("#message")).to_have_text("Your auto-lend rule is saved and on.")
    saved = site.api(RULE, token=token)["data"]["me"]["autoLendRule"]
    assert saved == {"enabled": True, "amountPerLoan": "50.00", "criteria": {"sectors": ["AGRICULTURE", "FOOD"]}}


def test_the_unread_count_follows_new_notifications_and_reads_elsewhere(page: Page, site: Site):
    _, token = site.new_lender("Alert Lender", deposit="0")
    country = site.partner["country"]
    search = {"name": "Tailors", "filter": {"sectors": ["CLOTHING"], "countries": [country]}, "alert": True}
    assert site.api(SAVE_SEARCH, {"input": search}, token)["data"]["saveSearch"]["__typename"] == "SaveSearchSuccess"
    open_app(page)
    sign_in(page, token)
    badge = page.locator("#unread")
    expect(page.locator("#notifications")).to_contain_text("No notifications yet.")
    expect(badge).to_be_hidden()
    name = f"Alert {uuid.uuid4().hex[:6]}"
    site.list_loan(name)
    expect(badge).to_have_text("1")
    expect(page.locator("#notifications li.unread")).to_contain_text(name)
    site.list_loan(f"{name} again")
    expect(badge).to_have_text("2")
    # Read in another client: this page hears of it and shows none unread.
    marked = site.api(MARK_ALL_READ, token=token)["data"]["markNotificationsRead"]
    assert marked == {"__typename": "MarkNotificationsReadSuccess", "unreadCount": 0}
    expect(badge).to_be_hidden()
    expect(page.locator("#notifications li.unread")).to_have_count(0)


def test_a_notification_made_while_the_socket_is_down_is_shown_when_it_reconnects(page: Page, site: Site):
    _, token = site.new_lender("Offline Lender", deposit="0")
    country = site.partner["country"]
    search = {"name": "Tailors", "filter": {"sectors": ["CLOTHING"], "countries": [country]}, "alert": True}
    assert site.api(SAVE_SEARCH, {"input": search}, token)["data"]["saveSearch"]["__typename"] == "SaveSearchSuccess"
    sockets: list[WebSocketRoute] = []
    gap: list[str] = []  # the loan listed while the page had no socket

    def through(socket: WebSocketRoute) -> None:
        if gap == ["now"]:
            # The page is reconnecting: a listing happens before its socket reaches the server.
            gap[0] = site.list_loan(f"While away {uuid.uuid4().hex[:6]}")
        sockets.append(socket)
        socket.connect_to_server()

    page.route_web_socket(re.compile(r"/graphql$"), through)
    open_app(page)
    sign_in(page, token)
    badge = page.locator("#unread")
    site.list_loan(f"Before {uuid.uuid4().hex[:6]}")
    expect(badge).to_have_text("1")
    gap.append("now")
    for socket in sockets:
        socket.close(code=1012, reason="restarting")  # as a server going away would; the page opens them again
    expect(badge).to_have_text("2", timeout=15_000)
    expect(page.locator("#notifications li.unread").first).to_contain_text("While away")
