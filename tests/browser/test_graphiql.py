"""GraphiQL at /graphql in a real browser: it renders, runs what is typed, documents the schema, and
follows a subscription over graphql-transport-ws, loading nothing from any other host."""

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from models.outbox import Event
from tests.browser.conftest import Site

EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response"
RUN = "Execute query (Ctrl-Enter)"
FUNDRAISING = "{ loans(filter: {statuses: [FUNDRAISING]}) { totalCount } }"
LISTED = 'subscription { loanListed(after: "%s") { eventId loan { name amount } } }'


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(outside_requests: list[str], console_errors: list[str]):
    """After each test: the page asked no other host for anything and logged no error."""
    yield
    assert outside_requests == []
    assert console_errors == []


def open_graphiql(page: Page) -> None:
    page.goto("/graphql")
    expect(page.locator(EDITOR)).to_be_visible()


def type_operation(page: Page, operation: str) -> None:
    """Replace the editor's text with `operation`, as a person pasting it would."""
    page.locator(EDITOR).click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.insert_text(operation)
    # GraphiQL reads the operation's kind (query or subscription) a moment after an edit, when it
    # also calls page.js's onEditQuery, which puts the text in the URL: wait for that, as a person would.
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("q") == [operation])


def shown_json(page: Page) -> dict:
    """The response pane's JSON as shown (CodeMirror indents with no-break spaces)."""
    return json.loads(page.locator(RESPONSE).inner_text().replace("\xa0", " "))


def newest_event_id(site: Site) -> str:
    """The newest event's id in the outbox: a subscription's `after` to start from now."""
    [row] = site.sql(f"SELECT max(id) AS id FROM {Event._meta.db_table}")
    return str(row["id"])


def test_graphiql_renders_and_runs_its_example_query(page: Page, site: Site, screenshot):
    loans = site.api("{ loans(first: 1) { totalCount edges { node { name } } } }")["data"]["loans"]
    open_graphiql(page)
    expect(page).to_have_title("lendgraph GraphiQL")
    expect(page.locator(EDITOR)).to_contain_text("loans(first: 5)")
    page.get_by_role("button", name=RUN).click()

    response = page.locator(RESPONSE)
    expect(response).to_contain_text(re.compile(rf'"totalCount":\s*{loans["totalCount"]}\b'))
    # Newest first, as the API sorts by default.
    expect(response).to_contain_text(json.dumps(loans["edges"][0]["node"]["name"]))
    screenshot("graphiql")


def test_a_query_typed_into_graphiql_shows_the_api_s_answer(page: Page, site: Site):
    expected = site.api(FUNDRAISING)["data"]["loans"]["totalCount"]
    assert expected > 0  # the demo data has loans fundraising
    open_graphiql(page)
    type_operation(page, FUNDRAISING)
    page.get_by_role("button", name=RUN).click()

    response = page.locator(RESPONSE)
    expect(response).to_contain_text(re.compile(rf'"totalCount":\s*{expected}\b'))
    assert shown_json(page) == {"data": {"loans": {"totalCount": expected}}}


def test_the_docs_explorer_shows_a_type_s_description(page: Page, site: Site):
    described = site.api('{ __type(name: "Loan") { description } }')["data"]["__type"]["description"]
    open_graphiql(page)
    page.get_by_role("button", name="Show Documentation Explorer").click()
    explorer = page.locator(".graphiql-doc-explorer")
    explorer.get_by_role("combobox").fill("Loan")
    explorer.get_by_role("option", name=re.compile(r"^Loan\b")).first.click()
    expect(explorer.locator(".graphiql-doc-explorer-title")).to_have_text("Loan")
    # The first sentence, as GraphiQL renders the Markdown.
    expect(explorer).to_contain_text(described.split(". ")[0])


def test_a_subscription_in_graphiql_receives_a_loan_listed_through_the_api(page: Page, site: Site):
    # From the newest event on: the loan listed below arrives even if it is listed before
    # GraphiQL's socket has subscribed (nothing tells a client when the server has).
    since = newest_event_id(site)
    open_graphiql(page)
    type_operation(page, LISTED % since)
    page.get_by_role("button", name=RUN).click()
    # Running, GraphiQL offers to stop: the subscription is open on the WebSocket.
    expect(page.get_by_role("button", name="Stop query (Ctrl-Enter)")).to_be_visible()

    name = f"Wanjiru {uuid.uuid4().hex[:6]}"
    site.list_loan(name, amount="450.00")

    response = page.locator(RESPONSE)
    expect(response).to_contain_text(name)
    event = shown_json(page)["data"]["loanListed"]
    assert event["loan"] == {"name": name, "amount": "450.00"}
    assert int(event["eventId"]) > int(since)
