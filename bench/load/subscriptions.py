"""A subscriber that carries on: one graphql-transport-ws subscription that resumes with `after`.

When its socket drops, or the server ends the stream with an error, it opens a new socket and
subscribes again with `after` set to the last event id it received, as a careful client does
(README, Reliability). It keeps every event id in order and counts the events by their kind, so
the load run reports what arrived and the fault tests check that nothing was missed or repeated.
"""

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import websockets
from websockets.typing import Subprotocol

RECONNECT_PAUSE = 0.1  # seconds; soon, so a test sees the edges of an outage


class Resuming:
    """One subscription (operation id "s") to `field`, signed in with `token` if given; run until cancelled."""

    def __init__(
        self,
        ws_url: str,
        query: str,
        variables: dict[str, Any],
        field: str,
        *,
        token: str | None = None,
        after: str | None = None,
    ) -> None:
        """`after`: where the first subscription starts ("0" for every event; None for live events only)."""
        self.ws_url, self.query, self.variables, self.field = ws_url, query, variables, field
        self.token, self.first_after = token, after
        self.ids: list[int] = []
        self.kinds: Counter[str] = Counter()  # events by their `kind`, else their __typename, else the field
        self.errors: list[dict[str, Any]] = []  # `error` messages and `next` messages with errors
        self.reconnects = 0
        self.subscribed = asyncio.Event()  # set once the first subscribe message went out after the ack

    async def run(self) -> None:
        while True:
            with contextlib.suppress(websockets.WebSocketException, OSError, TimeoutError, ConnectionError):
                await self._session()
            self.reconnects += 1
            await asyncio.sleep(RECONNECT_PAUSE)

    async def _session(self) -> None:
        async with websockets.connect(self.ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
            init = {"authorization": f"Bearer {self.token}"} if self.token else {}
            await socket.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if ack.get("type") != "connection_ack":
                raise ConnectionError(f"no connection_ack: {ack}")
            variables = {**self.variables, "after": str(self.ids[-1]) if self.ids else self.first_after}
            payload = {"query": self.query, "variables": variables}
            await socket.send(json.dumps({"id": "s", "type": "subscribe", "payload": payload}))
            self.subscribed.set()
            async for raw in socket:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                elif kind == "next" and not message["payload"].get("errors"):
                    self._event(message["payload"]["data"][self.field])
                elif kind in ("next", "error", "complete"):
                    self.errors.append(message)
                    return  # subscribe again from the last id received

    def _event(self, event: dict[str, Any]) -> None:
        self.ids.append(int(event["eventId"]))
        self.kinds[str(event.get("kind") or event.get("__typename") or self.field)] += 1
