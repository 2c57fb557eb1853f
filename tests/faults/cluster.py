"""A private PostgreSQL cluster for the fault tests: restarted, filled and stopped at will.

The shared server on 5432 serves other people's runs: the fault tests never
touch it. They make their own cluster with Debian's binaries
(/usr/lib/postgresql/*/bin, or the directory in PG_BIN) in a temporary
directory, on a free loopback port, with few connections (so that the
exhaustion test can take them all), and remove it at the end. `initdb`
refuses to run as root: as root, every command runs as the `postgres` OS
user. Without the binaries the tests skip, or fail under REQUIRE_SERVICES=1
(tests/services.py).
"""

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from lending.ledger import prepare_database
from tests import services
from tests.e2e.server import free_port

MAX_CONNECTIONS = 40
TEMPLATE = "lendgraph_template"
# Durability is not under test: a cluster that never syncs starts and restarts faster.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": str(MAX_CONNECTIONS),
    "superuser_reserved_connections": "0",
    "log_min_messages": "warning",
}


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl: PG_BIN, or the newest of Debian's."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """One PostgreSQL cluster in a temporary directory; `restart` is how a test restarts "the database"."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lendgraph-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres", **query: str) -> str:
        suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}{suffix}"

    def _run(self, *command: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as_postgres, str(self.bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            logged = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {done.stderr[-2000:]}{logged}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\n")
            conf.writelines(f"{name} = '{value}'\n" for name, value in SETTINGS.items())

    def start(self) -> None:
        # -w: returns once the server accepts connections.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once, as an operator's restart does; `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down: float = 0.0) -> None:
        """Stop, stay down `down` seconds, start again."""
        self.stop()
        time.sleep(down)
        self.start()

    async def create_database(self, name: str) -> str:
        """A migrated database, copied from the template (which `prepare` made once)."""
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def prepare(self) -> None:
        """The template every test's database is copied from: migrated, with its world accounts."""
        asyncio.run(self._admin(f"CREATE DATABASE {TEMPLATE}"))
        asyncio.run(prepare_database(self.url(TEMPLATE)))

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self.url().replace("postgres://", "postgresql://", 1), timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A started private cluster with the template database; skips (or fails) without the binaries."""
    bin_dir = binaries()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        services.unavailable("PostgreSQL's initdb", "not in /usr/lib/postgresql/*/bin nor in PG_BIN")
    cluster = Cluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        cluster.prepare()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        cluster.close()
        services.unavailable("a private PostgreSQL cluster", error)
    try:
        yield cluster
    finally:
        cluster.close()
