"""GraphiQL, served by the app itself: no CDN, no network, no third-party origin.

- The page (page.html) is answered by LendGraphQL.render_graphql_ide for a browser's GET /graphql.
  It names only same-origin files, each with an `integrity=` hash: the vendored ones from
  assets.lock.json (a file changed on disk does not run), page.js and page.css from their bytes.
- Its Content-Security-Policy allows scripts and styles from 'self' alone, requests to 'self' and
  WebSockets to the same host, and data: for the fonts and icons graphiql.min.css embeds.
- The files are under static/ (vendor.py fetches and checks the vendored ones), served at PREFIX by
  StaticFiles: a path with a version in it (`graphiql@4.1.2/...`) never changes and is cached for a
  year; page.js and page.css are revalidated (ETag) on every load.
"""

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from graph.graphiql.lock import LOCK, STATIC, locked_files, read_lock, sri

PREFIX = "/static/graphiql"
PAGE = Path(__file__).parent / "page.html"
# Loaded in this order: GraphiQL's UMD bundle expects React and ReactDOM as globals.
SCRIPTS = ("react@", "react-dom@", "graphiql@", "page.js")
IMMUTABLE = "public, max-age=31536000, immutable"
# A Host header fit to name in the policy (name or address, optional port); anything else is left out.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The page's policy. WebSockets are named with the host: CSP's 'self' covers ws: only in newer browsers."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "font-src 'self' data:",  # graphiql.min.css embeds its fonts
            "img-src 'self' data:",  # and a few icons
            f"connect-src 'self'{sockets}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class GraphiQLPage:
    """The page, built once from the lock and the template; answered per request with its headers."""

    def __init__(self) -> None:
        files = {path: integrity for path, integrity, _ in locked_files(read_lock(LOCK))}
        for own in ("page.js", "page.css"):
            files[own] = sri("sha384", (STATIC / own).read_bytes())
        self.files = files
        scripts = [path for start in SCRIPTS for path in files if path.startswith(start) and path.endswith(".js")]
        styles = sorted((path for path in files if path.endswith(".css")), key=lambda path: path == "page.css")
        links = [f'<link rel="stylesheet" {self._ref(path, "href")} />' for path in styles]
        tags = [f"<script {self._ref(path, 'src')}></script>" for path in scripts]
        self.template = (
            PAGE.read_text().replace("{stylesheets}", "\n    ".join(links)).replace("{scripts}", "\n    ".join(tags))
        )

    def _ref(self, path: str, attribute: str) -> str:
        # {root} is the app's mount point, filled per request (the app may be served below a path).
        return f'{attribute}="{{root}}{PREFIX}/{path}" integrity="{self.files[path]}"'

    def response(self, request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        html = self.template.replace("{root}", _attribute(root))
        headers = {
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(html, headers=headers)


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


class GraphiQLFiles(StaticFiles):
    """static/, with caching by path: a versioned file for a year, the page's own after revalidation."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = "@" in path.split("/", 1)[0]
        response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
