"""A selection's fields written out as one function, for the executor's common case.

graph/direct_fields.py's executor answered an object's selection field by field in a loop: for each
field a call to read a plain value and another to coerce it, or a call to complete a direct object.
A portfolio page of 100 shares runs that loop 400 times over the same four selections. Here each
selection (an object type and its fields by response name) that clients send again is written out
once per process as straight-line code, as dataclasses writes a class's `__init__` and graphql-jit
compiles a query to code: an attribute read by name, a string kept as it is, any other leaf value
coerced by its type's own function, a direct object completed by its own selection's runner.
Anything unusual (a null where null is refused, a value its type refuses, a resolver that fails or
gives something to await, any other kind of field) goes the executor's general way for that field,
so answers and errors stay graphql-core's (tests/graph/test_plain_fields.py and
test_direct_fields.py compare them). A selection sent once so far is answered by the executor's
loop, and the code of a bounded number is kept (tests/graph/test_selection_code.py).
"""

from binascii import b2a_base64
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from graphql import GraphQLObjectType, GraphQLString, Undefined
from graphql.pyutils import Path, gather_with_cancel

from graph.plain_fields import AWAITABLE_TYPES, PlainField, is_awaitable, unawaited
from graph.strawberry_internals import TYPE_CAST_ATTRIBUTE

# A field of a selection: its response name, graphql-core's field details, how it is answered if plain, the
# direct object (graph.direct_fields.DirectObject) if it is one, and a cell for the runner of its selection.
Step = tuple[str, Any, PlainField | None, Any, list[Any]]
# An object's selection, run by an execution on one source at `path`: the dict of its fields, or an awaitable
# of it. The execution is an argument, not bound: an execution keeps its runners, and a runner holding it
# would make a reference cycle of every request, left for the garbage collector. A selection's code is
# shared by every execution; a runner binds it to one execution's steps (functools.partial).
Runner = Callable[["Execution", Any, Path], Any]


class Execution(Protocol):
    """What the written code calls back (graph.direct_fields.DirectExecution)."""

    def usual_field(self, parent_type: GraphQLObjectType, source: Any, details: Any, path: Path, context: Any) -> Any:
        """graphql-core's execute_field."""

    def execute_direct(
        self, target: Any, parent_type: GraphQLObjectType, source: Any, details: Any, path: Path, context: Any
    ) -> Any:
        """A direct object's field."""

    def complete_direct(
        self, target: Any, parent_type: GraphQLObjectType, details: Any, path: Path, value: Any, lazy: Any, context: Any
    ) -> Any:
        """A direct object's field from its value read."""

    def selection_runner(self, object_type: GraphQLObjectType, details: Any) -> "Runner":
        """The runner of an object field's selection."""

    async def settled(self, completed: Any, return_type: Any, details: Any, path: Path) -> Any:
        """A field's completed value awaited, null with its error handled if it fails."""

    def handle_field_error(self, error: Exception, return_type: Any, details: Any, path: Path) -> None:
        """graphql-core's: an error located at `path`, or raised further if null is refused there."""

    def execute_steps(
        self, parent_type: GraphQLObjectType, source: Any, path: Path, steps: list["Step"], context: Any
    ) -> Any:
        """A selection's fields in a loop: what its written code does, for one sent once so far."""

    def settle_in_background(self, awaitables: Any) -> None:
        """graphql-core's: awaits what is left when a field's error fails the whole object."""


# The code of each selection, by the id of its object type and its response and field names: written once per
# process, the second time the selection is sent. Any client may send new ones (every alias, every order of
# fields makes one), so at most WRITTEN_LIMIT are kept, the least recently used let go. Which fields are plain
# or direct depends on the type and the field names alone.
WRITTEN_LIMIT = 2048
_WRITTEN: OrderedDict[tuple[int, tuple[str, ...]], tuple[GraphQLObjectType, Callable[..., Any]]] = OrderedDict()
# The selections sent once so far (as many at most): written when sent again.
_SEEN: OrderedDict[tuple[int, tuple[str, ...]], GraphQLObjectType] = OrderedDict()
_new_path: Callable[[type[Path], tuple[Any, str | int, str | None]], Path] = tuple.__new__


