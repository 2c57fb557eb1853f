"""Real `lendgraph` processes for end-to-end tests."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.p3_fanout.processes import uvicorn_workers

LENDGRAPH = Path(sys.executable).with_name("lendgraph")


def run_cli(*args: str, database_url: str) -> str:
    """Run a `lendgraph` command; return its stdout (it must succeed)."""
    done = subprocess.run(
        [str(LENDGRAPH), *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    """A running `lendgraph serve`: its base URL, its process and its log (stderr)."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def served(database_url: str, *extra: str, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[Served]:
    """`lendgraph serve` on a free loopback port, once every worker is up; stopped by pid afterwards.

    Its stderr goes to a file, not a pipe: a server that logs much (a fault test's) never blocks
    on a pipe nobody reads.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lendgraph-serve-") as directory:
        log = Path(directory) / "stderr.log"
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                [
                    str(LENDGRAPH),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    *extra,
                ],
                env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        server = Served(f"http://127.0.0.1:{port}", process, log)
        try:
            deadline = time.monotonic() + 60
            while not _up(server, workers):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {server.logged()[-3000:]}")
                time.sleep(0.1)
            yield server
        except BaseException:
            # Shown with the failure: what the server logged before it.
            logged = server.logged()
            first_internal = max(logged.find("internal error "), 0)  # the likeliest cause, with its traceback
            sys.stderr.write(f"--- lendgraph serve's log ---\n{logged[first_internal:][:20000]}\n")
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _up(server: Served, workers: int) -> bool:
    try:
        if httpx.get(f"{server.base}/health", timeout=1).status_code != 200:
            return False
    except httpx.TransportError:
        return False
    # uvicorn starts its workers one after another: /health answers once the first is up.
    return workers == 1 or len(uvicorn_workers(server.process.pid)) >= workers


@contextmanager
def serving(database_url: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`lendgraph serve` on a free loopback port; yields its base URL and stops it by pid."""
    with served(database_url, *extra, env=env) as server:
        yield server.base
