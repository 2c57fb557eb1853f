"""The import graph README's Layout section describes, checked on the source.

- models/ imports nothing of lendgraph's; lending/ (the domain) imports only models/.
- The GraphQL layer (graph/, resolvers/, subscriptions/) reads rows through models/ but never
  writes one: every change goes through lending/, where the rules, the ledger and the outbox are.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"graph", "resolvers", "lending", "models", "subscriptions"}
ALLOWED = {"models": {"models"}, "lending": {"lending", "models"}}
WRITES = {"save", "create", "update", "delete", "bulk_create", "bulk_update", "in_transaction", "atomic"}
# The demo seed runs lending/'s own functions inside one transaction, to be fast: a script, not the API.
WRITERS_ALLOWED = {"graph/demo/seed.py"}


def modules(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_the_domain_and_the_models_import_only_what_lies_below_them(package):
    wrong = [
        f"{path} imports {name}"
        for path, tree in modules(package)
        for name in imported(tree)
        if name.split(".")[0] in OURS - ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_graphql_layer_changes_rows_only_through_the_domain():
    wrong = [
        f"{path}:{node.lineno} calls {node.func.attr}()"
        for path, tree in modules("graph", "resolvers", "subscriptions")
        if path not in WRITERS_ALLOWED
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES
        if not (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "headers")
    ]
    assert not wrong, "\n".join(wrong)
