"""`python -m bench.load` (what `make load` runs), briefly and slowly: every operation of the mix runs
against a real `lendgraph serve --workers 2` on PostgreSQL and Redis, and the report says so."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from bench.common import pg_reachable
from bench.load.mix import OPS
from tests import services
from tests.redis_server import private_redis

pytestmark = pytest.mark.e2e

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_short_load_run_reports_every_operation_each_worker_and_balanced_books(tmp_path):
    reason = asyncio.run(pg_reachable(services.PG_SERVER))
    if reason:
        services.unavailable("PostgreSQL", reason)
    every_operation_alike = ",".join(f"{op}=1" for op in OPS)  # so that each one runs in a few seconds
    with private_redis() as redis:
        done = subprocess.run(
            [
                sys.executable, "-m", "bench.load", "--rate", "20", "--duration", "10", "--warmup", "2",
                "--mix", every_operation_alike, "--lenders", "60", "--loans", "30", "--funded", "6",
                "--subscriptions", "12", "--sample", "1", "--redis", redis.url, "--out", str(tmp_path),
            ],
            env={**os.environ, "BENCH_POSTGRES_URL": services.PG_SERVER},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())

    assert {op for op, figures in report["ops"].items() if figures["classes"].get("ok")} == set(OPS), report["ops"]
    assert report["untyped_errors"] == 0, report["errors"]
    assert report["books"]["ok"], report["books"]["problems"]
    assert report["books"]["figures"]["sum of balances (cents)"] == 0
    assert report["books"]["figures"]["transfers"] > 0
    assert sum(report["streams"]["loanListed"]["events"].values()) > 0, report["streams"]

    assert len(report["rss"]) == 2, report["rss"]  # --workers 2, neither replaced
    for worker in report["rss"].values():
        assert worker["samples"] >= 5 and worker["last_mb"] > 0, worker
    assert (tmp_path / "rss.png").read_bytes()[: len(PNG_SIGNATURE)] == PNG_SIGNATURE
    assert "| browse |" in (tmp_path / "report.md").read_text()
