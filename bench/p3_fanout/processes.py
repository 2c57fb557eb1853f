"""The processes P3 starts and watches: its client processes, and what /proc says of the servers'."""

import asyncio
import contextlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.p3_fanout.client import Received
from bench.p3_fanout.workload import Spec

# The repository root: `python -m bench.p3_fanout` runs from there.
ROOT = str(Path(__file__).resolve().parents[2])


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


def uvicorn_workers(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned by multiprocessing; not its resource tracker)."""
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sockets(pid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    count += 1
    return count


async def wait_idle(pids: list[int], *, quiet: float = 0.1, limit: float = 30.0) -> None:
    """Until the processes use under `quiet` of a core for a second (the server finished setting up)."""
    deadline = time.monotonic() + limit
    calm = 0
    while time.monotonic() < deadline and calm < 2:
        before = cpu_seconds(pids)
        await asyncio.sleep(0.5)
        calm = calm + 1 if cpu_seconds(pids) - before < quiet * 0.5 else 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Connected:
    """What the client processes report once every subscriber tried to connect."""

    connected: int
    seconds: float  # the slowest process's
    failures: dict[str, int]  # connections that failed three times, by reason
    cpu: float


@dataclass
class _ClientProcess:
    """A client process and its pipes (made with PIPE: never None), one JSON line each way."""

    process: asyncio.subprocess.Process
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader

    async def send(self, line: str) -> None:
        self.stdin.write(line.encode() + b"\n")
        await self.stdin.drain()

    async def read(self, seconds: float) -> dict[str, Any]:
        line = await asyncio.wait_for(self.stdout.readline(), seconds)
        if not line:
            raise RuntimeError(f"a client process ended early (exit code {await self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply


class Clients:
    """The client processes; each connects its share of the subscribers."""

    def __init__(self, processes: int) -> None:
        self.count = processes
        self.procs: list[_ClientProcess] = []

    async def connect(self, port: int, path: str, specs: list[Spec], hot_ids: list[str]) -> Connected:
        texts = [(i, spec.subscribe(hot_ids)) for i, spec in enumerate(specs)]
        for n in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.p3_fanout",
                "client",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=1 << 24,
                cwd=ROOT,
            )
            assert process.stdin is not None and process.stdout is not None
            proc = _ClientProcess(process, process.stdin, process.stdout)
            self.procs.append(proc)
            config = {
                "host": "127.0.0.1",
                "port": port,
                "path": path,
                "concurrency": 64,
                "subscribers": texts[n :: self.count],
            }
            await proc.send(json.dumps(config))
        replies = [await p.read(600) for p in self.procs]
        failures: dict[str, int] = {}
        for reply in replies:
            for reason, n in reply["failures"].items():
                failures[reason] = failures.get(reason, 0) + n
        return Connected(
            connected=sum(r["ready"] for r in replies),
            seconds=max(r["seconds"] for r in replies),
            failures=failures,
            cpu=sum(r["cpu"] for r in replies),
        )

    async def received(self) -> tuple[int, int]:
        counts = []
        for proc in self.procs:
            await proc.send("count")
            counts.append(await proc.read(60))
        return sum(c["count"] for c in counts), sum(c["lost"] for c in counts)

    async def collect(self) -> list[Received]:
        found: list[Received] = []
        with tempfile.TemporaryDirectory(prefix="lendgraph_p3_") as directory:
            for n, proc in enumerate(self.procs):
                target = Path(directory) / f"client{n}.pickle"
                await proc.send(f"collect {target}")
                await proc.read(120)
                found.append(pickle.loads(target.read_bytes()))
        return found

    async def close(self) -> None:
        for proc in self.procs:
            if proc.process.returncode is None:
                with contextlib.suppress(Exception):
                    await proc.send("exit")
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.process.wait(), 20)
            except TimeoutError:
                proc.process.kill()
                await proc.process.wait()
        self.procs = []


async def await_deliveries(clients: Clients, expected: int, *, quiet: float = 5.0, limit: float = 120.0) -> float:
    """Until every expected message arrived, or nothing new came for `quiet` seconds; return the wait."""
    started = time.monotonic()
    last_count, last_change = -1, started
    while time.monotonic() - started < limit:
        count, _ = await clients.received()
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - started
