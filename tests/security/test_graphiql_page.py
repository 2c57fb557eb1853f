"""GraphiQL served by the app itself (graph/graphiql): nothing loaded from another origin, nothing unchecked.

A browser's GET /graphql gets our page. Every script and stylesheet it names is a same-origin path
with an `integrity=` hash, served here with its media type, and the bytes served match that hash and,
for the vendored files, the sha384 recorded in graph/graphiql/assets.lock.json. The page's
Content-Security-Policy allows scripts and styles from 'self' only and connections to this host.
A GraphQL client's GET with a query still gets JSON. With GRAPHIQL off neither page nor files are served.
"""

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.browser.lock import GRAPHIQL, locked_files, read_lock, sri
from graph.graphiql import PREFIX, content_security_policy
from tests import services
from tests.api import Api
from tests.clock import FakeClock
from tests.conftest import serve

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
MEDIA_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}
# Any absolute or protocol-relative URL: the page and our own script may name none (data: is no host).
OFF_HOST = re.compile(r"(?i)\b(?:https?|wss?|ftp):|(?<![:\w])//[\w.-]")


class References(HTMLParser):
    """The URLs a page loads (script src, link href) with their integrity attributes, and every attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: dict[str, str | None] = {}
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.attributes += [value for value in values.values() if value]
        url = values.get("src") if tag == "script" else values.get("href") if tag == "link" else None
        if url is not None and values.get("rel") != "icon":
            self.loaded[url] = values.get("integrity")


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


@pytest.fixture
async def page_api(sqlite_template: Path, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Api]:
    # The page does not touch the database: one engine is enough.
    async with serve(services.sqlite_copy(sqlite_template, tmp_path), clock) as client:
        yield client


async def test_the_page_loads_only_same_origin_files_each_checked_by_its_hash(page_api):
    page = await page_api.http.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert not OFF_HOST.search(page.text), OFF_HOST.search(page.text)
    references = References()
    references.feed(page.text)
    assert not [value for value in references.attributes if OFF_HOST.search(value)]
    locked = {f"{PREFIX}/{path}": integrity for path, integrity, _ in locked_files(read_lock(GRAPHIQL.lock))}
    # Every vendored file, and our own script and stylesheet; nothing else.
    assert set(references.loaded) == {*locked, f"{PREFIX}/page.js", f"{PREFIX}/page.css"}
    total = 0
    for url, integrity in references.loaded.items():
        assert url.startswith(f"{PREFIX}/") and integrity, url
        served = await page_api.http.get(url)
        assert served.status_code == 200, url
        media = served.headers["content-type"].split(";")[0]
        assert media in MEDIA_TYPES[Path(url).suffix], (url, media)
        assert served.headers["x-content-type-options"] == "nosniff"
        assert sri(integrity.split("-", 1)[0], served.content) == integrity, url
        if url in locked:
            assert integrity == locked[url] and integrity.startswith("sha384-")
            # The version is in the path: the file never changes there.
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
            total += len(served.content)
        else:
            assert served.headers["cache-control"] == "no-cache", url
            assert not OFF_HOST.search(served.text), (url, OFF_HOST.search(served.text))
            # Not versioned: the browser revalidates it, and gets 304 while it has not changed.
            again = await page_api.http.get(url, headers={"If-None-Match": served.headers["etag"]})
            assert again.status_code == 304
    assert total == sum(size for _, _, size in locked_files(read_lock(GRAPHIQL.lock)))


async def test_the_page_allows_scripts_and_styles_from_this_origin_only(page_api):
    page = await page_api.http.get("/graphql", headers={"Accept": "text/html"})
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    # The fonts and icons graphiql.min.css embeds as data: URLs.
    assert policy["font-src"] == policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'", "ws://test", "wss://test"]  # HTTP and WebSocket, this host only
    assert policy["frame-ancestors"] == policy["base-uri"] == policy["form-action"] == ["'none'"]
    assert page.headers["cache-control"] == "no-cache"


@given(st.text())
def test_no_host_header_widens_the_policy(host):
    policy = directives(content_security_policy(host))
    assert list(policy) == [
        "default-src",
        "script-src",
        "style-src",
        "font-src",
        "img-src",
        "connect-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    ]
    assert policy["script-src"] == policy["style-src"] == ["'self'"]
    sockets = policy["connect-src"][1:]
    assert sockets in ([], [f"ws://{host}", f"wss://{host}"])
    assert all(re.fullmatch(r"wss?://[\w.:\[\]-]+", source) for source in sockets), sockets


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", BROWSER])
async def test_a_get_with_a_query_is_a_graphql_request_not_the_page(page_api, accept):
    headers = {"Accept": accept} if accept else {}
    response = await page_api.http.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "content-security-policy" not in response.headers


async def test_a_get_that_accepts_only_json_gets_no_page(page_api):
    response = await page_api.http.get("/graphql", headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json; charset=utf-8"


async def test_without_graphiql_neither_page_nor_files_are_served(sqlite_template, tmp_path, clock):
    async with serve(services.sqlite_copy(sqlite_template, tmp_path), clock, graphiql=False) as api:
        assert (await api.http.get("/graphql", headers={"Accept": BROWSER})).status_code == 404
        for path, _, _ in locked_files(read_lock(GRAPHIQL.lock)):
            assert (await api.http.get(f"{PREFIX}/{path}")).status_code == 404
        assert (await api.http.get(f"{PREFIX}/page.js")).status_code == 404
