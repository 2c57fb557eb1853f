"""The third-party browser files the app serves are the ones locked, in every bundle (graph/browser/lock.py).

Each bundle's assets.lock.json names, per npm package, its pinned version, tarball and the registry's
integrity, and each file's sha384; the files on disk must match, and nothing unlocked may sit among them.
The pages' tests (tests/security/test_graphiql_page.py, tests/graph/test_webapp.py) check that what is
served is these bytes, under these hashes.
"""

from pathlib import Path

import pytest

from graph.browser import vendor
from graph.browser.lock import BUNDLES, GRAPHIQL, WEBAPP, Bundle, locked_files, read_lock, verify

# Files of a bundle's folder that are the page's own, not vendored.
OWN = {GRAPHIQL.name: {"page.js", "page.css"}, WEBAPP.name: set()}


@pytest.mark.parametrize("bundle", BUNDLES, ids=[bundle.name for bundle in BUNDLES])
def test_the_vendored_files_are_the_locked_ones(bundle: Bundle):
    lock = read_lock(bundle.lock)
    assert verify(lock, bundle.static) == []
    # The lock records where each came from: a pinned npm tarball and the registry's integrity for it.
    for package in lock["packages"]:
        name, version = package["name"], package["version"]
        assert package["tarball"] == f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
        assert package["integrity"].startswith("sha512-")
        assert all(file["sha384"].startswith("sha384-") for file in package["files"])
    # Nothing is served that the lock does not list, but for the page's own files.
    on_disk = {str(path.relative_to(bundle.static)) for path in bundle.static.rglob("*") if path.is_file()}
    assert on_disk == {path for path, _, _ in locked_files(lock)} | OWN[bundle.name]


def test_a_changed_file_is_reported_and_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    lock = read_lock(WEBAPP.lock)
    [(path, _, size), *_] = locked_files(lock)
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_bytes(b"x" * size)
    problems = verify(lock, tmp_path)
    assert problems[0].startswith(f"{path}: {size} bytes, sha384-")
    assert len(problems) == len(locked_files(lock))  # the others are missing
    copy = Bundle("webapp", WEBAPP.lock, tmp_path)
    assert vendor.run(copy, "verify", relock=False) is False
    assert "differ" in capsys.readouterr().out
    assert vendor.run(WEBAPP, "verify", relock=False) is True
