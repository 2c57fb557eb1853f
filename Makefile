PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The uv that `make lock` resolves with; only `make lock` installs it.
UV_VERSION := 0.13.9

.PHONY: run test check model-test screenshots bench load install lock schema migrations browser-assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs exactly what requirements.lock lists, every file checked against its hash, then
# lendgraph itself (editable, built by the locked setuptools). Runs again when the lock or
# pyproject.toml changes. pip check fails when the lock no longer satisfies lendgraph's
# dependencies (pip does not check extras): run `make lock`. The stamp is written last, so a
# failed install runs again.
$(VENV)/installed.stamp: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	touch $@

install: $(VENV)/installed.stamp

# Resolves pyproject.toml (every extra, and the build backend in [build-system]) into
# requirements.lock, for every platform, keeping each pin that still fits the bounds.
# `make lock UPGRADE="strawberry-graphql tortoise-orm"` moves those packages to the newest
# releases the bounds allow; `make lock UPGRADE=all` moves every package.
UPGRADE ?=
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		> $(VENV)/build-system-requires.txt
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --all-extras --generate-hashes \
		--custom-compile-command 'make lock' \
		$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p))) \
		pyproject.toml $(VENV)/build-system-requires.txt -o requirements.lock

run: install
	$(BIN)/lendgraph migrate
	$(BIN)/lendgraph seed-demo
	$(BIN)/lendgraph serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest -q

# Lint, formatting and types; CI runs it before the tests (.ci/run).
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

model-test: install
	MODEL_STEPS=$${MODEL_STEPS:-100000} REQUIRE_SERVICES=1 $(BIN)/pytest -q -s tests/model

# The browser tests (tests/browser), saving their screenshots where README.md shows them.
screenshots: install
	SCREENSHOT_DIR=tests/browser/readme REQUIRE_SERVICES=1 $(BIN)/pytest -q tests/browser

bench: install
	$(BIN)/python -m bench

# The load run (bench/README.md, "Load run"): the realistic mix at RATE operations/s for DURATION seconds
# against `lendgraph serve --workers 2` on PostgreSQL + Redis; report.md, report.json and rss.png in OUT.
# Fails on an untyped error or books that do not balance.
RATE ?= 220
DURATION ?= 1800
OUT ?= load-report
load: install
	$(BIN)/python -m bench.load --rate $(RATE) --duration $(DURATION) --out $(OUT)

schema: install
	$(BIN)/lendgraph export-schema > schema.graphql

# The vendored browser files of GraphiQL (graph/graphiql/static) and of the lender web app
# (graph/webapp/static/vendor), fetched again from the npm registry: every tarball and file is checked
# against its bundle's assets.lock.json before anything is written. To move a version, change it in
# the lock and run `make browser-assets RELOCK=1` (it records the new hashes).
RELOCK ?=
browser-assets: install
	$(BIN)/python -m graph.browser.vendor fetch $(if $(RELOCK),--relock)

# After changing models/: write the next migration (commit it with the change).
migrations: install
	$(BIN)/tortoise -c models.db.TORTOISE_ORM makemigrations
	$(BIN)/python -m models.migration_checks $$(ls models/migrations/0*.py | tail -n 1)

clean:
	rm -rf $(VENV) lendgraph.sqlite3*
