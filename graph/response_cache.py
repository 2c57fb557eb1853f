"""Answers to public reads over HTTP, kept in memory and never staler than a delivered event.

Browsing loans is the same few documents with the same few variables from every visitor, so the
answer is worth keeping between requests, as GraphQL response caches do (Hasura's `@cached`
queries, Apollo Server's response cache plugin), but invalidated by the outbox rather than by a
time to live:

- What is kept: the answer to a query sent over HTTP without an Authorization header, none of
  whose root fields is unmarked (OUTBOX_COVERED: `loans`, `loan`) and which selects no field
  whose value depends on who asks (graph.schema.VIEWER_FIELDS) or on the clock at read time
  (CLOCK_DEPENDENT: `daysPastDue`, `arrearsRate`). An answer with errors is never kept.
  Everything else runs as before; every request, kept or not, is counted by the rate limits
  first (graph/app.py) and refused by the same checks (graph/pipeline.py) before this is asked.
- Key: the parsed document (by identity: graph/documents.py hands out one per text), the
  operation name, and the variables as canonical JSON.
- Tag: an answer is stored with the hub's settled horizon read before it was executed: every
  event up to that id had committed or never will, so the execution saw them all.
- Freshness: each request first reads the id of the newest committed event that names a loan
  (lending.outbox.newest_about_a_loan, one statement) and is served the stored answer only when
  that id is not above its tag. Everything public about loans, their partners and their lenders'
  profiles changes only in a transaction that writes such an event (lend, listing, expiry,
  repayment, default, auto-lending), and a subscriber anywhere receives an event only once it
  has committed: a request that starts after that reads an id at least as high, and executes
  again. The check is against the database, so it holds for any number of processes and hosts.
- Bounded: only the encoded body is kept, and the least recently used answer goes first past
  `size` answers or `max_bytes` of JSON. Once a read sees a newer event about a loan, every answer
  tagged below it is dropped at once (none could be served again), and none is stored below it.
"""

import json
from collections import OrderedDict
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from strawberry.types import ExecutionResult

from graph.limits.operation import DocumentCache
from graph.permissions import fields_where
from graph.strawberry_internals import graphql_core_schema
from lending.outbox import newest_about_a_loan
from subscriptions.hub import Hub

# Field metadata: a root field everything under which changes only with an event that names a loan.
OUTBOX_COVERED = MappingProxyType({"outbox_covered": True})
# Field metadata: the value is computed from the clock when read (it changes with no event at all).
CLOCK_DEPENDENT = MappingProxyType({"clock_dependent": True})

Key = tuple[int, str | None, str]
Fields = frozenset[tuple[str, str]]  # (type, field), by their GraphQL names
_encode = json.JSONEncoder(separators=(",", ":")).encode


def _marked(flag: str) -> Any:
    return lambda field: field is not None and bool(field.metadata.get(flag))


@dataclass(eq=False)
class Entry:
    document: DocumentNode  # held so that its id, part of the key, is not reused while the entry lives
    tag: int
    text: str  # the whole HTTP body, {"data": ...}, encoded once: only the text is kept, not the objects


@dataclass(frozen=True, eq=False)
class KeptBody:
    """What a kept answer's ExecutionResult carries as its data: the HTTP body, already encoded.

    Only LendGraphQL.encode_json turns it into the body (`ResponseCache.encoded`); anything else that
    tried to encode it would fail loudly rather than answer something else.
    """

    text: str


class _Public(Visitor):
    """Whether every field of a document may be kept: covered root fields, no viewer or clock field."""

    def __init__(self, schema: GraphQLSchema, types: TypeInfo, roots: frozenset[str], barred: Fields) -> None:
        super().__init__()
        self.query = schema.query_type
        self.root_types = {schema.query_type, schema.mutation_type, schema.subscription_type} - {None}
        self.types = types
        self.roots = roots
        self.barred = barred
        self.public = True

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent, name = self.types.get_parent_type(), node.name.value
        if name == "__typename":
            return
        if parent is None:  # not in the schema: validation refuses it; never kept
            self.public = False
        elif parent in self.root_types:
            self.public &= parent is self.query and name in self.roots
        else:
            self.public &= not name.startswith("__") and (parent.name, name) not in self.barred


class ResponseCache:
    """Kept answers to public reads, LRU-bounded (see the module docstring)."""

    def __init__(
        self,
        schema: strawberry.Schema,
        viewer_fields: Fields,
        hub: Hub,
        size: int = 1000,
        max_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.schema = graphql_core_schema(schema)
        query = self.schema.query_type
        assert query is not None
        covered = _marked("outbox_covered")
        self.roots = frozenset(name for name in query.fields if covered(schema.get_field_for_type(name, query.name)))
        self.barred = viewer_fields | fields_where(schema, _marked("clock_dependent"))
        self.hub = hub
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._public: DocumentCache[bool] = DocumentCache()
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._newest = 0  # the highest newest_about_a_loan() read: answers tagged below it never serve again

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, document: DocumentNode, operation_name: str | None, variables: Any) -> Key | None:
        """The key of a query's answer, or None when it may not be kept (the caller checked it is a query)."""
        public = self._public.get(document)
        if public is None:
            types = TypeInfo(self.schema)
            found = _Public(self.schema, types, self.roots, self.barred)
            visit(document, TypeInfoVisitor(types, found))
            public = self._public.put(document, value=found.public)
        if not public:
            return None
        try:
            canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
        return (id(document), operation_name, canonical)

    async def fresh(self, key: Key, document: DocumentNode) -> ExecutionResult | None:
        """The kept answer if no event about a loan committed after its tag; one statement when one is kept."""
        entry = self._entries.get(key)
        if entry is None or entry.document is not document:
            self.misses += 1
            return None
        newest = await newest_about_a_loan()
        if newest > self._newest:
            self._forget_below(newest)
        if newest > entry.tag:
            self.misses += 1
            return None
        current = self._entries.get(key) is entry  # others ran during the statement: it may be gone or replaced
        if current:
            self._entries.move_to_end(key)
        self.hits += 1
        # Typed as the data dict it stands for: it goes from here to LendGraphQL.encode_json untouched.
        return ExecutionResult(data=cast(dict[str, Any], KeptBody(entry.text)), errors=None)

    def tag(self) -> int | None:
        """What to store an answer under, read before executing it: the hub's settled horizon (None: not yet)."""
        return self.hub.settled_through

    def store(self, key: Key, document: DocumentNode, tag: int, data: Any) -> None:
        """Keep `data`, computed by an execution that began with every event up to `tag` committed."""
        if tag < self._newest:  # an event about a loan has already committed after it: never served
            return
        text = _encode({"data": data})
        if self.size <= 0 or len(text) > self.max_bytes // 4:  # too large to be worth keeping
            return
        self._drop(key)
        self._entries[key] = Entry(document, tag, text)
        self.bytes += len(text)
        while len(self._entries) > self.size or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    @staticmethod
    def encoded(body: Any) -> str | None:
        """The JSON of an HTTP body whose data is a kept answer's (KeptBody), else None."""
        if isinstance(body, dict) and isinstance(body.get("data"), KeptBody) and body.keys() == {"data"}:
            return body["data"].text
        return None

    def _forget_below(self, newest: int) -> None:
        """Drop every answer an event has made stale: under writes they would otherwise fill the cache
        until evicted, as memory no request can use."""
        self._newest = newest
        for key in [key for key, entry in self._entries.items() if entry.tag < newest]:
            self._drop(key)

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(entry.text)