def runner(parent_type: GraphQLObjectType, steps: list[Step], shape: tuple[str, ...]) -> Runner:
    """The selection `steps` of `parent_type` as one function of an execution, a source and its path, given
    the steps (their field details are an execution's own). `shape`: each step's response name and field
    name, in turn."""
    key = (id(parent_type), shape)
    found = _WRITTEN.get(key)
    if found is not None and found[0] is parent_type:
        _WRITTEN.move_to_end(key)
        return partial(found[1], steps)
    if _SEEN.pop(key, None) is not parent_type:
        # Sent for the first time: the executor's loop answers it. Writing and compiling a selection's code
        # costs a hundred microseconds a field, which a client sending ever new selections would make the
        # server pay at every request.
        _SEEN[key] = parent_type
        while len(_SEEN) > WRITTEN_LIMIT:
            _SEEN.popitem(last=False)
        return partial(_looped, parent_type, steps)
    found = _WRITTEN[key] = (parent_type, _written(parent_type, steps))
    while len(_WRITTEN) > WRITTEN_LIMIT:
        _WRITTEN.popitem(last=False)
    return partial(found[1], steps)


def _looped(parent_type: GraphQLObjectType, steps: list[Step], execution: "Execution", source: Any, path: Path) -> Any:
    """A selection sent once so far, answered by the executor's loop over its steps."""
    return execution.execute_steps(parent_type, source, path, steps, None)


def written_selections() -> int:
    """How many selections' code this process keeps (at most WRITTEN_LIMIT)."""
    return len(_WRITTEN)


def _written(parent_type: GraphQLObjectType, steps: list[Step]) -> Callable[..., Any]:
    """The function running a selection, `run(steps, execution, source, path)`."""
    from graph.direct_fields import LazyInfo  # which imports this module

    names: dict[str, Any] = {
        "parent_type": parent_type,
        "Undefined": Undefined,
        "Path": Path,
        "new_path": _new_path,
        "is_awaitable": is_awaitable,
        "awaitable_types": AWAITABLE_TYPES,
        "unawaited": unawaited,
        "b2a_base64": b2a_base64,
        "awaited": awaited,
        "usual": _usual,
        "LazyInfo": LazyInfo,
    }
    run = ["def run(steps, execution, source, path):", "    results = {}", "    pending = None", "    try:"]
    for index, (name, _, plain, direct, _) in enumerate(steps):
        where = f"new_path(Path, (path, {name!r}, {parent_type.name!r}))"
        usual = [f"pending = usual(execution, parent_type, source, steps[{index}], {where}, results, pending)"]
        if direct is not None and not direct.is_list:
            code = _direct(index, name, direct, where, names)
        elif direct is not None:
            names[f"direct{index}"] = direct
            code = [
                f"v = execution.execute_direct(direct{index}, parent_type, source, steps[{index}][1], {where}, None)",
                *_kept(name),
            ]
        elif plain is not None:
            code = _plain(index, name, plain, parent_type, usual, names)
        else:
            code = usual
        run.extend("        " + line for line in code)
    if not steps:  # a selection whose fields were all skipped (@skip, @include)
        run.append("        pass")
    run += [
        "    except Exception:",
        "        if pending:  # settle the other fields' awaitables: they may fail too",
        "            execution.settle_in_background([results[key] for key in pending])",
        "        raise",
        "    return results if pending is None else awaited(results, pending)",
    ]
    exec(compile("\n".join(run) + "\n", f"<selection of {parent_type.name}>", "exec"), names)
    found: Callable[..., Any] = names["run"]
    return found


def _direct(index: int, name: str, direct: Any, where: str, names: dict[str, Any]) -> list[str]:
    """Lines answering a direct object (not a list) as the executor's execute_direct does: an instance of the
    class its type accepts, not cast, completed by its selection's runner (found at the first one, kept
    in the step's cell for the execution), anything else by the executor's complete_direct."""
    names |= {
        f"direct{index}": direct,
        f"read{index}": direct.read,
        f"passes{index}": direct.passes,
        f"type{index}": direct.field.type,
        f"object_type{index}": direct.object_type,
    }
    failed = [
        "except Exception as error:",
        f"    execution.handle_field_error(error, type{index}, details, where)",
        "    v = None",
    ]
    if direct.needs_info:
        lazy = f"lazy = LazyInfo(execution, direct{index}, details, parent_type, where)"
        read = f"v = read{index}(source, lazy)"
    else:
        lazy = "lazy = None"
        read = f"v = getattr(source, {direct.attribute!r})" if direct.attribute else f"v = read{index}(source, None)"
    return [
        f"where = {where}",
        f"details = steps[{index}][1]",
        lazy,
        "try:",
        f"    {read}",
        *failed,
        "else:",
        f"    if type(v) is passes{index} and getattr(v, {TYPE_CAST_ATTRIBUTE!r}, None) is None:",
        f"        cell = steps[{index}][4]",
        "        if cell:",
        "            sub = cell[0]",
        "        else:",
        f"            sub = execution.selection_runner(object_type{index}, details)",
        "            cell.append(sub)",
        "        try:",
        "            v = sub(execution, v, where)",
        "            if type(v) is not dict and type(v) is not list and is_awaitable(v):",
        f"                v = execution.settled(v, type{index}, details, where)",
        *["        " + line for line in failed],
        "    else:",
        f"        v = execution.complete_direct(direct{index}, parent_type, details, where, v, lazy, None)",
        *_kept(name),
    ]


