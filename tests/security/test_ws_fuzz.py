"""OWASP GraphQL cheat sheet, "Input Validation", for WebSockets: a property-based fuzz of both protocols.

hypothesis writes conversations, a few frames each, and sends each over one
socket to a real server (uvicorn on a free port, tests/ws.py), on
graphql-transport-ws and on the legacy graphql-ws: connection_init (anonymous,
with a valid token, with a bogus one, with a payload of the wrong type), operations
(subscribe / start) of quick queries, mutations, long-running subscriptions and
documents that cannot run, stops (complete / stop), ping and pong, unknown and
server-only types, in any order, with ids that repeat; and malformed frames:
JSON that is not an object, messages whose fields have other types (an id that
is a number, null, an object or a list; a payload that is no object; a query
that is no string; variables, extensions or operationName of the wrong type),
text that is not JSON, JSON Python cannot read, binary frames.

A model of each protocol, written below from the protocols' specifications
(github.com/enisdenjo/graphql-ws PROTOCOL.md, and subscriptions-transport-ws
for graphql-ws), not from the server's code, says how the server must answer:

- close with 4400 at the first malformed frame, 4401 on an operation before
  connection_init, 4409 on an operation whose id is still running
  (graphql-transport-ws), 4429 on a second connection_init, and 1000 after
  graphql-ws's connection_terminate;
- otherwise stay open, answer each ping with a pong (graphql-transport-ws)
  and end each operation that ends: `complete` or `error`, with its id.

Where the model cannot tell (a quick operation's id used again: it may or may
not have ended by then), any 44xx close, or staying open, will do. Whatever
the conversation, the server must never drop the socket (1006) or close it as
failed (1011), answer only messages of its protocol, never with "Internal
error", and log nothing but refusals of GraphQL requests: no traceback. It
must still serve afterwards.

`CASES` replays hand-written conversations on every run, the malformed input
that once dropped the socket among them.
"""

import asyncio
import gc
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from lending.errors import LendingError
from tests.conftest import serve
from tests.ws_protocols import LEGACY, PROTOCOLS, TRANSPORT, Closed, Protocol

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKEN = "<the lender's token>"  # replaced by the real token when sent


# ============================================================== frames


UNREADABLE = object()  # text that is not JSON Python can read
BINARY = object()


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    message: Any  # the JSON value sent, UNREADABLE or BINARY

    def __repr__(self) -> str:
        shown = repr(self.data)
        return f"Frame({shown[:200]}{'...' if len(shown) > 200 else ''})"

    def wire(self, token: str) -> str | bytes:
        return self.data.replace(TOKEN, token) if isinstance(self.data, str) else self.data


def text(message: Any) -> Frame:
    """A text frame holding `message` as JSON (lone surrogates escaped, as any client may send them)."""
    return Frame(json.dumps(message), message)


def raw(data: str) -> Frame:
    try:
        return Frame(data, json.loads(data))
    except (ValueError, RecursionError):
        return Frame(data, UNREADABLE)


def binary(data: bytes) -> Frame:
    return Frame(data, BINARY)


QUICK, LONG, LONG_IF_SIGNED_IN = "quick", "long", "long if signed in"

