"""Execution: subscription events shared between subscribers, and queries bounded in time.

The executor answers plain fields and direct objects itself (graph/direct_fields.py).

Ten thousand subscribers of one stream mostly ask for the same fields. An
event is executed once per distinct selection (the same document and the
same variables inside the selection, and the same viewer where the
selection reads a field whose value depends on who asks) and the result,
with its JSON, is reused for every subscriber who would get the same answer.

Which fields depend on who asks is read off the schema, not listed here:
graph.permissions.viewer_fields (every field a permission guards, and every
field marked VIEWER_DEPENDENT), once, as graph.schema.VIEWER_FIELDS.
"""

import asyncio
import json
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from graphql import (
    ArgumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    visit,
)

from graph.context import Context
from graph.direct_fields import DirectExecution
from graph.limits.operation import within
from graph.strawberry_internals import StrawberryGraphQLCoreExecutionContext, forget_collected_subfields

ViewerFields = frozenset[tuple[str, str]]  # (type, field), by their GraphQL names
Selection = tuple[int, tuple[tuple[str, str], ...], object]  # see selection_of
ShareKey = tuple[str, object, int, tuple[tuple[str, str], ...], object]
T = TypeVar("T")


class _Reads(Visitor):
    """The variables a selection reads, and whether it selects a field whose value depends on the viewer.

    Runs inside a TypeInfoVisitor that shares `types`, which knows each field's parent type.
    """

    def __init__(self, types: TypeInfo, root: object, viewer_fields: ViewerFields) -> None:
        super().__init__()
        self.types = types
        self.root = root
        self.viewer_fields = viewer_fields
        self.viewer_field_names = {name for _, name in viewer_fields}
        self.variables: set[str] = set()
        self.viewer = False
        self._in_root_argument = False

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        # A root field's own arguments choose the stream and where it resumes (`after` differs from
        # one subscriber to the next), not what an event shows.
        self._in_root_argument = self.types.get_directive() is None and self.types.get_parent_type() is self.root

    def leave_argument(self, node: ArgumentNode, *_: Any) -> None:
        self._in_root_argument = False

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        if not self._in_root_argument:
            self.variables.add(node.name.value)

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent, name = self.types.get_parent_type(), node.name.value
        # A field without a known parent type cannot run (validation refuses it): judged by its name, to be safe.
        self.viewer |= (parent.name, name) in self.viewer_fields if parent else name in self.viewer_field_names


def reads(
    schema: GraphQLSchema,
    viewer_fields: ViewerFields,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, Any] | None = None,
) -> tuple[frozenset[str], bool]:
    """The variables `operation` reads below its root fields' arguments, and whether it selects a viewer field.

    Every named fragment of the document counts, used or not: they live beside the operation in the
    same (cached) document.
    """
    root = schema.get_root_type(operation.operation)
    types = TypeInfo(schema, initial_type=root)
    found = _Reads(types, root, viewer_fields)
    visit(operation.selection_set, TypeInfoVisitor(types, found))
    for fragment in (fragments or {}).values():
        found.types = types = TypeInfo(schema)
        visit(getattr(fragment, "definition", fragment), TypeInfoVisitor(types, found))
    return frozenset(found.variables), found.viewer


def result_message(operation_id: object, message_type: str, data: str = "") -> str:
    """A result message of either WebSocket protocol (`next`, or the older `data`) whose payload is the
    encoded `data` alone; without `data`, the message up to it (RESULT_MESSAGE_END closes it)."""
    head = f'{{"id":{json.dumps(operation_id)},"type":"{message_type}","payload":{{"data":'
    return f"{head}{data}{RESULT_MESSAGE_END}" if data else head


RESULT_MESSAGE_END = "}}"


