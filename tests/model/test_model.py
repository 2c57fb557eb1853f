"""The stateful model test: the public API against a plain-Python model of every balance and loan.

CI runs a bounded, derandomized number of examples (the same ones on every run). `make model-test`
sets MODEL_STEPS (100,000 unless given) and runs random examples until the three runs together have
made that many steps, then prints the counts and the commit.

Also read: MODEL_RANDOM=1 (the CI sizes, random examples), MODEL_OUTCOMES=1 (print how often each
call got each answer), MODEL_TRACE=1 (print every call).
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests import services
from tests.model.concurrent import ConcurrentMachine
from tests.model.machine import COUNTS, OUTCOMES, LendingMachine

TARGET = int(os.environ.get("MODEL_STEPS", "0"))  # 0: the CI size
# Of the MODEL_STEPS, what each run makes; in CI, (examples, steps per example).
SHARE = {"sqlite": 0.4, "postgres": 0.3, "concurrent": 0.3}
CI = {"sqlite": (10, 50), "postgres": (8, 50), "concurrent": (8, 40)}
TOTALS: dict[str, dict[str, float]] = {}
# Taken when the run starts: others may commit while it runs.
COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def run(name: str, machine: type[LendingMachine], url: Callable[[], str]) -> None:
    examples, steps = CI[name]
    big = TARGET > 0
    goal = int(TARGET * SHARE[name])
    machine = type(f"{machine.__name__}On{name.title()}", (machine,), {"url": staticmethod(url)})
    before = dict(COUNTS)
    started = time.monotonic()
    while True:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=50 if big else examples,
                stateful_step_count=100 if big else steps,
                deadline=None,
                derandomize=not big and os.environ.get("MODEL_RANDOM") != "1",
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
            ),
        )
        if not big or COUNTS["steps"] - before["steps"] >= goal:
            break
    made = {key: COUNTS[key] - before[key] for key in COUNTS} | {"seconds": time.monotonic() - started}
    TOTALS[name] = made
    if big:
        print(
            f"\nmodel test, {name}: {made['steps']:,.0f} steps ({made['calls']:,.0f} calls) "
            f"in {made['examples']:,.0f} examples, {made['seconds']:.0f} s"
        )


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if (TARGET or os.environ.get("MODEL_OUTCOMES") == "1") and TOTALS:
        steps = sum(t["steps"] for t in TOTALS.values())
        examples = sum(t["examples"] for t in TOTALS.values())
        seconds = sum(t["seconds"] for t in TOTALS.values())
        print(f"\nmodel test: {steps:,.0f} steps in {examples:,.0f} examples, {seconds / 60:.0f} min, at {COMMIT}")
    if os.environ.get("MODEL_OUTCOMES") == "1":
        print("\n".join(f"{count:8,} {what}" for what, count in sorted(OUTCOMES.items())))


class SqliteCopies:
    """A fresh copy of the migrated template for each run of the machine; the last one's is removed
    (its app has stopped), so a long run does not fill the disk."""

    def __init__(self, template: Path, directory: Path) -> None:
        self.template, self.directory, self.last = template, directory, ""

    def __call__(self) -> str:
        if self.last:
            shutil.rmtree(self.last, ignore_errors=True)
        self.last = tempfile.mkdtemp(dir=self.directory)
        return services.sqlite_copy(self.template, Path(self.last))


def test_the_api_agrees_with_the_model_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    run("sqlite", LendingMachine, SqliteCopies(sqlite_template, tmp_path))


def test_the_api_agrees_with_the_model_on_postgres(pg_url: str) -> None:
    run("postgres", LendingMachine, lambda: pg_url)


def test_concurrent_calls_have_a_serial_outcome_on_postgres(pg_url: str) -> None:
    run("concurrent", ConcurrentMachine, lambda: pg_url)
