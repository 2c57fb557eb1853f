"""Tuning of serving processes."""

import gc
import subprocess
import sys

from graph.runtime import tune_garbage_collector
from graph.settings import Settings


def test_a_serving_process_collects_young_objects_less_often():
    before = gc.get_threshold()
    try:
        tune_garbage_collector(50_000)
        assert gc.get_threshold() == (50_000, before[1], before[2])
        tune_garbage_collector(0)  # 0 leaves the threshold alone
        assert gc.get_threshold() == (50_000, before[1], before[2])
    finally:
        gc.set_threshold(*before)


def test_the_threshold_comes_from_the_environment():
    assert Settings().gc_threshold == 50_000
    assert Settings.from_env({"GC_THRESHOLD": "0"}).gc_threshold == 0


def test_uvicorn_workers_are_tuned_when_they_import_the_app(tmp_path):
    """`uvicorn graph.asgi:app` (what `serve --workers N` runs in each worker) tunes its process."""
    probe = "import gc, graph.asgi; print(gc.get_threshold()[0])"
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/probe.sqlite3", "GC_THRESHOLD": "12345", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "12345"