def _kept(name: str) -> list[str]:
    """Lines keeping a field's completed value `v` (Undefined: left out), noting it when it is to be awaited."""
    return [
        "if v is not Undefined:",
        f"    results[{name!r}] = v",
        "    if type(v) is not dict and type(v) is not list and is_awaitable(v):",
        "        if pending is None:",
        "            pending = []",
        f"        pending.append({name!r})",
    ]


def _plain(
    index: int, name: str, plain: PlainField, parent_type: GraphQLObjectType, usual: list[str], names: dict[str, Any]
) -> list[str]:
    """Lines answering a plain field as graph.plain_fields.plain_value does, `usual` where it would hand the
    field to graphql-core."""
    attribute, leaf, refuses_null, resolve = plain
    if resolve is None:
        code = [f"v = getattr(source, {attribute!r}, Undefined)"]
    else:
        names[f"resolve{index}"] = resolve
        code = [
            "try:",
            f"    v = resolve{index}(source)",
            "except Exception:",
            "    v = Undefined",
            "else:",
            "    if awaitable_types.get(type(v)) is not False and unawaited(v):",
            "        v = Undefined",
        ]
    if leaf is None:  # a relay id
        # strawberry's to_base64 of the type's name and the id, without its calls: the same bytes.
        global_id = f"b2a_base64(({parent_type.name + ':'!r} + str(v)).encode(), newline=False).decode()"
        branches = [("v is None or v is Undefined", usual), ("", [f"results[{name!r}] = {global_id}"])]
        return code + _branches(branches)
    branches = []
    if not refuses_null:
        branches.append(("v is None", [f"results[{name!r}] = None"]))
    if leaf is GraphQLString:  # graphql-core's coercion gives a string back as it is
        branches.append(("type(v) is str", [f"results[{name!r}] = v"]))
    names[f"coerce{index}"] = leaf.coerce_output_value
    coerced = [
        "try:",
        f"    v = coerce{index}(v)",
        "except Exception:",
        "    v = None",
        *_branches([("v is None", usual), ("", [f"results[{name!r}] = v"])]),
    ]
    return code + _branches([*branches, ("v is None or v is Undefined", usual), ("", coerced)])


def _branches(branches: list[tuple[str, list[str]]]) -> list[str]:
    """An if / elif / else of (condition, lines) pairs, the last one's condition empty (the else)."""
    lines = []
    for number, (condition, body) in enumerate(branches):
        lines.append(("if " if number == 0 else "elif ") + condition + ":" if condition else "else:")
        lines.extend("    " + line for line in body)
    return lines


def _usual(
    execution: Execution,
    parent_type: GraphQLObjectType,
    source: Any,
    step: Step,
    path: Path,
    results: Any,
    pending: Any,
) -> list[str] | None:
    """graphql-core's way for one field of a selection: its value kept under its response name (none when
    Undefined), noted among `pending` (made when first needed) if it is to be awaited."""
    value = execution.usual_field(parent_type, source, step[1], path, None)
    if value is not Undefined:
        name = step[0]
        results[name] = value
        if type(value) is not dict and type(value) is not list and is_awaitable(value):
            pending = [name] if pending is None else [*pending, name]
    return pending


async def awaited(results: Any, keys: list[Any]) -> Any:
    """`results` (a dict of fields, or a list of items) once its entries at `keys`, awaitable, are awaited
    together; as graphql-core does, without gathering for one."""
    if len(keys) == 1:
        key = keys[0]
        results[key] = await results[key]
    else:
        awaited_values = await gather_with_cancel(*(results[key] for key in keys))
        for key, value in zip(keys, awaited_values, strict=True):
            results[key] = value
    return results
