"""A private `redis-server` for tests that stop or restart Redis.

Fault tests never touch the shared Redis on 6379: each starts its own server
on a free loopback port (no persistence), stops and starts it on that same
port, and kills only that process, by its pid.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests import services


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server answers PING at host:port (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One private `redis-server` process on a fixed free port, which can be stopped and started again."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="lendgraph-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> str:
        return os.path.join(self._dir, "redis.log")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10) -> None:
        assert not self.running, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                self.log,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not _ping("127.0.0.1", self.port):
            if self.process.poll() is not None:
                self.process = None
                error = Path(self.log).read_text(errors="replace")[-2000:] if os.path.exists(self.log) else ""
                raise RuntimeError(f"redis-server on port {self.port} exited: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")
            time.sleep(0.02)

    def stop(self, timeout: float = 10) -> None:
        """Stop this server (SIGTERM, then SIGKILL) and wait until its port refuses connections."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while _ping("127.0.0.1", self.port, timeout=0.2):
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} still answers after redis-server stopped")
            time.sleep(0.02)

    def subscribers(self, channel: str) -> int:
        """How many connections are subscribed to `channel` on this server (PUBSUB NUMSUB)."""
        import redis

        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2) as client:
            return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


def redis_binary() -> str | None:
    return shutil.which(os.environ.get("REDIS_SERVER", "redis-server"))


@contextlib.contextmanager
def private_redis(*, started: bool = True) -> Iterator[RedisServer]:
    """A private redis-server, started unless `started=False` (then only its port is chosen); skips (or
    fails under REQUIRE_SERVICES=1) without the binary."""
    binary = redis_binary()
    if binary is None:
        services.unavailable("redis-server", "the binary is not on PATH")
    server = RedisServer(binary)
    try:
        if started:
            server.start()
    except (OSError, RuntimeError) as error:
        server.close()
        services.unavailable("redis-server", error)
    try:
        yield server
    finally:
        server.close()
