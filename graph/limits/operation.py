"""Limits on one operation: depth, aliases and cost, checked before validation; time, while it runs.

The size of its document in lexical tokens is graphql-core's to check, as it
parses (graph/documents.py parse_document).

The cost of an operation estimates how many objects it can make the server
load. Every field whose type is an object, interface or union counts once
for each item its enclosing lists may hold: a field with a `first` argument
(a connection) multiplies what is under it by `first` (DEFAULT_PAGE, 20, when
not given; variables and their defaults are read), any other list of objects
by LIST_ITEMS. Scalars, `__typename` and introspection are free. So
`loans(first: 100) { edges { node { lenders(first: 100) { edges { node { id } } } } } }`
costs 1 + 100 + 100 + 100 + 10,000 + 10,000 = 20,301.

money_fields counts what the lender's money rate limit (rate.py) charges an
operation: its deposit, withdraw and lend root fields.

The cost walk follows fragment spreads once per fragment (memoised, so a fragment
that spreads another many times cannot make it exponential) and ignores what
it cannot resolve (unknown fields or fragments, cycles): validation, which
runs next, reports those.
"""

import asyncio
from collections.abc import Awaitable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

from lending.paging import DEFAULT_PAGE

LIST_ITEMS = 10  # what a list without `first` is assumed to hold, for the cost
Composite = GraphQLObjectType | GraphQLInterfaceType
V = TypeVar("V")


class DocumentCache(Generic[V]):
    """A bounded cache of what is worked out from a parsed document (and a few hashable values).

    Found by the document's identity: graph/documents.py parse_document hands out one parsed
    document per text, while hashing a document walks its whole tree on every request
    (graphql-core's nodes are frozen dataclasses that do not keep their hash). Each entry holds its
    document, so that document's id cannot be reused by another while it is cached. The oldest entry
    goes first once `size` are held.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: dict[tuple[Hashable, ...], tuple[DocumentNode, V]] = {}

    def get(self, document: DocumentNode, *key: Hashable) -> V | None:
        entry = self._entries.get((id(document), *key))
        return entry[1] if entry is not None and entry[0] is document else None

    def put(self, document: DocumentNode, *key: Hashable, value: V) -> V:
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[(id(document), *key)] = (document, value)
        return value


@dataclass(frozen=True)
class Measure:
    """What one selection set (per item of its parent) asks for."""

    depth: int = 0  # fields on the deepest path
    aliases: int = 0
    cost: int = 0  # per item of the parent: multiply by the parent's items

    def __add__(self, other: "Measure") -> "Measure":
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 0
    max_aliases: int = 0
    max_cost: int = 0
    # Measures by document and operation, and by the page sizes of the variables they read (if any): a
    # client sends the same few documents with the same few `first`s, and walking a document costs more
    # than running a small one.
    _measured: DocumentCache[Measure] = field(default_factory=DocumentCache, compare=False, repr=False)
    # The variables each document's measure reads (none: cached in _measured under no page sizes).
    _reads: DocumentCache[tuple[str, ...]] = field(default_factory=DocumentCache, compare=False, repr=False)

    def check(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> GraphQLError | None:
        """The error for the first limit the operation exceeds, or None."""
        operation = _operation(document, operation_name)
        if operation is None:  # none or ambiguous: strawberry refuses it before execution
            return None
        try:
            measure = self._measure(schema, document, operation, operation_name, variables or {})
        except RecursionError:  # nested beyond what Python can walk: far beyond any depth limit
            return _error("The operation is nested too deeply.", "QUERY_TOO_DEEP", maxDepth=self.max_depth)
        if self.max_depth and measure.depth > self.max_depth:
            return _error(
                f"The operation is {measure.depth} fields deep; at most {self.max_depth} are allowed.",
                "QUERY_TOO_DEEP", depth=measure.depth, maxDepth=self.max_depth,
            )  # fmt: skip
        if self.max_aliases and measure.aliases > self.max_aliases:
            return _error(
                f"The operation uses {measure.aliases} aliases; at most {self.max_aliases} are allowed.",
                "TOO_MANY_ALIASES", aliases=measure.aliases, maxAliases=self.max_aliases,
            )  # fmt: skip
        if self.max_cost and measure.cost > self.max_cost:
            return _error(
                f"The operation may load {measure.cost} objects; at most {self.max_cost} are allowed. "
                "Ask for smaller pages (`first`) or fewer nested connections.",
                "QUERY_TOO_COSTLY", cost=measure.cost, maxCost=self.max_cost,
            )  # fmt: skip
        return None

    def _measure(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> Measure:
        reads = self._reads.get(document, schema, operation_name)
        if reads is not None:
            values = _with_defaults(operation, variables)
            sizes = tuple(page_size(values.get(name)) for name in reads)
            measure = self._measured.get(document, schema, operation_name, sizes)
            if measure is not None:
                return measure
        walker = _walker(schema, document, operation, variables)
        measure = _walk(walker, schema, operation)
        reads = tuple(sorted(walker.read))
        sizes = tuple(page_size(walker.variables.get(name)) for name in reads)
        self._reads.put(document, schema, operation_name, value=reads)
        self._measured.put(document, schema, operation_name, sizes, value=measure)
        return measure


def _error(message: str, code: str, **details: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **details})


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }.get(operation.operation)


def measure_operation(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> Measure:
    return _walk(_walker(schema, document, operation, variables), schema, operation)


def _walker(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> "_Walker":
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Walker(schema, fragments, _with_defaults(operation, variables))


def _with_defaults(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's variables, with the integer defaults the operation declares for those it lacks."""
    defaults = {
        v.variable.name.value: v.default_value.value
        for v in operation.variable_definitions or ()
        if isinstance(v.default_value, IntValueNode)
    }
    return {**defaults, **variables} if defaults else variables


