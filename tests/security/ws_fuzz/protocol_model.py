"""A model of each protocol, written from the protocols' specifications (github.com/enisdenjo/graphql-ws
PROTOCOL.md, and subscriptions-transport-ws for graphql-ws), not from the server's code: how the server
must answer a conversation."""

from dataclasses import dataclass, field
from typing import Any

from tests.security.ws_fuzz.frames import BINARY, DOCUMENTS, LONG, LONG_IF_SIGNED_IN, QUICK, TOKEN, UNREADABLE, Frame
from tests.ws_protocols import LEGACY, TRANSPORT, Protocol


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
