"""Fields the executor answers itself, as graphql-core and strawberry would, without their per-field machinery.

Plain fields (a scalar or enum attribute of the node, or what a resolver taking only the node makes) are
graph/plain_fields.py's; each selection's fields run as one function written for it
(graph/selection_code.py).

Direct objects. A field whose value is an object, or a list of objects, of
one object type, read from an attribute or returned by a resolver that takes
nothing but its source and `info` and is not a coroutine function (a share's
loan, a loan's partner, a connection's edges and their nodes), is resolved
by calling that resolver itself and completed by executing the object's
selection at once: strawberry's wrappers (the Info, argument conversion,
the extension chain) and graphql-core's dispatch on the value's type run
for none of them. Anything unusual (an awaitable value, a null, an
exception, a value of another type, an iterable that is not a list) goes
graphql-core's way from that point, so answers and errors are graphql-core's
(tests/graph/test_direct_fields.py compares them on generated values).

Union members. A value of a union (a mutation's payload or one of its errors)
that is an instance of one of the union's member classes, not cast, completes
as that member without strawberry's type resolver, which would try the
members one by one, and without the member's type check, which it passes.

A schema extension's per-field hook (a middleware) must see every field:
with one, nothing is answered here.
"""

from collections.abc import Awaitable, Callable
from types import GeneratorType
from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLUnionType,
    Undefined,
)
from graphql.pyutils import Path
from strawberry import Info

from graph.plain_fields import is_awaitable, plain_fields, plain_value
from graph.selection_code import Runner, Step, awaited, runner
from graph.strawberry_internals import (
    TYPE_CAST_ATTRIBUTE,
    StrawberryGraphQLCoreExecutionContext,
    checked_class,
    direct_resolver,
    plain_attribute,
    union_member,
)


class DirectObject(NamedTuple):
    """A field whose value is an object (or a list of objects) of `object_type`, got without strawberry."""

    field: GraphQLField
    object_type: GraphQLObjectType
    read: Callable[[Any, Any], Any]  # the value, from the source and a LazyInfo (None unless needs_info)
    is_list: bool
    item_type: Any  # of the list: object_type, or it made non-null
    passes: type | None  # an instance of exactly this class, not cast, passes object_type's check (checked_class)
    needs_info: bool  # `read` uses a LazyInfo (a resolver taking `info`); else it is given None
    definition: Any  # strawberry's field, for its Info
    attribute: str | None  # the attribute of the source that `read` reads, if that is all it does


_DIRECT_OBJECTS: dict[int, tuple[GraphQLObjectType, dict[str, DirectObject]]] = {}
# By the id of a union and a class: the member an instance of the class completes as, if known at once.
_UNION_MEMBERS: dict[tuple[int, type], tuple[GraphQLUnionType, GraphQLObjectType | None]] = {}
# An object field's selection (by the identity of its field details): them, the object type, and the runner
# of the subfields (graph.selection_code; graphql-core's collecting when some are deferred).
_Selection = tuple[Any, GraphQLObjectType, Runner]


def direct_objects(parent_type: GraphQLObjectType) -> dict[str, DirectObject]:
    """The fields of `parent_type` answered as direct objects (see the module docstring)."""
    found = _DIRECT_OBJECTS.get(id(parent_type))
    if found is None or found[0] is not parent_type:
        fields: dict[str, DirectObject] = {}
        for name, field in parent_type.fields.items():
            inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            item_type = inner.of_type if isinstance(inner, GraphQLList) else None
            object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else (item_type or inner)
            if not isinstance(object_type, GraphQLObjectType):
                continue
            reader = _reader(field)
            if reader is not None:
                passes = checked_class(object_type)
                read, needs_info, definition = reader
                fields[name] = DirectObject(
                    field,
                    object_type,
                    read,
                    item_type is not None,
                    item_type,
                    passes,
                    needs_info,
                    definition,
                    plain_attribute(field),
                )
        found = _DIRECT_OBJECTS[id(parent_type)] = (parent_type, fields)
    return found[1]


def _reader(field: GraphQLField) -> tuple[Callable[[Any, Any], Any], bool, Any] | None:
    """How a direct object's value is read from its source (and a LazyInfo, if its resolver takes `info`),
    whether it takes one, and strawberry's field (for its Info)."""
    attribute = plain_attribute(field)
    if attribute is not None:
        return (lambda source, info: getattr(source, attribute)), False, None
    resolver = direct_resolver(field)
    if resolver is None:
        return None
    function, takes_source, info_name, definition = resolver
    if info_name is None:
        read = (lambda source, info: function(source)) if takes_source else (lambda source, info: function())
        return read, False, definition
    if takes_source:
        return (lambda source, info: function(source, **{info_name: info})), True, definition
    return (lambda source, info: function(**{info_name: info})), True, definition