def page_size(value: Any) -> int:
    """The items a `first` argument asks for: its value as a number, the default page if it is none."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PAGE
    return max(number, 0)


def _walk(walker: "_Walker", schema: GraphQLSchema, operation: OperationDefinitionNode) -> Measure:
    root = _root_type(schema, operation)
    if root is None:
        return Measure()
    return walker.selections(operation.selection_set, root)


class _Walker:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.done: dict[str, Measure] = {}
        self.visiting: set[str] = set()
        self.read: set[str] = set()  # the variables the measure depends on

    def selections(self, selection_set: SelectionSetNode | None, parent: Composite | None) -> Measure:
        total = Measure()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selections(selection.selection_set, self.condition(selection, parent))
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value)
        return total

    def spread(self, name: str) -> Measure:
        if name in self.done:
            return self.done[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:  # unknown or a cycle: validation reports it
            return Measure()
        self.visiting.add(name)
        measure = self.selections(fragment.selection_set, self.condition(fragment, None))
        self.visiting.discard(name)
        self.done[name] = measure
        return measure

    def condition(
        self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Composite | None
    ) -> Composite | None:
        if node.type_condition is None:
            return parent
        found = self.schema.get_type(node.type_condition.name.value)
        return found if isinstance(found, (GraphQLObjectType, GraphQLInterfaceType)) else None

    def field(self, node: FieldNode, parent: Composite | None) -> Measure:
        name = node.name.value
        aliases = 1 if node.alias else 0
        if name.startswith("__"):  # __typename, and introspection: bounded by the schema, free
            return Measure(depth=1, aliases=aliases)
        definition = parent.fields.get(name) if parent is not None else None
        if definition is None:  # unknown: validation reports it; still count its depth and aliases
            inner = self.selections(node.selection_set, None)
            return Measure(depth=1 + inner.depth, aliases=aliases + inner.aliases)
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return Measure(depth=1, aliases=aliases)
        child = named if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)) else None
        inner = self.selections(node.selection_set, child)
        items = self.items(node, definition.args, definition.type, parent)
        return Measure(depth=1 + inner.depth, aliases=aliases + inner.aliases, cost=1 + items * inner.cost)

    def items(self, node: FieldNode, args: Mapping[str, Any], type_: Any, parent: Composite | None) -> int:
        """How many items the field may return: `first` for a connection, LIST_ITEMS for another list."""
        if "first" in args:
            return self.first(node)
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        in_connection = parent is not None and parent.name.endswith("Connection")  # its `edges`: `first` counted
        return LIST_ITEMS if isinstance(type_, GraphQLList) and not in_connection else 1

    def first(self, node: FieldNode) -> int:
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: Any = None
        if argument is not None:
            if isinstance(argument.value, IntValueNode):
                value = argument.value.value
            elif isinstance(argument.value, VariableNode):
                self.read.add(argument.value.name.value)
                value = self.variables.get(argument.value.name.value)
        return page_size(value)


MONEY_FIELDS = frozenset({"deposit", "withdraw", "lend"})


def money_fields(document: DocumentNode, operation_name: str | None) -> int:
    """How many money-moving root fields (deposit, withdraw, lend) a mutation selects, aliases included."""
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _count_money(operation.selection_set, fragments, {}, frozenset())


def _count_money(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    done: dict[str, int],
    visiting: frozenset[str],
) -> int:
    # A module function, not a closure: a recursive closure is a reference cycle left for the collector.
    total = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            total += selection.name.value in MONEY_FIELDS
        elif isinstance(selection, InlineFragmentNode):
            total += _count_money(selection.selection_set, fragments, done, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in done and name in fragments and name not in visiting:
                done[name] = _count_money(fragments[name].selection_set, fragments, done, visiting | {name})
            total += done.get(name, 0)
    return total


async def within(result: Awaitable[ExecutionResult], seconds: float) -> ExecutionResult:
    """The query's result, or a QUERY_TIMEOUT error once it has run `seconds`: its work is cancelled.

    Only queries: a mutation is never cut halfway (its cost limit bounds it instead).
    """
    try:
        async with asyncio.timeout(seconds):
            return await result
    except TimeoutError:
        error = GraphQLError(
            f"The query ran longer than {seconds:g} s and was stopped: ask for less, or page through it.",
            extensions={"code": "QUERY_TIMEOUT", "maxSeconds": seconds},
        )
        return ExecutionResult(data=None, errors=[error])
