"""Transport limits, enforced before GraphQL sees a request (an ASGI middleware).

HTTP:
- a POST to /graphql must be `application/json` (415 otherwise): a browser
  cannot send that cross-origin without a CORS preflight, so no other site
  can make a lender's browser post a mutation (CSRF);
- a body larger than `max_body_bytes` gets 413 before anything parses it;
  the bytes are counted as they arrive (Content-Length is only a shortcut).

WebSocket:
- at most `max_ws_connections_per_ip` open sockets per client IP in this
  process; the next handshake is refused (HTTP 403);
- a message larger than `max_ws_message_bytes` closes the socket with 1009
  (Message Too Big). A real uvicorn also refuses frames beyond its own
  `ws_max_size`; this check holds under any server.
"""

import json
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WS_MESSAGE_TOO_BIG = 1009


def essence(content_type: str) -> str:
    """The MIME type without parameters, lower case: `application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TransportLimits:
    """The ASGI middleware that enforces the limits above; `0` turns a limit off."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        graphql_path: str = "/graphql",
        max_body_bytes: int = 0,
        max_ws_message_bytes: int = 0,
        max_ws_connections_per_ip: int = 0,
    ) -> None:
        self.app = app
        self.graphql_path = graphql_path
        self.max_body_bytes = max_body_bytes
        self.max_ws_message_bytes = max_ws_message_bytes
        self.max_ws_connections_per_ip = max_ws_connections_per_ip
        self.open_sockets: Counter[str] = Counter()

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Returns the call it passes on, unawaited: a socket's call would keep a frame of this as long as it lasts.
        if scope["type"] == "http":
            return self.http(scope, receive, send)
        if scope["type"] == "websocket":
            return self.websocket(scope, receive, send)
        return self.app(scope, receive, send)

    # --- HTTP
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        if scope["method"] == "POST" and scope["path"].rstrip("/") == self.graphql_path:
            content_type = essence(headers.get(b"content-type", b"").decode("latin-1"))
            if content_type != "application/json":
                await _refuse(send, 415, "UNSUPPORTED_MEDIA_TYPE", "Send GraphQL requests as application/json.")
                return
        if not self.max_body_bytes:
            await self.app(scope, receive, send)
            return
        too_large = f"The request body exceeds {self.max_body_bytes} bytes."
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, "REQUEST_TOO_LARGE", too_large)
            return
        # Read the whole body first, counting bytes (a chunked body has no length, and a length can lie).
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _refuse(send, 413, "REQUEST_TOO_LARGE", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    # --- WebSocket
    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        ip = _client_ip(scope)
        cap = self.max_ws_connections_per_ip
        if cap and self.open_sockets[ip] >= cap:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send(
                    {"type": "websocket.close", "code": 1008, "reason": "Too many connections from this address"}
                )
            return
        self.open_sockets[ip] += 1
        try:
            if self.max_ws_message_bytes:
                receive, send = self._sized(receive, send)
            await self.app(scope, receive, send)
        finally:
            self.open_sockets[ip] -= 1
            if self.open_sockets[ip] <= 0:
                del self.open_sockets[ip]

    def _sized(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """receive/send that close the socket on an oversized message and drop what the app sends after."""
        limit = self.max_ws_message_bytes
        closed = False

        async def sized_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive":
                data: Any = message.get("bytes")
                if data is None:
                    text = message.get("text") or ""
                    # At most 4 bytes a character: encode only when the length alone cannot tell.
                    too_big = len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit)
                else:
                    too_big = len(data) > limit
                if too_big and not closed:
                    closed = True
                    await send({"type": "websocket.close", "code": WS_MESSAGE_TOO_BIG, "reason": "Message too big"})
                    return {"type": "websocket.disconnect", "code": WS_MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:
                await send(message)

        return sized_receive, guarded_send