# name: (query, operationName, how long it runs once started)
DOCUMENTS = {
    "typename": ("{ __typename }", None, QUICK),
    "loans": ("query($n: Int) { loans(first: $n) { totalCount } }", None, QUICK),
    "listings": ("subscription { loanListed { loan { name } } }", None, LONG),
    "my events": ("subscription { myEvents { __typename } }", None, LONG_IF_SIGNED_IN),  # anonymous: refused
    "deposit": ('mutation { deposit(input: {amount: "1.00", idempotencyKey: "fuzz"}) { __typename } }', None, QUICK),
    "syntax error": ("{ ", None, QUICK),
    "empty": ("", None, QUICK),
    "blank": (" \n\t", None, QUICK),
    "too many tokens": ("{ " + "__typename " * 2100 + "}", None, QUICK),
    "unknown field": ("{ nope }", None, QUICK),
    "unknown operation": ("query A { __typename }", "B", QUICK),
    "two operations, none named": ("query A { __typename } subscription B { loanListed { loan { name } } }", None, QUICK),
    "two operations, one named": ("query A { __typename } subscription B { loanListed { loan { name } } }", "B", LONG),
    "fragments only": ("fragment F on Query { __typename }", None, QUICK),
    "node of Loan:abc": ('{ node(id: "TG9hbjphYmM=") { id } }', None, QUICK),
    "loan progress of Loan:1e3": ('subscription { loanProgress(loanId: "TG9hbjoxZTM=") { eventId } }', None, QUICK),
    "too deep": ("{ " + "loans { edges { node { partner { " * 4 + "id" + " }" * 16 + " }", None, QUICK),
}  # fmt: skip

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "\x00", "\u202e", "1", "subscribe", "start", "Bearer lg_x"]),
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
NOT_OBJECTS = ANY_JSON.filter(lambda value: not isinstance(value, dict))
POOL = st.sampled_from(["1", "2", "a"])  # drawn often: ids used twice, stops of running operations
IDS = st.one_of(
    POOL,
    POOL,
    POOL,
    st.text(max_size=3),  # "" is no id
    st.sampled_from(["\ud800", "x" * 300, "é" * 100]),  # a lone surrogate; close reasons that quote it must fit
)
INIT_PAYLOADS = st.sampled_from(
    [
        {},
        {"authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": "Bearer lg_never_issued"},
        {"authorization": TOKEN},
        {"authorization": 5},
        {"authorization": ["Bearer", TOKEN]},
    ]
)
VARIABLES = st.one_of(
    st.just({}), st.none(), st.just({"n": 5}), st.just({"n": "five"}), st.just({"n": 10**30}), st.just({"unused": 1})
)


