"""Conversations drawn by hypothesis: well-formed messages in any order, then anything."""

import json
from typing import Any

from hypothesis import strategies as st

from tests.security.ws_fuzz.frames import DOCUMENTS, TOKEN, Frame, binary, raw, text
from tests.ws_protocols import TRANSPORT, Protocol

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
                '{"type": "connection_init", "payload": {"n": ' + "9" * 5000 + "}}", "[" * 5000 + "]" * 5000,
                "NaN"]  # fmt: skip


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
