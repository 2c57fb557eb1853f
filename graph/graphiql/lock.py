"""assets.lock.json: GraphiQL's vendored files, each with its version, source and sha384 (graph/graphiql/vendor.py)."""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
LOCK = HERE / "assets.lock.json"
STATIC = HERE / "static"


def sri(algorithm: str, data: bytes) -> str:
    """A Subresource Integrity value (`sha384-<base64>`), as npm's `dist.integrity` and HTML's `integrity=`."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def read_lock(path: Path = LOCK) -> dict[str, Any]:
    lock: dict[str, Any] = json.loads(path.read_text())
    return lock


def served_path(package: dict[str, Any], file: str) -> str:
    """Where a package's file is served from, below static/: the version is in the path."""
    return f"{package['name']}@{package['version']}/{file}"


def locked_files(lock: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(path below static/, sha384 integrity, size in bytes) of every vendored file."""
    return [
        (served_path(package, file["path"]), file["sha384"], file["bytes"])
        for package in lock["packages"]
        for file in package["files"]
    ]


def verify(lock: dict[str, Any], static: Path = STATIC) -> list[str]:
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
