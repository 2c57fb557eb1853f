"""Browser tests: the system's headless Chromium, driven by playwright, against a real `lendgraph serve`.

- `site`: one server for the session, on a fresh PostgreSQL database seeded with the demo data, with
  a private Redis as its bus, as in production; `site.api(...)` calls it over HTTP.
- `page`: a new browser context per test. A request to any host but this machine is aborted and
  recorded (`outside_requests`), as are the page's console errors and uncaught exceptions
  (`console_errors`); a full-page screenshot is saved when the test ends, named after it.
- `screenshot(name)`: a screenshot at any moment. They go to SCREENSHOT_DIR (default
  tests/browser/screenshots/; `make screenshots` writes the README's into tests/browser/readme/).

Chromium is Debian's (`/usr/bin/chromium`, or CHROMIUM=path); playwright never downloads a browser.
Without it, or without PostgreSQL or redis-server, the tests skip (fail with REQUIRE_SERVICES=1).
"""

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    WebSocketRoute,
    sync_playwright,
)

from tests import services
from tests.e2e.server import run_cli, served
from tests.redis_server import private_redis
from tests.test_demo import tokens_in

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).parent / "screenshots")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
VIEWPORT = {"width": 1280, "height": 800}

REGISTER = """mutation($input: RegisterLenderInput!) { registerLender(input: $input) {
  __typename ... on RegisterLenderSuccess { lender { id } token } ... on UserError { message } } }"""
PARTNERS = "{ partners(first: 100) { edges { node { id name country { isoCode } } } } }"
LIST_LOAN = """mutation($input: ListLoanInput!) { listLoan(input: $input) {
  __typename ... on ListLoanSuccess { loan { id } } ... on UserError { message } } }"""
DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) { __typename ... on UserError { message } } }"""


@dataclass
class Site:
    """A running `lendgraph serve` with the demo data.

    `tokens`: the demo's "lender", "partner" and "admin" tokens; `partner`: the partner whose token that
    is (`id`, `name`, `country`: the ISO code it lists loans in).
    """

    base_url: str
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    partner: dict[str, str] = field(default_factory=dict)

    def api(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """POST a GraphQL request to /graphql; the parsed JSON body (`data`, and `errors` if any)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.base_url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
        )
        assert response.headers["content-type"].startswith("application/json"), response.text
        return response.json()

    def sql(self, statement: str, *arguments: Any) -> list[dict[str, Any]]:
        """Run one SQL statement on the site's database; its rows. (In a thread of its own: playwright's
        sync API keeps an event loop running in this one.)"""

        async def run() -> list[dict[str, Any]]:
            connection = await asyncpg.connect(
                self.database_url.split("?")[0].replace("postgres://", "postgresql://", 1)
            )
            try:
                return [dict(row) for row in await connection.fetch(statement, *arguments)]
            finally:
                await connection.close()

        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, run()).result()

    def new_lender(self, name: str, deposit: str = "100.00") -> tuple[str, str]:
        """Register a lender and deposit `deposit` ("0" for none); returns (lender id, token)."""
        email = f"{re.sub(r'[^a-z0-9]+', '.', name.lower()).strip('.') or 'lender'}.{uuid.uuid4().hex[:8]}@example.org"
        registered = self.api(REGISTER, {"input": {"displayName": name, "email": email}})["data"]["registerLender"]
        assert registered["__typename"] == "RegisterLenderSuccess", registered
        lender_id, token = registered["lender"]["id"], registered["token"]
        if Decimal(deposit):
            key = f"deposit-{uuid.uuid4().hex}"
            deposited = self.api(DEPOSIT, {"input": {"amount": deposit, "idempotencyKey": key}}, token)
            assert deposited["data"]["deposit"]["__typename"] == "DepositSuccess", deposited
        return lender_id, token

    def list_loan(self, name: str, **fields: Any) -> str:
        """List a loan as the demo partner; `fields` override the other ListLoanInput fields. Returns its id."""
        loan = {
            "name": name,
            "use": "to buy a sewing machine",
            "countryIsoCode": self.partner["country"],
            "sector": "CLOTHING",
            "gender": "FEMALE",
            "amount": "450.00",
            "termMonths": 12,
            **fields,
        }
        listed = self.api(LIST_LOAN, {"input": loan}, self.tokens["partner"])["data"]["listLoan"]
        assert listed["__typename"] == "ListLoanSuccess", listed
        return listed["loan"]["id"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        services.unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium, or set CHROMIUM=)")
    return CHROMIUM


def demo_partner(site: Site, summary: str) -> dict[str, str]:
    """The partner seed-demo printed a token for (its summary names it), as the API shows it."""
    found = re.search(r"^\s+partner \((.+?)\):", summary, re.MULTILINE)
    assert found, summary
    partners = [edge["node"] for edge in site.api(PARTNERS)["data"]["partners"]["edges"]]
    [partner] = [partner for partner in partners if partner["name"] == found[1]]
    return {"id": partner["id"], "name": partner["name"], "country": partner["country"]["isoCode"]}


@pytest.fixture(scope="session")
def site(chromium: Path) -> Iterator[Site]:
    """`lendgraph serve` on a new PostgreSQL database with the demo data, Redis as its bus; dropped after."""
    try:
        database_url, name = services.create_pg_database()
    except Exception as error:  # any failure to reach the server means "absent"
        services.unavailable("PostgreSQL", error)
    try:
        summary = run_cli("seed-demo", database_url=database_url)
        with private_redis() as redis, served(database_url, env={"BROADCAST_URL": redis.url}) as server:
            site = Site(server.base, database_url, tokens_in(summary))
            site.partner = demo_partner(site, summary)
            yield site
    finally:
        services.drop_pg_database(name)


# Per module: the driver and browser stop before the tests after them (and their event loops) run.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright, chromium: Path) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(executable_path=chromium, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def outside_requests() -> list[str]:
    """URLs the page tried to load from any host but this machine (each one aborted)."""
    return []


@pytest.fixture
def console_errors() -> list[str]:
    """The page's console errors (CSP violations and failed loads among them) and uncaught exceptions."""
    return []


def _outside(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOCAL_HOSTS


@pytest.fixture
def page(
    browser: Browser,
    site: Site,
    request: pytest.FixtureRequest,
    outside_requests: list[str],
    console_errors: list[str],
) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=site.base_url)

    def refuse(route: Route, _: Request) -> None:
        outside_requests.append(route.request.url)
        route.abort("blockedbyclient")

    def refuse_socket(socket: WebSocketRoute) -> None:
        outside_requests.append(socket.url)
        socket.close()

    context.route(_outside, refuse)
    context.route_web_socket(_outside, refuse_socket)
    opened = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    try:
        yield opened
    finally:
        save_screenshot(opened, _file_name(request.node.name))
        context.close()


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Path]:
    """screenshot(name): the whole page now, as SCREENSHOT_DIR/<name>.png."""
    return lambda name: save_screenshot(page, _file_name(name))


def save_screenshot(page: Page, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def _file_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Every test here is a browser test (`-m browser` selects them, `-m 'not browser'` leaves them out)."""
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)
