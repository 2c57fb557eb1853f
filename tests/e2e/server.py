"""Real `lendgraph` processes for end-to-end tests."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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


@contextmanager
def serving(database_url: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`lendgraph serve` on a free loopback port; yields its base URL and stops it by pid."""
    port = free_port()
    process = subprocess.Popen(
        [str(LENDGRAPH), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
