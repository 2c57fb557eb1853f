"""What the driver samples while the load runs: each worker's RSS, and CPU by who spent it.

RSS is VmRSS of /proc/<pid>/status of each uvicorn worker, found again at every sample (uvicorn
replaces a worker that dies, under a new pid). CPU seconds come from /proc/<pid>/stat: the server
(its main process and workers), the client processes, and the PostgreSQL backends serving the run's
database (found in pg_stat_activity at every sample; a backend's CPU counts from its first sighting).
The machine's busy CPU (from /proc/stat) shows how much else ran meanwhile.
"""

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.p3_fanout.processes import cpu_seconds, rss_mb, uvicorn_workers


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Samples:
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (s after go, worker pid, MB)
    done: list[tuple[float, int]] = field(default_factory=list)  # (s after go, operations answered so far)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds over the run, by who
    workers_seen: set[int] = field(default_factory=set)
    server_at_rest: float = 0.0  # cores, before the load starts


class Watch:
    def __init__(self, server_pid: int, client_pids: list[int], dsn: str, database: str) -> None:
        self.server_pid, self.client_pids = server_pid, client_pids
        self.dsn, self.database = dsn, database
        self.samples = Samples()
        self.backends: dict[int, tuple[float, float]] = {}  # pid -> (first, last) CPU seconds
        self.first: dict[str, float] = {}

    def _groups(self) -> dict[str, float]:
        workers = uvicorn_workers(self.server_pid)
        return {
            "server": cpu_seconds([self.server_pid, *workers]),
            "clients": cpu_seconds(self.client_pids),
            "machine": machine_busy_seconds(),
        }

    async def at_rest(self, seconds: float) -> float:
        """The server's CPU, in cores, while no operation runs (its timers, the outbox reader, keep-alives)."""
        pids = [self.server_pid, *uvicorn_workers(self.server_pid)]
        before = cpu_seconds(pids)
        await asyncio.sleep(seconds)
        return (cpu_seconds(pids) - before) / seconds

    async def start(self) -> None:
        self.started = time.monotonic()
        self.first = self._groups()
        await self._backends()

    async def _backends(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            pids = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", self.database
            )
        finally:
            await connection.close()
        for row in pids:
            now = cpu_seconds([row["pid"]])
            first, _ = self.backends.get(row["pid"], (now, now))
            self.backends[row["pid"]] = (first, now)

    async def sample(self, since_go: float, done: int) -> list[tuple[int, float]]:
        """One sample; returns each worker's (pid, RSS MB)."""
        found = []
        for pid in uvicorn_workers(self.server_pid):
            mb = rss_mb(pid)
            if mb:
                found.append((pid, mb))
                self.samples.rss.append((since_go, pid, mb))
                self.samples.workers_seen.add(pid)
        self.samples.done.append((since_go, done))
        await self._backends()
        return found

    def finish(self) -> Samples:
        last = self._groups()
        cpu = {name: last[name] - self.first[name] for name in last}
        cpu["postgres"] = sum(last_cpu - first for first, last_cpu in self.backends.values())
        cpu["seconds"] = time.monotonic() - self.started
        self.samples.cpu = cpu
        return self.samples
