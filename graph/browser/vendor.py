"""The vendored browser files of every bundle (graph/browser/lock.py): check them against their lock, or fetch them.

    python -m graph.browser.vendor verify          # offline: every file is there, with the locked sha384
    python -m graph.browser.vendor fetch           # download the locked tarballs and write the files
    python -m graph.browser.vendor fetch --relock  # after changing a version in a lock: record the new hashes
    python -m graph.browser.vendor fetch webapp    # one bundle only (graphiql, webapp)

`fetch` checks each tarball against the registry's own integrity (sha512) and against the tarball and
integrity recorded in the lock, and each file it takes out against the lock's sha384; any difference
stops it before a file is written. `--relock` records what the registry serves now instead: review the
diff of the lock before committing it. Nothing here runs when the app serves: `make run` needs no node
and no network.
"""

import argparse
import io
import json
import shutil
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from graph.browser.lock import BUNDLES, Bundle, locked_files, read_lock, served_path, sri, verify

TIMEOUT = 60


class Mismatch(Exception):
    """A file, tarball or registry answer differs from the lock."""


def _get(url: str) -> bytes:
    if urllib.parse.urlsplit(url).scheme != "https":
        raise Mismatch(f"{url}: only https is fetched")
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        body: bytes = response.read()
        return body


def fetch(lock: dict[str, Any], *, relock: bool, static: Path) -> dict[str, Any]:
    """Download every package's tarball, check it, write its listed files; the lock as it now stands."""
    registry = lock["registry"].rstrip("/")
    written: dict[str, bytes] = {}
    packages = []
    for package in lock["packages"]:
        name, version = package["name"], package["version"]
        meta = json.loads(_get(f"{registry}/{urllib.parse.quote(name, safe='@')}/{version}"))
        dist = meta["dist"]
        if not relock and (package.get("tarball"), package.get("integrity")) != (dist["tarball"], dist["integrity"]):
            raise Mismatch(f"{name}@{version}: the registry names {dist['tarball']} {dist['integrity']}")
        tarball = _get(dist["tarball"])
        algorithm = dist["integrity"].split("-", 1)[0]
        if sri(algorithm, tarball) != dist["integrity"]:
            raise Mismatch(f"{name}@{version}: the tarball does not match the registry's integrity")
        files = []
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for file in package["files"]:
                path = file if isinstance(file, str) else file["path"]
                member = archive.extractfile(f"package/{path}")
                if member is None:
                    raise Mismatch(f"{name}@{version}: {path} is not a file in the tarball")
                data = member.read()
                entry = {"path": path, "sha384": sri("sha384", data), "bytes": len(data)}
                if not relock and entry != file:
                    raise Mismatch(f"{name}@{version}/{path}: {entry}; the lock says {file}")
                files.append(entry)
                written[served_path(package, path)] = data
        source = {"tarball": dist["tarball"], "integrity": dist["integrity"]}
        packages.append({"name": name, "version": version, **source, "files": files})
    # Everything checked: replace the vendored folders (an old version's folder goes) and write the files.
    names = {package["name"] for package in lock["packages"]}
    static.mkdir(parents=True, exist_ok=True)
    for folder in static.iterdir():
        if folder.is_dir() and folder.name.rpartition("@")[0] in names:
            shutil.rmtree(folder)
    for path, data in written.items():
        (static / path).parent.mkdir(parents=True, exist_ok=True)
        (static / path).write_bytes(data)
    return {**lock, "packages": packages}


def run(bundle: Bundle, command: str, *, relock: bool) -> bool:
    """Fetch (when asked) and verify one bundle; whether its files are as locked."""
    lock = read_lock(bundle.lock)
    if command == "fetch":
        try:
            lock = fetch(lock, relock=relock, static=bundle.static)
        except Mismatch as error:
            print(f"{bundle.name}: nothing written: {error}", file=sys.stderr)
            return False
        if relock:
            bundle.lock.write_text(json.dumps(lock, indent=2) + "\n")
    problems = verify(lock, bundle.static)
    for problem in problems:
        print(f"{bundle.name}: {problem}", file=sys.stderr)
    files = locked_files(lock)
    size = sum(size for _, _, size in files)
    print(f"{bundle.name}: {len(files)} files, {size} bytes", "differ" if problems else "as locked")
    return not problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph.browser.vendor", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["verify", "fetch"])
    names = [bundle.name for bundle in BUNDLES]
    parser.add_argument("bundles", nargs="*", metavar="bundle", help=f"{', '.join(names)} (all when none is named)")
    parser.add_argument("--relock", action="store_true", help="record the hashes the registry serves now")
    args = parser.parse_args(argv)
    if unknown := set(args.bundles) - set(names):
        parser.error(f"no bundle {', '.join(sorted(unknown))}")
    chosen = [bundle for bundle in BUNDLES if not args.bundles or bundle.name in args.bundles]
    results = [run(bundle, args.command, relock=args.relock) for bundle in chosen]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
