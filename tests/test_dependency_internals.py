"""lendgraph imports its dependencies' public API only; their internals go through one adapter each.

graph/strawberry_internals.py holds what graph/ takes from strawberry beyond
its public modules, models/tortoise_internals.py what models/ and lending/
take from tortoise. When an upgrade moves or renames one of those names, or
a method that one of our classes overrides, these tests say which module of
ours to adapt, before anything else fails for a reason harder to read.
"""

import ast
import importlib
import inspect
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("graph", "resolvers", "lending", "models", "subscriptions", "bench", "tests")
ADAPTERS = {
    "graph.strawberry_internals": "graph/strawberry_internals.py",
    "models.tortoise_internals": "models/tortoise_internals.py",
    "graph.uvicorn_internals": "graph/uvicorn_internals.py",
}

# The modules each of these dependencies documents as its API; any other module of theirs is internal.
# Every other dependency: any module whose dotted path has no part starting with an underscore.
PUBLIC_MODULES = {
    "strawberry": {
        "strawberry", "strawberry.asgi", "strawberry.dataloader", "strawberry.exceptions", "strawberry.extensions",
        "strawberry.http", "strawberry.permission", "strawberry.relay", "strawberry.scalars", "strawberry.schema",
        "strawberry.subscriptions", "strawberry.tools", "strawberry.types",
    },
    "tortoise": {
        "tortoise", "tortoise.contrib.test", "tortoise.exceptions", "tortoise.expressions", "tortoise.fields",
        "tortoise.functions", "tortoise.indexes", "tortoise.migrations", "tortoise.migrations.api",
        "tortoise.migrations.constraints", "tortoise.models", "tortoise.queryset", "tortoise.transactions",
    },
    "uvicorn": {"uvicorn"},
    # graphql-core documents its top-level package and its subpackages, not the modules inside them.
    "graphql": {
        "graphql", "graphql.error", "graphql.execution", "graphql.language", "graphql.pyutils", "graphql.type",
        "graphql.utilities", "graphql.validation",
    },
}  # fmt: skip

# Names our subclasses of a dependency's class add of their own (every other public one overrides).
OWN_ATTRIBUTES = {
    ("graph.http", "GraphQLOverHTTP", "refusal"),
    ("graph.http", "GraphQLOverHTTP", "plain_post"),
    ("graph.http", "GraphQLOverHTTP", "answer"),
    ("graph.direct_fields", "DirectExecution", "resolve_info"),
    # What a selection's written code (graph.selection_code) calls back.
    ("graph.direct_fields", "DirectExecution", "usual_field"),
    ("graph.direct_fields", "DirectExecution", "execute_direct"),
    ("graph.direct_fields", "DirectExecution", "complete_direct"),
    ("graph.direct_fields", "DirectExecution", "selection_runner"),
    ("graph.direct_fields", "DirectExecution", "settled"),
    ("graph.direct_fields", "DirectExecution", "execute_steps"),
    ("graph.loaders", "RowCache", "know"),
    ("graph.loaders", "RowCache", "know_later"),
    ("graph.loaders", "RowLoader", "prime_later"),
    ("lending.filters", "_KeywordQ", "word"),
    ("models.pool", "BoundedAsyncpgClient", "fetch"),
}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_files() -> list[Path]:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return [path for path in files if "migrations" not in path.relative_to(ROOT).parts]


@cache
def _imports(path: Path) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(line, module, names) of every absolute import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, tuple(alias.name for alias in node.names)))
    return tuple(found)


@cache
def _declared() -> frozenset[str]:
    """The distributions lendgraph declares (every extra included), with those its extras bring."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    declared = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?", requirement)
        assert match is not None, requirement
        name = _normalized(match.group(1))
        declared.add(name)
        for extra in filter(None, (e.strip() for e in (match.group(2) or "").split(","))):
            for dependency in metadata.requires(name) or []:
                if re.search(rf"extra\s*==\s*[\"']{re.escape(extra)}[\"']", dependency):
                    declared.add(_normalized(re.split(r"[\s;<>=!~\[(]", dependency.strip(), maxsplit=1)[0]))
    return frozenset(declared)


@cache
def _distributions_of_packages() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    return {_normalized(d) for d in _distributions_of_packages().get(module.split(".")[0], [])}


def _problem(module: str) -> str | None:
    """Why importing `module` reaches into a dependency's internals, or None."""
    top = module.split(".")[0]
    if top in PACKAGES or top in sys.stdlib_module_names:
        return None
    if not _distributions(module) & _declared():
        return f"{top} is no dependency of lendgraph (pyproject.toml), only of one of its dependencies"
    if any(part.startswith("_") for part in module.split(".")):
        return "a private module"
    public = PUBLIC_MODULES.get(top)
    if public is not None and module not in public:
        return f"not one of the modules {top} documents"
    return None