class SharedResults:
    """A bounded cache of event results by selection, and of their JSON.

    Bounded in entries and in bytes: a result is worth keeping only while its event is being fanned
    out (a few hundred entries, least recently used out first: a selection many subscribers share
    stays while they are served; thousands kept results no event would ask for again, memory that
    grew for a quarter of an hour under load), and results can be large (a selection may ask for a
    10,000-character description fifteen times), so the JSON kept is limited to `max_bytes` in all
    (measured as its length) and a result whose JSON is dropped is dropped too.
    """

    def __init__(self, viewer_fields: ViewerFields, size: int = 256, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.viewer_fields = viewer_fields  # graph.schema.VIEWER_FIELDS
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0
        self._results: OrderedDict[ShareKey, tuple[OperationDefinitionNode, Any]] = OrderedDict()
        self._json: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        self._selections: OrderedDict[int, tuple[OperationDefinitionNode, frozenset[str], bool]] = OrderedDict()
        self.executions = 0  # events actually executed, for tests and benchmarks
        self.written = 0  # messages written straight to a socket (graph/fanout.py), for tests and benchmarks

    def sizes(self) -> dict[str, int]:
        """Entries held, per cache (graph/memory_stats.py)."""
        return {"results": len(self._results), "json": len(self._json), "selections": len(self._selections)}

    def _remember(self, cache: "OrderedDict[Any, Any]", key: Any, value: Any) -> None:
        cache[key] = value
        if len(cache) > self.size:
            cache.popitem(last=False)

    def selection(
        self, schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Mapping[str, Any] | None = None
    ) -> tuple[frozenset[str], bool]:
        """`reads` of the operation, remembered: variables read below the root fields' arguments, and
        whether it selects a field whose value depends on the viewer."""
        found = self._selections.get(id(operation))
        if found is None or found[0] is not operation:
            found = (operation, *reads(schema, self.viewer_fields, operation, fragments))
            self._remember(self._selections, id(operation), found)
        return found[1], found[2]

    def get(self, key: ShareKey, operation: OperationDefinitionNode) -> Any:
        found = self._results.get(key)
        # The operation node is part of the key by id: check it is the same object.
        if found is None or found[0] is not operation:
            return None
        self._results.move_to_end(key)
        return found[1]

    def put(self, key: ShareKey, operation: OperationDefinitionNode, result: Any) -> None:
        self._remember(self._results, key, (operation, result))

    def settle(self, key: ShareKey, operation: OperationDefinitionNode, done: "asyncio.Future[Any]") -> None:
        """An execution ended: keep its result rather than its task (a failed one stays as it is), and encode it.

        A finished task still holds its context (a copy of every context variable at its start):
        kept for the cache's life, that pinned memory nothing used any more (bench/churn).
        """
        found = self._results.get(key)
        if found is not None and found[1] is done and not done.cancelled() and done.exception() is None:
            self._results[key] = (operation, done.result())
        _encode_once(self, done)

    def encoded(self, data: Any) -> str | None:
        found = self._json.get(id(data))
        return found[1] if found is not None and found[0] is data else None

    def encode(self, data: Any) -> str:
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > self.max_bytes // 4:  # too large to be worth keeping
            self._forget(data)
            return text
        self._json[id(data)] = (data, text)
        self._bytes += len(text)
        while len(self._json) > self.size or self._bytes > self.max_bytes:
            _, (old, old_text) = self._json.popitem(last=False)
            self._bytes -= len(old_text)
            self._forget(old)
        return text

    def _forget(self, data: Any) -> None:
        """Drop the cached results whose data is `data` (their JSON is gone)."""
        stale = [key for key, (_, result) in self._results.items() if _data_of(result) is data]
        for key in stale:
            del self._results[key]


# The executor of the subscription whose task this is (set by SharingExecutor.cancellable_iterable). Weakly:
# a timer set in the task keeps a copy of its context until the timer's time comes.
SUBSCRIBING: "ContextVar[weakref.ref[SharingExecutor] | None]" = ContextVar("lendgraph_subscribing", default=None)


class SharingExecutor(DirectExecution):
    """Executes each subscription event once per distinct selection (see SharedResults).

    A query that runs longer than MAX_QUERY_SECONDS is stopped (graph/limits/operation.py within).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = cast(GraphQLResolveInfoHelpers, _WeakHelpers(self))

    def cancellable_iterable(self, iterable: AsyncIterable[T]) -> AsyncIterable[T]:
        # graphql-core calls this once per subscription, in the operation's task, with the resolver's
        # stream: that stream may then have its live events executed by this executor (graph/fanout.py).
        SUBSCRIBING.set(weakref.ref(self))
        return super().cancellable_iterable(iterable)

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        forget_collected_subfields(executor)  # its memo lives and dies with the event
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        context = self.context_value
        if not isinstance(context, Context):  # the schema run without the app: nothing to share or bound
            return super().execute_operation(serially)
        key = self._share_key(context)
        if key is None:
            result = super().execute_operation(serially)
            seconds = context.limits.max_query_seconds
            if self.operation.operation is OperationType.QUERY and seconds and self.is_awaitable(result):
                return within(result, seconds)
            return result
        shared = context.shared
        found = shared.get(key, self.operation)
        if found is not None:
            return found
        shared.executions += 1
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            result = asyncio.ensure_future(result)
        # Cached before it is encoded: encode() may find it too large to keep, and forget it.
        shared.put(key, self.operation, result)
        if isinstance(result, asyncio.Future):
            operation = self.operation
            result.add_done_callback(lambda done: shared.settle(key, operation, done))
        else:
            _encode_data(shared, result)
        return result

    def _share_key(self, context: Context) -> ShareKey | None:
        event_id = getattr(self.root_value, "event_id", None)  # the events of graph/types/events.py carry one
        if self.operation.operation is not OperationType.SUBSCRIPTION or event_id is None:
            return None
        return (type(self.root_value).__name__, event_id, *selection_of(self, context))


def selection_of(executor: StrawberryGraphQLCoreExecutionContext, context: Context) -> Selection:
    """What one subscriber's answer to an event shares with another's: the operation (by id), the values of
    the variables it reads below its root fields' arguments, and the viewer where a field depends on who asks."""
    variables, viewer_specific = context.shared.selection(executor.schema, executor.operation, executor.fragments)
    values = executor.variable_values.coerced
    inner = tuple(sorted((name, repr(values.get(name))) for name in variables))
    return id(executor.operation), inner, (context.viewer if viewer_specific else None)


class _WeakHelpers:
    """graphql-core's helpers for resolvers (GraphQLResolveInfoHelpers' gather and track), holding the
    executor weakly.

    graphql-core gives them the executor's own bound methods: a reference cycle, so every finished
    execution, with its context and DataLoaders, waited for a full collection (bench/churn). Copies
    made per subscription event share these helpers and live only while the stream holds the original.
    One small object per executor, its methods bound only when called: a subscription keeps its
    executor as long as it listens.
    """

    __slots__ = ("_owner",)

    def __init__(self, executor: StrawberryGraphQLCoreExecutionContext) -> None:
        self._owner = weakref.ref(executor)

    def gather(self, values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return self._owner().gather_async_work(values)  # type: ignore[union-attr]

    def track(self, values: Sequence[Any]) -> None:
        self._owner().track_async_work(values)  # type: ignore[union-attr]


def _data_of(result: Any) -> Any:
    if isinstance(result, asyncio.Future):
        if not result.done() or result.cancelled() or result.exception() is not None:
            return None
        result = result.result()
    return result.data if isinstance(result, ExecutionResult) else None


def _encode_once(shared: SharedResults, done: "asyncio.Future[Any]") -> None:
    if not done.cancelled() and done.exception() is None:
        _encode_data(shared, done.result())


def _encode_data(shared: SharedResults, result: Any) -> None:
    if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
        shared.encode(result.data)