class LazyInfo:
    """The `info` a resolver answered directly is given: strawberry's Info, built (over graphql-core's resolve
    info, built too) when the resolver reads more of it than the context. The context (its loaders) is all
    that most such resolvers read, and a page of 100 rows calls them hundreds of times."""

    __slots__ = ("_built", "_executor", "_field_details_list", "_info", "_parent_type", "_path", "_target", "context")

    def __init__(
        self,
        executor: "DirectExecution",
        target: "DirectObject",
        field_details_list: Any,
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> None:
        self.context = executor.context_value
        self._executor, self._target, self._field_details_list = executor, target, field_details_list
        self._parent_type, self._path = parent_type, path
        self._built: GraphQLResolveInfo | None = None
        self._info: Info[Any, Any] | None = None

    def built(self) -> GraphQLResolveInfo:
        """graphql-core's resolve info for the field."""
        if self._built is None:
            self._built = self._executor.resolve_info(
                self._target, self._field_details_list, self._parent_type, self._path
            )
        return self._built

    def __getattr__(self, name: str) -> Any:
        if self._info is None:
            self._info = Info(_raw_info=self.built(), _field=self._target.definition)
        return getattr(self._info, name)


def _union_member(union: GraphQLUnionType, value: Any) -> GraphQLObjectType | None:
    kind = type(value)
    found = _UNION_MEMBERS.get((id(union), kind))
    if found is None or found[0] is not union:
        found = _UNION_MEMBERS[(id(union), kind)] = (union, union_member(union, kind))
    if found[1] is None or getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None:
        return None
    return found[1]


_USUAL_TYPES: dict[type, bool] = {}


def _at_once(target: DirectObject, value: Any) -> bool:
    """Whether `value` completes as the field's object type with nothing to check: an instance of the very
    class its type check accepts, not cast; or, for a type that checks nothing, any value but a null, an
    error or something to await (graphql-core then completes it as the field's type as it is)."""
    kind = type(value)
    if target.object_type.is_type_of is not None:
        return kind is target.passes and getattr(value, TYPE_CAST_ATTRIBUTE, None) is None
    usual = _USUAL_TYPES.get(kind)
    if usual is None:
        usual = _USUAL_TYPES[kind] = not (
            value is None or value is Undefined or isinstance(value, Exception) or kind is GeneratorType
        ) and not is_awaitable(value)
    return usual


def _all_at_once(target: DirectObject, items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every item of a list completes at once (_at_once), without a call per item when the type
    checks its values (a connection's edges)."""
    if target.object_type.is_type_of is None:
        return all([_at_once(target, item) for item in items])
    passes = target.passes
    return all([type(item) is passes and getattr(item, TYPE_CAST_ATTRIBUTE, None) is None for item in items])


# graphql-core's Path is a NamedTuple, whose constructor is a Python function: the executor makes one for
# every object field and list item of a page, by the tuple's own constructor (what that function calls).
_new_path: Callable[[type[Path], tuple[Any, str | int, str | None]], Path] = tuple.__new__


def _unusual(value: Any) -> bool:
    """A value graphql-core completes its own way: null, an error, something to await."""
    return value is None or value is Undefined or isinstance(value, Exception) or is_awaitable(value)


class DirectExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, answering plain fields and direct objects itself (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct_steps: dict[tuple[int, int], tuple[Any, list[Step], Runner]] = {}
        self._selections: dict[int, _Selection] = {}

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, DirectExecution)
        # Keyed by selections collected anew for every event: they live and die with it.
        executor._direct_steps, executor._selections = {}, {}
        return executor

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any = None,
    ) -> Any:
        manager = self.middleware_manager
        if manager is None or not manager.middlewares:
            plain = plain_fields(parent_type).get(field_details_list[0].node.name.value)
            if plain is not None:
                value = plain_value(plain, parent_type, source)
                if value is not Undefined:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core 3.3's execute_fields, answering plain fields itself (no path, no call per field) and
        direct objects by execute_direct, by the selection's runner (graph.selection_code) unless a
        position is given (deferred fragments). The rest as graphql-core does: the other fields run, and
        awaitable ones are awaited together."""
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        steps, run = self._plan(parent_type, grouped_field_set)
        if position_context is None:
            return run(self, source_value, path)
        return self.execute_steps(parent_type, source_value, path, steps, position_context)

    def usual_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path, position_context: Any
    ) -> Any:
        """graphql-core's execute_field: strawberry's resolver, and graphql-core's completion."""
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def execute_steps(
        self, parent_type: GraphQLObjectType, source_value: Any, path: Any, steps: list[Step], position_context: Any
    ) -> Any:
        """A selection's fields in a loop, as its written code answers them (graph.selection_code): for a
        selection sent once so far, and at a position (a deferred fragment's), which it passes on."""
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, plain, direct, _ in steps:
                if plain is not None:
                    result = plain_value(plain, parent_type, source_value)
                    if result is not Undefined:
                        results[response_name] = result
                        continue
                field_path = _new_path(Path, (path, response_name, parent_type.name))
                if direct is not None:
                    result = self.execute_direct(
                        direct, parent_type, source_value, field_details_list, field_path, position_context
                    )
                else:
                    result = super().execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                if result is not Undefined:
                    results[response_name] = result
                    # Still to be awaited? Most completed values are a dict of fields or a list: tested first.
                    if type(result) is not dict and type(result) is not list and is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # settle the other fields' awaitables: they may fail too
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return awaited(results, awaitable_fields)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> tuple[list[Step], Runner]:
        """The fields of a selection, each with how it is answered, and the selection's runner: worked out
        once per selection and execution (graphql-core collects a list's selection once for all its items)."""
        plans = self._direct_steps
        key = (id(parent_type), id(grouped_field_set))
        found = plans.get(key)
        if found is None or found[0] is not grouped_field_set:
            plain, direct = plain_fields(parent_type), direct_objects(parent_type)
            steps: list[Step] = []
            shape: list[str] = []
            for response_name, details in grouped_field_set.items():
                name = details[0].node.name.value
                steps.append((response_name, details, plain.get(name), direct.get(name), []))
                shape += (response_name, name)
            found = plans[key] = (grouped_field_set, steps, runner(parent_type, steps, tuple(shape)))
        return found[1], found[2]

    def execute_direct(
        self,
        target: DirectObject,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field for a direct object: its value read by `target.read`, an object
        completed by its selection at once, a list item by item."""
        lazy = LazyInfo(self, target, field_details_list, parent_type, path) if target.needs_info else None
        try:
            value = target.read(source, lazy)
        except Exception as raw_error:
            self.handle_field_error(raw_error, target.field.type, field_details_list, path)
            return None
        return self.complete_direct(target, parent_type, field_details_list, path, value, lazy, position_context)

    def complete_direct(
        self,
        target: DirectObject,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Path,
        value: Any,
        lazy: "LazyInfo | None",
        position_context: Any,
    ) -> Any:
        """The rest of execute_direct, from the value read: completed, settled if it is to be awaited, or null
        with its error handled."""
        return_type = target.field.type
        try:
            passes = target.passes
            if type(value) is passes and not target.is_list and position_context is None:  # the commonest case
                at_once = getattr(value, TYPE_CAST_ATTRIBUTE, None) is None
            else:
                at_once = position_context is None and (
                    _all_at_once(target, value)
                    if target.is_list and type(value) in (list, tuple)
                    else not target.is_list and _at_once(target, value)
                )
            if at_once and target.is_list:
                run = self.selection_runner(target.object_type, field_details_list)
                completed = self._complete_items(target, field_details_list, path, value, run)
            elif at_once:  # as _execute_selection does, for an execution without middleware (this one)
                completed = self.selection_runner(target.object_type, field_details_list)(self, value, path)
            else:
                info = (
                    lazy.built()
                    if lazy is not None
                    else self.resolve_info(target, field_details_list, parent_type, path)
                )
                if _unusual(value):
                    return self._complete_usually(return_type, field_details_list, info, path, value, position_context)
                if target.is_list:
                    completed = self._complete_list(target, field_details_list, info, path, value, position_context)
                else:
                    completed = self._complete_object(target, field_details_list, info, path, value, position_context)
            if type(completed) is not dict and type(completed) is not list and is_awaitable(completed):
                return self.settled(completed, return_type, field_details_list, path)
            return completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def resolve_info(
        self, target: "DirectObject", field_details_list: Any, parent_type: GraphQLObjectType, path: Path
    ) -> GraphQLResolveInfo:
        """graphql-core's resolve info for a direct object's field."""
        nodes = [details.node for details in field_details_list]
        return self.build_resolve_info(target.field, nodes, parent_type, path)

    def _complete_usually(
        self, return_type: Any, field_details_list: Any, info: Any, path: Path, value: Any, position_context: Any
    ) -> Any:
        """graphql-core's completion of the rest of execute_field."""
        if self.is_awaitable(value):
            return self.complete_awaitable_value(return_type, field_details_list, info, path, value, position_context)
        completed = self.complete_value(return_type, field_details_list, info, path, value, position_context)
        if self.is_awaitable(completed):
            return self.settled(completed, return_type, field_details_list, path)
        return completed

    def _complete_object(
        self, target: DirectObject, field_details_list: Any, info: Any, path: Path, value: Any, position_context: Any
    ) -> Any:
        """graphql-core's complete_object_value, and its execution of the selection when nothing is deferred
        (as graphql-core's executors do then). strawberry's type check is not asked of an instance of the
        very class it would accept (and not cast), which it would pass."""
        object_type = target.object_type
        is_type_of = object_type.is_type_of
        if is_type_of is not None and not _at_once(target, value):
            verdict = is_type_of(value, info)
            if verdict is not True:  # graphql-core reports a wrong type, and awaits a verdict to await
                close = getattr(verdict, "close", None) if self.is_awaitable(verdict) else None
                if close is not None:
                    close()
                return self.complete_object_value(object_type, field_details_list, info, path, value, position_context)
        return self._execute_selection(object_type, field_details_list, path, value, position_context)

    def _execute_selection(
        self, object_type: GraphQLObjectType, field_details_list: Any, path: Path, value: Any, position_context: Any
    ) -> Any:
        """An object's selection, executed at once when nothing is deferred (as graphql-core's executors do);
        its fields and how each is answered worked out once per execution (a list's items share them)."""
        manager = self.middleware_manager
        if position_context is not None or (manager is not None and manager.middlewares):
            return self.collect_and_execute_subfields(object_type, field_details_list, path, value, position_context)
        return self.selection_runner(object_type, field_details_list)(self, value, path)

    def selection_runner(self, object_type: GraphQLObjectType, field_details_list: Any) -> Runner:
        """The runner of an object field's selection, worked out once per execution: graphql-core's
        collect_and_execute_subfields when some of it is deferred."""
        # By the field details alone: a union's members that take turns in a list are worked out again.
        selection = self._selections.get(id(field_details_list))
        if selection is None or selection[0] is not field_details_list or selection[1] is not object_type:
            grouped_field_set, deferred, _ = self.collect_subfields(object_type, field_details_list)
            run = (
                _collecting(object_type, field_details_list)
                if deferred
                else self._plan(object_type, grouped_field_set)[1]
            )
            selection = self._selections[id(field_details_list)] = (field_details_list, object_type, run)
        return selection[2]

    def complete_abstract_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but for an instance of a union's member class, not cast (a mutation's payload or
        error): strawberry's type resolver would try the members one by one, and its type check pass it."""
        member = _union_member(return_type, result) if isinstance(return_type, GraphQLUnionType) else None
        if member is None:
            return super().complete_abstract_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return self._execute_selection(member, field_details_list, path, result, position_context)

    def _complete_list(
        self, target: DirectObject, field_details_list: Any, info: Any, path: Path, items: Any, position_context: Any
    ) -> Any:
        """graphql-core's complete_iterable_value for a list of objects none of which is unusual."""
        if not isinstance(items, list | tuple) or any(_unusual(item) for item in items):
            return self.complete_value(target.field.type, field_details_list, info, path, items, position_context)

        def complete(execution: Any, item: Any, item_path: Path) -> Any:
            return self._complete_object(target, field_details_list, info, item_path, item, position_context)

        return self._complete_items(target, field_details_list, path, items, complete)

    def _complete_items(
        self,
        target: DirectObject,
        field_details_list: Any,
        path: Path,
        items: Any,
        complete: Runner,
    ) -> Any:
        """The items of a list of objects, each completed by `complete` (the selection's runner, when they
        complete at once); as graphql-core does, an item that fails is null (or fails the list, by
        handle_field_error), and awaitable ones are awaited together."""
        item_type = target.item_type
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = _new_path(Path, (path, index, None))
                try:
                    result = complete(self, item, item_path)
                    if type(result) is not dict and type(result) is not list and is_awaitable(result):
                        result = self.settled(result, item_type, field_details_list, item_path)
                        awaitable_indices.append(index)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    result = None
                completed.append(result)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return awaited(completed, awaitable_indices)

    async def settled(self, completed: Awaitable[Any], return_type: Any, field_details_list: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


def _collecting(object_type: GraphQLObjectType, field_details_list: Any) -> Runner:
    """The runner of a selection with deferred parts: graphql-core's own collecting and execution."""

    def run(execution: Any, value: Any, path: Path) -> Any:
        return execution.collect_and_execute_subfields(object_type, field_details_list, path, value, None)

    return run