def test_no_module_reaches_into_a_dependency_outside_the_adapters():
    found = []
    for path in _source_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative in ADAPTERS.values():
            continue
        for line, module, _ in _imports(path):
            problem = _problem(module)
            if problem is not None:
                found.append(f"{relative}:{line} imports {module}: {problem}")
    assert not found, (
        "Import dependencies' public API only; when an internal is unavoidable, import it through "
        f"{' or '.join(ADAPTERS.values())} and say why there:\n" + "\n".join(found)
    )


def _adapter_names() -> list[tuple[str, str, str]]:
    """(adapter, module, name) for every name an adapter imports from a dependency."""
    return [
        (adapter, module, name)
        for adapter, file in ADAPTERS.items()
        for _, module, names in _imports(ROOT / file)
        if module.split(".")[0] not in (*PACKAGES, *sys.stdlib_module_names)
        for name in names
    ]


def _users(adapter: str, name: str) -> list[str]:
    return [
        path.relative_to(ROOT).as_posix()
        for path in _source_files()
        if any(module == adapter and name in names for _, module, names in _imports(path))
    ]


def _version(module: str) -> str:
    distribution = next(iter(sorted(_distributions(module))), module.split(".")[0])
    return f"{distribution} {metadata.version(distribution)}"


@pytest.mark.parametrize(("adapter", "module", "name"), _adapter_names(), ids=lambda value: value)
def test_every_internal_an_adapter_names_is_still_where_it_was(adapter: str, module: str, name: str):
    users = ", ".join(_users(adapter, name))
    through = f"{users} (it comes through {ADAPTERS[adapter]})" if users else ADAPTERS[adapter]
    moved = f"{_version(module)} moved {module}.{name}: adapt {through}"
    try:
        found = importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{moved}; importing {module} fails: {error}")
    assert hasattr(found, name), moved


def test_tortoise_still_takes_the_private_keyword_that_shares_connections_between_tasks():
    keyword = "_enable_global_fallback"
    assert keyword in inspect.signature(Tortoise.init).parameters, (
        f"{_version('tortoise')} no longer takes Tortoise.init({keyword}=...): request tasks would not reach "
        "the connections the lifespan opened. Adapt init_for_every_task in models/tortoise_internals.py."
    )


def test_strawberry_still_resolves_plain_fields_by_the_resolver_graph_execution_recognises():
    import strawberry

    from graph.strawberry_internals import BASIC_RESOLVER, graphql_core_schema, plain_attribute

    @strawberry.type
    class Query:
        name: str = "plain"

    field = graphql_core_schema(strawberry.Schema(query=Query)).type_map["Query"].fields["name"]  # type: ignore[union-attr]
    assert plain_attribute(field) == "name", (
        f"{_version('strawberry')} no longer gives a plain field the resolver {BASIC_RESOLVER} with its "
        "definition in the field's extensions: graph/execution.py answers no field itself any more. "
        "Adapt plain_attribute in graph/strawberry_internals.py."
    )


def test_strawberry_still_calls_resolvers_as_graph_direct_fields_does():
    import strawberry

    from graph.strawberry_internals import EXCEPTION_HANDLERS, SYNC_RESOLVER, direct_resolver, graphql_core_schema

    @strawberry.type
    class Query:
        @strawberry.field
        def answer(self, info: strawberry.Info) -> int:
            return 42

    field = graphql_core_schema(strawberry.Schema(query=Query)).type_map["Query"].fields["answer"]  # type: ignore[union-attr]
    found = direct_resolver(field)
    assert found is not None and found.takes_source and found.info_name == "info", (
        f"{_version('strawberry')} no longer resolves a field with a resolver of its own by {SYNC_RESOLVER}, "
        f"its exception handlers in the closure as {EXCEPTION_HANDLERS}: graph/direct_fields.py answers no "
        "object directly any more. Adapt direct_resolver in graph/strawberry_internals.py."
    )


