"""Access control: the suite covers the whole schema (tests/security/access_control/ describes the suite).

Every Query and Subscription field, every type implementing Node, every connection, every field
that returns a lender's private type, every mutation that takes an id and every private Lender
field must be exercised by a document or table row of the suite, so that adding one without an
authorization case fails.
"""

from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLUnionType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    validate,
    visit,
)
from strawberry.permission import PermissionExtension

from graph.ids import encode_id
from graph.schema import schema
from tests.security.access_control.audit import report
from tests.security.access_control.cases import CROSS_OWNER, PROBES
from tests.security.access_control.documents import (
    DEFAULT,
    DELETE_SEARCH,
    FRAGMENTS,
    GQL,
    LEND_,
    LIST,
    MY_EVENT_KINDS,
    MY_EVENTS,
    OWN_PAYLOADS,
    PREVIEWS,
    REPAY,
    REVOKE,
    STREAM_SELECTIONS,
    listed_document,
    nodes_document,
    progress_document,
)
from tests.security.access_control.private import (
    PEEK,
    PERMISSION_SCOPE,
    PRIVATE_LENDER_FIELDS,
    PRIVATE_NODE_TYPES,
    PRIVATE_TYPES,
    PUBLIC_LENDER_FIELDS,
    PUBLIC_NODE_TYPES,
    PUBLIC_STREAM_FIELDS,
)


class _Fields(Visitor):
    """Collects (parent type, field) pairs; run inside a TypeInfoVisitor sharing `info`."""

    def __init__(self, info: TypeInfo, seen: set[tuple[str, str]]) -> None:
        super().__init__()
        self.info, self.seen = info, seen

    def enter_field(self, node, *_):
        parent = self.info.get_parent_type()
        if parent is not None:
            self.seen.add((parent.name, node.name.value))


def _fields_selected(documents: list[str]) -> set[tuple[str, str]]:
    """(parent type, field) for every field each document selects, fragments included."""
    seen: set[tuple[str, str]] = set()
    for document in documents:
        ast = parse(document)
        errors = validate(GQL, ast)
        assert not errors, (errors, document)
        info = TypeInfo(GQL)
        visit(ast, TypeInfoVisitor(info, _Fields(info, seen)))
    return seen


def _id_inputs(type_, seen=None) -> bool:
    """Whether an argument or input type holds an ID anywhere."""
    named = get_named_type(type_)
    if named.name == "ID":
        return True
    seen = seen or set()
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        seen.add(named.name)
        return any(_id_inputs(field.type, seen) for field in named.fields.values())
    return False


def _implementations(name: str) -> set[str]:
    return {t.name for t in GQL.get_implementations(GQL.get_type(name)).objects}


def all_documents() -> list[str]:
    return [
        *(probe.document for probe in PROBES),
        PREVIEWS,
        nodes_document([encode_id("Share", 1)]),
        DELETE_SEARCH, REVOKE, REPAY, DEFAULT, LIST, LEND_,
        *OWN_PAYLOADS.values(),
        MY_EVENTS,
        *(progress_document(selection) for selection in STREAM_SELECTIONS.values()),
        *(listed_document(selection) for selection in STREAM_SELECTIONS.values()),
    ]  # fmt: skip


def test_the_suite_covers_the_whole_schema():
    selected = _fields_selected(all_documents())
    problems = []

    # Every Query field and every Subscription field.
    for root in (GQL.query_type, GQL.subscription_type):
        missing = {name for name in root.fields if (root.name, name) not in selected}
        if missing:
            problems.append(f"{root.name} fields without an authorization case: {sorted(missing)}")

    # Every node type is classified public or private, and node(id) tries each private one.
    nodes = _implementations("Node")
    classified = PUBLIC_NODE_TYPES | PRIVATE_NODE_TYPES.keys()
    if nodes != classified:
        problems.append(f"node types not classified public or private: {sorted(nodes ^ classified)}")
    owned_fragment = FRAGMENTS["Owned"] + FRAGMENTS["PublicNode"]
    for name in nodes:
        if f"... on {name} " not in owned_fragment:
            problems.append(f"the node(id) probe does not select the node type {name}")

    # Every field that returns a connection, an edge, a private node type or another private type.
    connections = {
        name for name, t in GQL.type_map.items() if name.endswith(("Connection", "Edge")) and not name.startswith("__")
    }
    private = PRIVATE_TYPES | PRIVATE_NODE_TYPES.keys() | _implementations("LenderEvent") | connections
    for type_name, graphql_type in GQL.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            named = get_named_type(field.type)
            members = {t.name for t in named.types} if isinstance(named, GraphQLUnionType) else {named.name}
            if members & private and (type_name, field_name) not in selected and graphql_type is not GQL.mutation_type:
                problems.append(f"{type_name}.{field_name} (a {named.name}) is reached by no document of this suite")

    # Lender: each field is public or guarded by a permission, and the suite knows which and with what scope.
    lender = schema.get_type_by_name("Lender")
    for field in lender.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        guards = [p for e in field.extensions if isinstance(e, PermissionExtension) for p in e.permissions]
        if guards:
            scopes = {PERMISSION_SCOPE.get(type(p)) for p in guards}
            if name not in PRIVATE_LENDER_FIELDS or PRIVATE_LENDER_FIELDS[name][0] not in scopes:
                problems.append(f"Lender.{name} is guarded by {guards}: add it to PRIVATE_LENDER_FIELDS with its scope")
        elif name not in PUBLIC_LENDER_FIELDS:
            problems.append(f"Lender.{name} has no permission but is not a known public field: guard it or review it")
    if set(PEEK) != set(PRIVATE_LENDER_FIELDS):
        problems.append("every private Lender field needs its light selection and subscription case (PEEK)")

    # Every mutation that takes an id has a cross-owner case.
    for name, field in GQL.mutation_type.fields.items():
        if any(_id_inputs(arg.type) for arg in field.args.values()) and name not in {a.mutation for a in CROSS_OWNER}:
            problems.append(f"mutation {name} takes an id but has no case of someone else's id in CROSS_OWNER")
    for name in OWN_PAYLOADS:
        if name not in GQL.mutation_type.fields:
            problems.append(f"OWN_PAYLOADS names an unknown mutation {name}")

    # The public streams carry only reviewed fields; every kind of a lender's own event is exercised.
    for type_name, allowed in PUBLIC_STREAM_FIELDS.items():
        extra = set(GQL.get_type(type_name).fields) - allowed
        if extra:
            problems.append(f"{type_name} has unreviewed fields {sorted(extra)}: may they be public?")
    if _implementations("LenderEvent") != MY_EVENT_KINDS:
        problems.append(f"myEvents kinds not exercised: {sorted(_implementations('LenderEvent') ^ MY_EVENT_KINDS)}")

    assert not problems, report(problems)
