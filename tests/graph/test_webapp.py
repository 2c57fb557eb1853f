"""The lender web app at /app (graph/webapp), served by the app itself, checked without a browser.

The page loads only same-origin files, each with an `integrity=` hash, under the same strict policy as
GraphiQL (no inline script). Every module the page imports, and every module those import, is served
as JavaScript and exports the names imported from it, so a broken import fails here. Every GraphQL
document in the modules is valid against the schema: the app uses the public API and nothing else.
tests/browser/test_app.py drives the same page in Chromium.
"""

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from graphql import parse, validate

from graph.browser.lock import WEBAPP, locked_files, read_lock, sri
from graph.browser.serving import content_security_policy
from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema
from graph.webapp import PATH, PREFIX, STATIC, VENDOR
from tests import es_modules, services
from tests.api import Api
from tests.clock import FakeClock
from tests.conftest import serve

JAVASCRIPT = "text/javascript; charset=utf-8"
# Any absolute or protocol-relative URL: the page names none (data: is no host).
OFF_HOST = re.compile(r"(?i)\b(?:https?|wss?|ftp):|(?<![:\w])//[\w.-]")
# A URL with a host in a module; SVG's namespace names no place to fetch from.
URL_IN_MODULE = re.compile(r"(?i)\b(?:https?|wss?|ftp)://(?!www\.w3\.org/2000/svg\b)")


class Page(HTMLParser):
    """What a page loads (scripts, stylesheets, module preloads) with their integrity, and what runs inline."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: dict[str, tuple[str, str | None]] = {}  # url -> (how, integrity)
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline += [name for name, _ in attrs if name.startswith("on") or name == "style"]
        if tag == "script":
            assert values.get("src"), "an inline script"
            self.loaded[values["src"]] = (f"script {values.get('type')}", values.get("integrity"))
        elif tag == "link" and values.get("rel") != "icon":
            self.loaded[values["href"] or ""] = (values.get("rel") or "", values.get("integrity"))


@pytest.fixture
async def app_api(sqlite_template: Path, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Api]:
    # The page does not touch the database: one engine is enough.
    async with serve(services.sqlite_copy(sqlite_template, tmp_path), clock) as client:
        yield client


async def get_page(api: Api) -> tuple[str, Page]:
    response = await api.http.get(PATH)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    page = Page()
    page.feed(response.text)
    return response.text, page


async def test_the_page_is_served_under_the_policy_graphiql_has(app_api):
    response = await app_api.http.get(PATH)
    assert response.headers["content-security-policy"] == content_security_policy("test")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "connect-src 'self' ws://test wss://test;" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_page_loads_only_same_origin_files_each_checked_by_its_hash(app_api):
    html, page = await get_page(app_api)
    assert not OFF_HOST.search(html), OFF_HOST.search(html)
    assert page.inline == []
    locked = {f"{PREFIX}/{VENDOR}/{path}": integrity for path, integrity, _ in locked_files(read_lock(WEBAPP.lock))}
    own = {f"{PREFIX}/{path.relative_to(STATIC)}" for path in STATIC.glob("*.js")}
    # One stylesheet and one module to run; every other module preloaded with its hash, vendored ones too.
    assert page.loaded[f"{PREFIX}/main.js"][0] == "script module"
    assert page.loaded[f"{PREFIX}/app.css"][0] == "stylesheet"
    assert set(page.loaded) == {*locked, *own, f"{PREFIX}/app.css"}
    for url, (_, integrity) in page.loaded.items():
        assert integrity, url
        served = await app_api.http.get(url)
        assert served.status_code == 200, url
        expected = "text/css; charset=utf-8" if url.endswith(".css") else JAVASCRIPT
        assert served.headers["content-type"] == expected, url
        assert served.headers["x-content-type-options"] == "nosniff"
        assert sri(integrity.split("-", 1)[0], served.content) == integrity, url
        if url in locked:
            # The vendored files are the locked ones, at a path with their version: cached for a year.
            assert integrity == locked[url]
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        else:
            assert served.headers["cache-control"] == "no-cache", url
            assert not URL_IN_MODULE.search(served.text), url


async def test_every_module_the_page_imports_is_served_and_exports_what_is_imported(app_api):
    _, page = await get_page(app_api)
    main = f"{PREFIX}/main.js"
    seen: dict[str, es_modules.Module] = {}
    wanted: list[tuple[str, str, set[str]]] = []  # (importer, url, names)
    queue = [main]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        served = await app_api.http.get(url)
        assert served.status_code == 200, url
        assert served.headers["content-type"] == JAVASCRIPT, url
        seen[url] = module = es_modules.read(served.text)
        for specifier, names in module.imports.items():
            # Relative specifiers only: a browser resolves a bare one ("graphql-ws") to nothing without an import map.
            assert specifier.startswith(("./", "../")), (url, specifier)
            target = urljoin(url, specifier)
            wanted.append((url, target, names))
            queue.append(target)
    for importer, url, names in wanted:
        assert names <= seen[url].exports, (importer, url, names - seen[url].exports)
    # Every module the page runs was preloaded with its hash: none is fetched unchecked.
    assert set(seen) == {url for url, (how, _) in page.loaded.items() if url.endswith(".js")}
    assert len(seen) == len(list(STATIC.glob("*.js"))) + len(locked_files(read_lock(WEBAPP.lock)))


def constants(source: str) -> dict[str, str]:
    """A module's string constants (`const NAME = "..."` or a template), with ${OTHER} filled in."""
    values: dict[str, str] = {}
    for match in re.finditer(r'(?ms)^const (\w+) =\s*(?:`([^`]*)`|"([^"\n]*)");', source):
        text = match[2] if match[2] is not None else match[3]
        values[match[1]] = re.sub(r"\$\{(\w+)\}", lambda name: values[name[1]], text)
    return values


DOCUMENTS = [
    (path.name, name, text)
    for path in sorted(STATIC.glob("*.js"))
    for name, text in constants(path.read_text()).items()
    if re.match(r"\s*(query|mutation|subscription)\b", text)
]


def test_the_modules_hold_the_documents_they_send():
    # The app's own reads and writes: browsing, signing in, lending, the portfolio, auto-lending, notifications.
    operations = {re.match(r"\s*(\w+)\s+(\w+)", text).group(2) for _, _, text in DOCUMENTS}  # type: ignore[union-attr]
    assert {"Loans", "Listed", "Progress", "Me", "Register", "Lend", "Portfolio", "Preview", "SaveRule"} <= operations
    assert {"Events", "MarkAllRead", "Deposit", "Notifications", "Rule", "Countries"} <= operations


@pytest.mark.parametrize(("module", "name", "document"), DOCUMENTS, ids=[f"{m}:{n}" for m, n, _ in DOCUMENTS])
def test_every_document_of_the_app_is_valid_against_the_public_schema(module, name, document):
    errors = validate(graphql_core_schema(schema), parse(document))
    assert errors == [], (module, name, [error.message for error in errors])
    assert not re.search(r"\b__(schema|type)\b", document), "introspection"


async def test_without_the_web_app_neither_page_nor_files_are_served(sqlite_template, tmp_path, clock):
    async with serve(services.sqlite_copy(sqlite_template, tmp_path), clock, webapp=False) as api:
        assert (await api.http.get(PATH)).status_code == 404
        assert (await api.http.get(f"{PREFIX}/main.js")).status_code == 404
