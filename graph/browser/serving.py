"""How the browser pages and their files are served: one Content-Security-Policy, caching by path.

- The policy allows scripts and styles from 'self' alone (no inline script), requests to 'self' and
  WebSockets to the same host, and data: for fonts and images (graphiql.min.css embeds its own).
- A file whose path has a version in it (`graphiql@4.1.2/...`) never changes there and is cached for
  a year; a page's own files are revalidated (ETag) on every load.
"""

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
# A Host header fit to name in the policy (name or address, optional port); anything else is left out.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The pages' policy. WebSockets are named with the host: CSP's 'self' covers ws: only in newer browsers."""
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


def page_response(html: str, request: Request) -> HTMLResponse:
    """A page with its policy: never cached without revalidation, never sniffed, sends no referrer."""
    headers = {
        "Content-Security-Policy": content_security_policy(request.headers.get("host")),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)


def mount_point(request: Request) -> str:
    """The app's mount point, as an HTML attribute value (the app may be served below a path)."""
    root: str = request.scope.get("root_path", "").rstrip("/")
    return root.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


class VersionedFiles(StaticFiles):
    """A folder of static files, with caching by path: a versioned file for a year, others after revalidation."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = any("@" in part for part in path.split("/")[:2])
        response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
