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

A model of each protocol (ws_fuzz/protocol_model.py), written from the protocols' specifications
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

The frames, the conversations drawn, the model and the judging are in tests/security/ws_fuzz/; the
server's fixture, the hand-written cases and the tests are here.
"""

import gc
import json
import logging
import os
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lending.errors import LendingError
from tests.conftest import serve
from tests.security.ws_fuzz.exchange import converse, judge
from tests.security.ws_fuzz.frames import TOKEN, Frame, binary, raw, text
from tests.security.ws_fuzz.strategies import conversations
from tests.ws_protocols import LEGACY, PROTOCOLS, TRANSPORT, Protocol

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


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