def test_tortoise_models_still_have_the_constructor_for_rows_read_from_the_database():
    from tortoise.models import Model

    assert inspect.ismethod(getattr(Model, "_init_from_db", None)), (
        f"{_version('tortoise')} no longer has Model._init_from_db: rows read by our own SQL cannot become "
        "instances. Adapt instance_from_row in models/tortoise_internals.py."
    )
    from models import Loan

    sorted_columns = ("db_native_fields", "db_default_fields", "db_complex_fields", "generated_db_fields")
    missing = [name for name in (*sorted_columns, "db_pk_column") if not hasattr(Loan._meta, name)]
    assert not missing, (
        f"{_version('tortoise')} no longer sorts a model's columns as _init_from_db reads them ({missing}). "
        "Adapt instance_from_row in models/tortoise_internals.py."
    )


async def test_uvicorn_still_has_the_connection_state_a_wire_reads():
    import asyncio
    from types import SimpleNamespace

    import uvicorn

    from graph.uvicorn_internals import WebSocketsSansIOProtocol, Wire, wire_of

    # What the protocol reads of uvicorn's server state, which uvicorn does not publish either.
    server_state: Any = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    config = uvicorn.Config(app=None, ws="websockets-sansio")
    protocol = WebSocketsSansIOProtocol(config, server_state, {}, _loop=asyncio.get_running_loop())
    read = ("close_sent", "disconnected", "writable", "conn", "transport", "send")
    missing = [name for name in read if not hasattr(protocol, name)]
    assert not missing and hasattr(protocol.conn, "state") and hasattr(protocol.conn, "extensions"), (
        f"{_version('uvicorn')}'s websockets-sansio protocol no longer keeps {missing or 'its connection state'}: "
        "live events cannot be written straight to sockets. Adapt Wire in graph/uvicorn_internals.py."
    )
    assert isinstance(wire_of(protocol.send), Wire), (
        f"{_version('uvicorn')}: the ASGI send of a websockets-sansio connection is no longer its protocol's "
        "bound method. Adapt wire_of in graph/uvicorn_internals.py."
    )
    # What SocketProtocol replaces or overrides: its queue and flag, the handshake it lets go, its pings.
    replaced = ("queue", "writable", "loop", "ping_interval", "last_ping_rtt")
    overridden = ("start_keepalive", "schedule_ping", "stop_keepalive", "send_keepalive_ping", "handle_connect")
    missing = [name for name in (*replaced, *overridden) if not hasattr(protocol, name)]
    assert not missing, (
        f"{_version('uvicorn')}'s websockets-sansio protocol no longer has {missing}. "
        "Adapt SocketProtocol in graph/uvicorn_internals.py."
    )


def _our_subclasses_of_dependencies() -> list[tuple[type, type]]:
    """(our class, the dependency's class it extends) for each class of ours that extends one."""
    from strawberry.types import has_object_definition
    from tortoise.models import Model

    found = []
    for path in _source_files():
        relative = path.relative_to(ROOT)
        # graph/asgi.py is an entry point: importing it builds an app and tunes the garbage collector.
        if relative.parts[0] in ("tests", "bench") or relative.as_posix() == "graph/asgi.py":
            continue
        module = importlib.import_module(".".join(relative.with_suffix("").parts).removesuffix(".__init__"))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            # GraphQL types and tables declare fields, not overrides; graphql-core checks its visitors' names itself.
            if has_object_definition(cls) or issubclass(cls, Model):
                continue
            bases = [
                b
                for b in cls.__mro__[1:]
                if b.__module__.split(".")[0] in ("strawberry", "cross_web", "broadcaster", "tortoise")
            ]
            if bases:
                found.append((cls, bases[0]))
    return found


def test_every_method_our_classes_override_is_still_there_to_override():
    """A method an upgrade renames would silently stop being called: our override would be dead code."""
    gone = [
        f"{_version(base.__module__)}: {base.__module__}.{base.__qualname__} has no `{name}` any more, which "
        f"{cls.__module__}.{cls.__qualname__} overrides: adapt {cls.__module__.replace('.', '/')}.py"
        for cls, base in _our_subclasses_of_dependencies()
        for name in vars(cls)
        if not name.startswith("_")
        and (cls.__module__, cls.__qualname__, name) not in OWN_ATTRIBUTES
        and not hasattr(base, name)
    ]
    assert not gone, "\n".join(gone)
