"""The vendored browser files: each bundle's lock (assets.lock.json), its files' sources and sha384s.

A bundle is one lock and the folder its files are written to (graph/browser/vendor.py fetches them):
GraphiQL's (React, ReactDOM, GraphiQL) and the lender web app's (the graphql-ws client).
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRAPH = Path(__file__).parent.parent


@dataclass(frozen=True)
class Bundle:
    """One lock and the folder below which its packages' files are served, as `<name>@<version>/<path>`."""

    name: str
    lock: Path
    static: Path


GRAPHIQL = Bundle("graphiql", GRAPH / "graphiql" / "assets.lock.json", GRAPH / "graphiql" / "static")
WEBAPP = Bundle("webapp", GRAPH / "webapp" / "assets.lock.json", GRAPH / "webapp" / "static" / "vendor")
BUNDLES = (GRAPHIQL, WEBAPP)


def sri(algorithm: str, data: bytes) -> str:
    """A Subresource Integrity value (`sha384-<base64>`), as npm's `dist.integrity` and HTML's `integrity=`."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def read_lock(path: Path) -> dict[str, Any]:
    lock: dict[str, Any] = json.loads(path.read_text())
    return lock


def served_path(package: dict[str, Any], file: str) -> str:
    """Where a package's file is served from, below its bundle's folder: the version is in the path."""
    return f"{package['name']}@{package['version']}/{file}"


def locked_files(lock: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(path below the bundle's folder, sha384 integrity, size in bytes) of every vendored file."""
    return [
        (served_path(package, file["path"]), file["sha384"], file["bytes"])
        for package in lock["packages"]
        for file in package["files"]
    ]


def verify(lock: dict[str, Any], static: Path) -> list[str]:
    """The problems with the vendored files on disk (none when each is there with its locked hash)."""
    problems = []
    for path, integrity, size in locked_files(lock):
        file = static / path
        if not file.is_file():
            problems.append(f"{path}: missing")
            continue
        data = file.read_bytes()
        if sri("sha384", data) != integrity or len(data) != size:
            problems.append(f"{path}: {len(data)} bytes, {sri('sha384', data)}; the lock says {size}, {integrity}")
    return problems
