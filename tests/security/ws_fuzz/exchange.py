"""Talking to the server: one conversation over one socket, and its answers judged against the model."""

import asyncio
import json
from dataclasses import dataclass, field

import websockets
from websockets.exceptions import ConnectionClosed

from tests.security.ws_fuzz.frames import Frame, text
from tests.security.ws_fuzz.protocol_model import Expected, expect
from tests.ws_protocols import TRANSPORT, Closed, Protocol

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
