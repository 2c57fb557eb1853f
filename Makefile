PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install schema migrations clean

$(BIN)/lendgraph: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/lendgraph

run: install
	$(BIN)/lendgraph migrate
	$(BIN)/lendgraph seed-demo
	$(BIN)/lendgraph serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench

schema: install
	$(BIN)/lendgraph export-schema > schema.graphql

# After changing models/: write the next migration (commit it with the change).
migrations: install
	$(BIN)/tortoise -c models.db.TORTOISE_ORM makemigrations
	$(BIN)/python -m models.migration_checks $$(ls models/migrations/0*.py | tail -n 1)

clean:
	rm -rf $(VENV) lendgraph.sqlite3*
