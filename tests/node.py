"""Node.js scripts the tests run (the reference graphql-ws client, graphql-http's audit suite).

Each lives in a folder with a package.json and a package-lock.json of exact versions; its packages
are installed once, with `npm ci`, into a cache named by the lock's hash.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests import services

MIN_NODE = 20


def node_script(folder: Path, script: str) -> list[str]:
    """The command that runs `folder/script` with the folder's pinned packages installed."""
    node = shutil.which("node")
    if node is None:
        services.unavailable("Node.js", f"`node` is not on PATH ({folder.name}/{script} needs node and npm)")
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.fail(f"{script} runs on Node.js {MIN_NODE} or later; found {version}")
    lock = (folder / "package-lock.json").read_bytes()
    default = Path.home() / ".cache" / "lendgraph" / f"js-{hashlib.sha256(lock).hexdigest()[:16]}"
    home = Path(os.environ.get("LENDGRAPH_JS_CACHE", default))
    if not (home / "node_modules" / ".package-lock.json").exists():
        _install(folder, home)
    shutil.copy(folder / script, home / script)  # the script resolves its imports from `home`
    return [node, str(home / script)]


def _install(folder: Path, home: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"Node.js is installed but npm is not: cannot install {folder}")
    home.parent.mkdir(parents=True, exist_ok=True)
    # Install beside the cache and move it in place: an interrupted install leaves no half-filled cache.
    with tempfile.TemporaryDirectory(dir=home.parent) as scratch:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(folder / name, scratch)
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"]
        done = subprocess.run(command, check=False, cwd=scratch, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"`npm ci` in {folder} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        if home.exists():
            shutil.rmtree(home)
        os.replace(scratch, home)
        os.mkdir(scratch)  # for TemporaryDirectory's own cleanup
