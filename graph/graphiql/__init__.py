"""GraphiQL, served by the app itself: no CDN, no network, no third-party origin.

- The page (page.html) is answered by LendGraphQL.render_graphql_ide for a browser's GET /graphql.
  It names only same-origin files, each with an `integrity=` hash: the vendored ones from
  assets.lock.json (a file changed on disk does not run), page.js and page.css from their bytes.
- It is served under the policy of graph/browser/serving.py, which also caches the files by path.
- The files are under static/ (graph/browser/vendor.py fetches and checks the vendored ones), served at PREFIX.
"""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from graph.browser.lock import GRAPHIQL, locked_files, read_lock, sri
from graph.browser.serving import content_security_policy, mount_point, page_response

__all__ = ["PREFIX", "STATIC", "GraphiQLPage", "content_security_policy"]

PREFIX = "/static/graphiql"
PAGE = Path(__file__).parent / "page.html"
STATIC = GRAPHIQL.static
# Loaded in this order: GraphiQL's UMD bundle expects React and ReactDOM as globals.
SCRIPTS = ("react@", "react-dom@", "graphiql@", "page.js")


class GraphiQLPage:
    """The page, built once from the lock and the template; answered per request with its headers."""

    def __init__(self) -> None:
        files = {path: integrity for path, integrity, _ in locked_files(read_lock(GRAPHIQL.lock))}
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
        # {root} is the app's mount point, filled per request.
        return f'{attribute}="{{root}}{PREFIX}/{path}" integrity="{self.files[path]}"'

    def response(self, request: Request) -> Response:
        return page_response(self.template.replace("{root}", mount_point(request)), request)
