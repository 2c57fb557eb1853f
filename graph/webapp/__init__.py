"""The lender web app at /app: plain ES modules, CSS and one HTML page, no build step.

It uses the public GraphQL API alone (HTTP POST /graphql; subscriptions with the vendored graphql-ws
client, graphql-transport-ws), as any third-party client could. The page is served under the policy
of graph/browser/serving.py (scripts from 'self' only, no inline script), and preloads every module
with its `integrity=` hash: the vendored client's from assets.lock.json, the app's own from their bytes.
"""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from graph.browser.lock import WEBAPP, locked_files, read_lock, sri
from graph.browser.serving import VersionedFiles, mount_point, page_response

PATH = "/app"
PREFIX = "/app/static"
PAGE = Path(__file__).parent / "index.html"
STATIC = Path(__file__).parent / "static"
VENDOR = WEBAPP.static.relative_to(STATIC)


class WebAppPage:
    """The page, built once from the template, the lock and the modules' bytes."""

    def __init__(self) -> None:
        vendored = {f"{VENDOR}/{path}": integrity for path, integrity, _ in locked_files(read_lock(WEBAPP.lock))}
        own = {
            str(file.relative_to(STATIC)): sri("sha384", file.read_bytes())
            for file in sorted(STATIC.rglob("*"))
            if file.suffix in (".js", ".css") and not file.is_relative_to(WEBAPP.static)
        }
        self.files = {**vendored, **own}
        modules = [path for path in self.files if path.endswith(".js") and path != "main.js"]
        preloads = [f'<link rel="modulepreload" {self._ref(path, "href")} />' for path in modules]
        self.template = (
            PAGE.read_text()
            .replace("{stylesheet}", f'<link rel="stylesheet" {self._ref("app.css", "href")} />')
            .replace("{modulepreloads}", "\n    ".join(preloads))
            .replace("{main}", f'<script type="module" {self._ref("main.js", "src")}></script>')
        )

    def _ref(self, path: str, attribute: str) -> str:
        # {root} is the app's mount point, filled per request.
        return f'{attribute}="{{root}}{PREFIX}/{path}" integrity="{self.files[path]}"'

    def response(self, request: Request) -> Response:
        return page_response(self.template.replace("{root}", mount_point(request)), request)


def webapp_routes() -> list[BaseRoute]:
    """The page at PATH and its files below PREFIX."""
    page = WebAppPage()

    async def webapp(request: Request) -> Response:
        return page.response(request)

    return [Route(PATH, webapp), Mount(PREFIX, app=VersionedFiles(STATIC))]