def optional(name: str, values: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """{} or {name: value}: a field left out or sent."""
    return st.one_of(st.just({}), values.map(lambda value: {name: value}))


def start_message(protocol: Protocol) -> st.SearchStrategy[dict]:
    def build(op_id: str, document: str, variables: dict, extensions: dict, name: dict) -> dict:
        query, operation_name, _ = DOCUMENTS[document]
        payload = {"query": query, **variables, **extensions, **name}
        if operation_name is not None:
            payload["operationName"] = operation_name
        return {"type": protocol.start, "id": op_id, "payload": payload}

    return st.builds(
        build,
        IDS,
        st.one_of(st.sampled_from(sorted(DOCUMENTS)), st.sampled_from(["typename", "listings", "my events"])),
        optional("variables", VARIABLES),
        optional("extensions", st.sampled_from([{}, None, {"persistedQuery": {"version": 1}}])),
        optional("operationName", st.none()),
    )


INITS = optional("payload", st.one_of(INIT_PAYLOADS, st.none())).map(lambda p: {"type": "connection_init", **p})


def valid_messages(protocol: Protocol, inits: int) -> st.SearchStrategy[dict]:
    """Well-formed messages of the protocol; connection_init `inits` times in 16 (a second one ends it)."""
    stop = IDS.map(lambda op_id: {"type": protocol.stop, "id": op_id})
    others = [*[start_message(protocol)] * 8, stop, stop, stop]
    if protocol is TRANSPORT:
        pings = st.sampled_from(["ping", "pong"]).flatmap(
            lambda kind: optional("payload", st.sampled_from([{}, None, {"at": 1}])).map(lambda p: {"type": kind, **p})
        )
        others += [pings] * 4
    else:
        others += [st.just({"type": "connection_terminate"})]
    return st.one_of(*[INITS] * inits, *others[: 16 - inits])


OTHER_TYPES = ["", "zzz", "PING", "x" * 300, "connection_ack", "next", "data", "error", "ka", "connection_error"]


def unknown_messages(protocol: Protocol) -> st.SearchStrategy[dict]:
    theirs = {"subscribe", "complete", "start", "stop", "ping", "pong", "connection_terminate"}
    ours = {"connection_init", protocol.start, protocol.stop}
    kinds = sorted(set(OTHER_TYPES) | (theirs - ours - ({"ping", "pong"} if protocol is TRANSPORT else set())))
    return st.builds(lambda kind, op_id: {"type": kind, **op_id}, st.sampled_from(kinds), optional("id", IDS))


def broken(message: dict) -> st.SearchStrategy[dict]:
    """`message` with one field, at the top or in its payload, replaced by any JSON value or left out."""
    paths = [(key,) for key in message] + [("payload", key) for key in message.get("payload") or {}]
    paths += [("payload",), ("payload", "query"), ("payload", "variables"), ("payload", "operationName")]

    def replace(path: tuple[str, ...], value: Any, drop: bool) -> dict:
        copy = json.loads(json.dumps(message))
        target = copy
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                return copy
            target = target[key]
        if drop:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        return copy

    return st.builds(replace, st.sampled_from(paths), ANY_JSON, st.booleans())


# Text that is no JSON, or JSON Python cannot read, or JSON that is no message.
NOT_MESSAGES = ["", " ", "{", "nul", '{"type": "ping"', "[1,]", "{'type': 'ping'}", '{"type": "ping"}x', "9" * 5000,
                '{"type": "connection_init", "payload": {"n": ' + "9" * 5000 + "}}", "[" * 5000 + "]" * 5000, "NaN"]  # fmt: skip


def frames(protocol: Protocol) -> st.SearchStrategy[Frame]:
    valid = valid_messages(protocol, inits=3).map(text)
    return st.one_of(
        valid,
        valid,
        valid,
        valid,
        valid_messages(protocol, inits=3).flatmap(broken).map(text),
        unknown_messages(protocol).map(text),
        NOT_OBJECTS.map(text),
        st.sampled_from(NOT_MESSAGES).map(raw),
        st.one_of(st.binary(max_size=16), valid_messages(protocol, inits=3).map(lambda m: json.dumps(m).encode())).map(
            binary
        ),
    )


def conversations(protocol: Protocol) -> st.SearchStrategy[list[Frame]]:
    """Mostly begun as a client should begin (connection_init, anonymous or signed in), then well-formed
    messages in any order, then anything: a malformed frame ends a conversation, so it comes mostly last."""
    opening = st.sampled_from(
        [
            [text({"type": "connection_init", "payload": {}})],
            [text({"type": "connection_init", "payload": {"authorization": f"Bearer {TOKEN}"}})],
            [],
        ]
    )
    body = st.lists(valid_messages(protocol, inits=0).map(text), max_size=6)
    tail = st.lists(frames(protocol), max_size=2)
    return st.tuples(opening, body, tail).map(lambda t: t[0] + t[1] + t[2]).filter(bool)


# ============================================================== the model


@dataclass
class Expected:
    """What the server must do with a conversation: close with `close`, or stay open (None)."""

    close: int | None = None
    known: bool = True  # False: the model cannot tell; any 44xx close, or staying open, will do
    pongs: int = 0
    acknowledged: bool = False
    ending: set[str] = field(default_factory=set)  # operations whose end (`complete` or `error`) must come
    started: set[str] = field(default_factory=set)  # every id an operation was started with


def _object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _valid_id(message: dict) -> bool:
    return isinstance(message.get("id"), str) and message["id"] != ""


def _valid_start(message: dict) -> bool:
    payload = message.get("payload")
    return (
        _valid_id(message)
        and isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and _object_or_null(payload.get("variables"))
        and _object_or_null(payload.get("extensions"))
        and (payload.get("operationName") is None or isinstance(payload["operationName"], str))
    )


def _signs_in(message: dict) -> bool:
    payload = message.get("payload") or {}
    value = payload.get("authorization") or payload.get("Authorization")
    return value == f"Bearer {TOKEN}"


def _runs(message: dict, signed_in: bool) -> str:
    payload = message["payload"]
    for query, operation_name, runs in DOCUMENTS.values():
        if payload["query"] == query and payload.get("operationName") == operation_name:
            if runs == LONG_IF_SIGNED_IN:
                return LONG if signed_in else QUICK
            return runs
    return QUICK  # a document the fuzz changed: whatever it is, it cannot run for long


def expect(protocol: Protocol, conversation: list[Frame]) -> Expected:
    """The server's answer to `conversation`, by the protocol's rules."""
    out = Expected()
    running: dict[str, str] = {}
    initialised = signed_in = False
    for frame in conversation:
        message = frame.message
        if message is BINARY or message is UNREADABLE or not isinstance(message, dict):
            return Expected(close=4400, started=out.started)
        kind = message.get("type")
        if not isinstance(kind, str):
            return Expected(close=4400, started=out.started)
        if kind == "connection_init":
            if not _object_or_null(message.get("payload")):
                return Expected(close=4400, started=out.started)
            if initialised:
                return Expected(close=4429, started=out.started)
            initialised = out.acknowledged = True
            signed_in = _signs_in(message)
        elif kind == protocol.start:
            if not _valid_start(message):
                return Expected(close=4400, started=out.started)
            if not initialised:
                return Expected(close=4401, started=out.started)
            op_id = message["id"]
            out.started.add(op_id)
            if protocol is TRANSPORT and op_id in running:
                if running[op_id] == LONG:
                    return Expected(close=4409, started=out.started)
                return Expected(known=False, started=out.started)  # it may have ended by now, or not
            running[op_id] = _runs(message, signed_in)
            if running[op_id] == QUICK:
                out.ending.add(op_id)
            else:
                out.ending.discard(op_id)
        elif kind == protocol.stop:
            if not _valid_id(message):
                return Expected(close=4400, started=out.started)
            running.pop(message["id"], None)
            out.ending.discard(message["id"])  # it may have ended before, or be stopped silently
        elif protocol is TRANSPORT and kind in ("ping", "pong"):
            if not _object_or_null(message.get("payload")):
                return Expected(close=4400, started=out.started)
            out.pongs += kind == "ping"
        elif protocol is LEGACY and kind == "connection_terminate":
            return Expected(close=1000, started=out.started)
        elif protocol is TRANSPORT:
            return Expected(close=4400, started=out.started)  # graphql-transport-ws knows no other type
        # graphql-ws: other types are ignored
    return out


# ============================================================== talking to the server


SENTINEL = "sentinel"  # an id no generated conversation uses (IDS are at most 3 characters, or 100+)


@dataclass
class Transcript:
    messages: list[dict] = field(default_factory=list)
    closed: Closed | None = None
    raw: list[str] = field(default_factory=list)

    def ended(self, op_id: str) -> bool:
        return any(m.get("id") == op_id and m.get("type") in ("complete", "error") for m in self.messages)


def sentinel_for(protocol: Protocol, expected: Expected) -> Frame | None:
    """A last frame whose answer shows that the server has read everything before it."""
    if expected.close is not None or not expected.known:
        return None
    if protocol is TRANSPORT:
        return text({"type": "ping"})
    if expected.acknowledged:
        return text({"type": "start", "id": SENTINEL, "payload": {"query": "{ "}})
    return None


async def converse(url: str, protocol: Protocol, conversation: list[Frame], token: str) -> tuple[Expected, Transcript]:
    expected = expect(protocol, conversation)
    sentinel = sentinel_for(protocol, expected)
    transcript = Transcript()

    def done() -> bool:
        if expected.close is not None or sentinel is None:
            return False
        if protocol is TRANSPORT:
            pongs = sum(m.get("type") == "pong" for m in transcript.messages)
            answered = pongs >= expected.pongs + 1
        else:
            answered = transcript.ended(SENTINEL)
        return answered and all(transcript.ended(op_id) for op_id in expected.ending)

    # The client's own keep-alive pings stay off: the server's pongs to them are not the protocol's.
    async with websockets.connect(url, subprotocols=[protocol.name], ping_interval=None, max_size=None) as socket:
        try:
            for frame in [*conversation, *([sentinel] if sentinel else [])]:
                await socket.send(frame.wire(token))
        except ConnectionClosed:
            pass  # closed by the server half-way: its answer is read below
        quiet = 0.3 if sentinel is None and expected.close is None else 10
        try:
            while not done():
                async with asyncio.timeout(quiet):
                    received = await socket.recv()
                transcript.raw.append(received if isinstance(received, str) else repr(received))
                transcript.messages.append(json.loads(received))
        except ConnectionClosed as error:
            transcript.closed = Closed.of(error)
        except TimeoutError:
            pass  # open, and quiet
    return expected, transcript


def judge(protocol: Protocol, conversation: list[Frame], expected: Expected, transcript: Transcript) -> None:
    said = (
        f"\nconversation: {conversation}\nexpected: {expected}\nanswers: {transcript.raw}\nclosed: {transcript.closed}"
    )
    closed = transcript.closed
    assert closed is None or closed.code not in (1006, 1011), f"the server dropped the socket or failed{said}"
    for text_message, message in zip(transcript.raw, transcript.messages, strict=True):
        assert isinstance(message, dict) and message.get("type") in protocol.server_types, f"not a message{said}"
        assert '"INTERNAL"' not in text_message and "Internal error" not in text_message, f"an internal error{said}"
        if message["type"] in ("next", "data", "error", "complete"):
            assert message.get("id") in expected.started | {SENTINEL}, f"an answer to no operation{said}"
        if message["type"] == "error":
            errors = message["payload"] if protocol is TRANSPORT else [message["payload"]]
            assert errors and all(isinstance(e.get("message"), str) and e["message"] for e in errors), said
        if message["type"] == "connection_ack":
            assert expected.acknowledged or not expected.known or expected.close is not None, said
    if not expected.known:
        assert closed is None or 4400 <= closed.code < 4500, f"a close code outside 44xx{said}"
        return
    if expected.close is not None:
        assert closed is not None, f"the server should have closed the socket with {expected.close}{said}"
        assert closed.code == expected.close, f"closed with {closed.code}, not {expected.close}{said}"
        return
    assert closed is None, f"the socket should have stayed open{said}"
    for op_id in expected.ending:
        assert transcript.ended(op_id), f"operation {op_id!r} never ended{said}"
    if protocol is TRANSPORT:
        assert sum(m["type"] == "pong" for m in transcript.messages) == expected.pongs + 1, f"a ping unanswered{said}"


# ============================================================== the server's log


REFUSALS = ("strawberry.execution", "lendgraph.requests")  # the loggers of GraphQL errors in requests


class Log(logging.Handler):
    """Records of every logger at WARNING and above; GraphQL refusals that strawberry logs are expected."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self) -> list[str]:
        found = []
        for record in self.records:
            error = record.exc_info[1] if record.exc_info else None
            if record.name in REFUSALS and (error is None or isinstance(error, LendingError)):
                continue  # a GraphQL error (syntax, validation, a domain refusal): not a server fault
            found.append(self.format(record) if record.exc_info else f"{record.name}: {record.getMessage()}")
        return found


@pytest.fixture
async def ws_server(database_url, clock):
    """The app on a real port, rate limits off (the fuzz sends far more than a token may); a signed-up lender.

    Afterwards the server must still serve, and its log hold nothing unexpected.
    """
    log = Log()
    log.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root, server = logging.getLogger(), logging.getLogger("uvicorn")
    root.addHandler(log)
    off = {"rate_limit_per_ip": 0, "rate_limit_per_token": 0, "rate_limit_money_per_lender": 0}
    try:
        async with serve(database_url, clock, websockets=True, **off) as api:
            # uvicorn's loggers do not propagate to the root ("Exception in ASGI application" is logged there),
            # and its configuration, applied as it starts, replaces their handlers: listen from now on.
            server.addHandler(log)
            _, token = await api.funded_lender("100.00")
            yield api, token
            await still_serves(api, token)
        gc.collect()  # a task whose exception nobody retrieved is logged when it is collected
    finally:
        root.removeHandler(log)
        server.removeHandler(log)
    assert not log.unexpected(), "\n".join(log.unexpected())


async def still_serves(api: Any, token: str) -> None:
    body = await api.post("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}, body
    async with websockets.connect(api.ws_url, subprotocols=[TRANSPORT.name]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "{ me { displayName } }"}}))
        assert json.loads(await socket.recv())["payload"] == {"data": {"me": {"displayName": "Ada"}}}


# ============================================================== tests


def m(message: Any) -> Frame:
    return text(message)


INIT = m({"type": "connection_init", "payload": {}})
SIGNED_IN = m({"type": "connection_init", "payload": {"authorization": f"Bearer {TOKEN}"}})


def sub(protocol: Protocol, op_id: Any = "1", **payload: Any) -> Frame:
    return m({"type": protocol.start, "id": op_id, "payload": {"query": "{ __typename }", **payload}})


def cases(protocol: Protocol) -> list[tuple[str, list[Frame]]]:
    """Hand-written conversations, each judged by the model like a generated one."""
    t = protocol
    listings = "subscription { loanListed { loan { name } } }"
    return [
        *[(f"not an object: {v!r}", [INIT, m(v)]) for v in ([], "x", 42, None, True)],
        *[(f"id {v!r}", [INIT, sub(t, v)]) for v in (1, None, {}, [], "")],
        *[(f"payload {v!r}", [INIT, m({"type": t.start, "id": "1", "payload": v})]) for v in (None, [], "{ a }", 1)],
        ("query not a string", [INIT, sub(t, query=["{ __typename }"])]),
        ("variables not an object", [INIT, sub(t, variables=[1])]),
        ("extensions not an object", [INIT, sub(t, extensions="x")]),
        ("operationName not a string", [INIT, sub(t, operationName=1)]),
        ("stop with an object id", [INIT, m({"type": t.stop, "id": {"a": 1}})]),
        ("a binary frame", [INIT, binary(b"\x00\x01")]),
        ("a binary message", [INIT, binary(json.dumps({"type": t.start, "id": "1", "payload": {}}).encode())]),
        ("not JSON", [INIT, raw("{")]),
        ("a 5000-digit number", [raw('{"type": "connection_init", "payload": {"n": ' + "9" * 5000 + "}}")]),
        ("a syntax error", [INIT, sub(t, query="{ ")]),
        ("too many tokens", [INIT, sub(t, query="{ " + "__typename " * 2100 + "}")]),
        ("an empty query", [INIT, sub(t, query="")]),
        ("an unknown operation", [INIT, sub(t, operationName="B")]),
        ("node(id: Loan:abc)", [INIT, sub(t, query='{ node(id: "TG9hbjphYmM=") { id } }')]),
        ("connection_init with null", [m({"type": "connection_init", "payload": None})]),
        ("connection_init with a list", [m({"type": "connection_init", "payload": []})]),
        ("connection_init twice", [INIT, INIT]),
        ("an operation before connection_init", [sub(t)]),
        ("an operation that is still running, again", [SIGNED_IN, sub(t, query=listings), sub(t, query=listings)]),
        ("a long id, twice", [INIT, sub(t, "é" * 100, query=listings), sub(t, "é" * 100, query=listings)]),
        ("a lone surrogate in an unknown type", [INIT, m({"type": "\ud800" + "x" * 200})]),
        ("stopped, then the same id again", [INIT, sub(t, query=listings), m({"type": t.stop, "id": "1"}), sub(t)]),
    ]


CASES = [(protocol, name, conversation) for protocol in (TRANSPORT, LEGACY) for name, conversation in cases(protocol)]


async def test_hand_written_conversations(ws_server):
    """Every case, judged as the fuzz judges; all failures reported together."""
    api, token = ws_server
    failures = []
    for protocol, name, conversation in CASES:
        expected, transcript = await converse(api.ws_url, protocol, conversation, token)
        try:
            judge(protocol, conversation, expected, transcript)
        except AssertionError as failure:
            failures.append(f"[{protocol.name}: {name}] {failure}")
    assert not failures, f"{len(failures)} of {len(CASES)} cases fail:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzz_websocket_messages(ws_server, protocol: str, data: st.DataObject):
    api, token = ws_server
    chosen = PROTOCOLS[protocol]
    conversation = data.draw(conversations(chosen), label="conversation")
    expected, transcript = await converse(api.ws_url, chosen, conversation, token)
    outcome = "unknown" if not expected.known else f"closed {expected.close}" if expected.close else "open"
    event(f"expected: {outcome}")  # --hypothesis-show-statistics
    judge(chosen, conversation, expected, transcript)
