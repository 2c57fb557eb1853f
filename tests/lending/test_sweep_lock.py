"""One auto-lend sweeper at a time across processes, on PostgreSQL.

The sweep holds a PostgreSQL advisory lock for as long as it runs, on one
connection it keeps for the whole sweep, so the test sweeps in this process
and, meanwhile, in a second process. The pool does not reset connections
(models/db.py), so the sweep must release its lock whatever happens: a lock
left on a pooled connection would stop every later sweep.
"""

import asyncio
import subprocess
import sys

import pytest

from lending import autolend

SWEEP_IN_ANOTHER_PROCESS = """
import asyncio, sys
from datetime import UTC, datetime
from lending import autolend
from models import db

async def main():
    await db.connect(sys.argv[1])
    try:
        print(await autolend.sweep(datetime.now(UTC)))
    finally:
        await db.disconnect()

asyncio.run(main())
"""


async def sweep_elsewhere(url: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SWEEP_IN_ANOTHER_PROCESS, url, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return int(out.decode().strip().splitlines()[-1])


async def test_a_second_process_does_not_sweep_while_the_first_does(pg_api, pg_url, clock, monkeypatch):
    started, release = asyncio.Event(), asyncio.Event()
    real = autolend._sweep

    async def slow_sweep(now):
        started.set()
        await release.wait()  # pooled connections come and go meanwhile
        return await real(now)

    monkeypatch.setattr(autolend, "_sweep", slow_sweep)
    here = asyncio.create_task(autolend.sweep(clock()))
    await started.wait()
    # The pool lends and takes back connections while the sweep runs.
    await asyncio.gather(*(pg_api.register(f"L{i}") for i in range(10)))

    assert await sweep_elsewhere(pg_url) == -1

    release.set()
    assert await here == 0
    assert await sweep_elsewhere(pg_url) == 0


async def test_a_sweep_that_fails_or_is_cancelled_leaves_no_lock_behind(pg_api, pg_url, clock, monkeypatch):
    started = asyncio.Event()

    async def failing_sweep(now):
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(autolend, "_sweep", failing_sweep)
    with pytest.raises(RuntimeError):
        await autolend.sweep(clock())
    assert await sweep_elsewhere(pg_url) == 0

    async def endless_sweep(now):
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(autolend, "_sweep", endless_sweep)
    here = asyncio.create_task(autolend.sweep(clock()))
    await started.wait()
    here.cancel()
    with pytest.raises(asyncio.CancelledError):
        await here
    # The pool lends out its connections again, the sweep's among them.
    await asyncio.gather(*(pg_api.register(f"L{i}") for i in range(10)))
    assert await sweep_elsewhere(pg_url) == 0
