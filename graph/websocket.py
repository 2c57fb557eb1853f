"""GraphQL over WebSocket: graphql-transport-ws and the legacy graphql-ws, on strawberry's handlers.

What the handlers add to strawberry's:

- Malformed messages. A message that is not a JSON object, or whose fields
  have the wrong types (checked as the graphql-ws reference server checks
  them: an `id` is a non-empty string, a subscribe `payload` an object with a
  string `query`, `variables` and `extensions` objects or null, `operationName`
  a string or null), closes the socket with 4400 and a reason, on both
  protocols; so do unreadable JSON and binary frames. Nothing raises, nothing
  is logged.
- Documents that cannot run. A syntax error, too many tokens, an unknown or
  ambiguous operation name, an empty query and, on graphql-ws, anything but a
  subscription get an `error` message with the GraphQL error; the socket stays
  open.
- Revoked tokens. A socket signed in with a token (connection_init) runs no
  operation once the token is revoked: each operation first reads the token
  by primary key (lending.tokens.is_live), so a revocation committed by any
  process refuses the next one; and this process's hub, reading the
  revocation from the outbox, stops the socket's running operations at once,
  as if the client had gone (a mutation halfway commits whole or not at
  all). Either way the socket is closed with 4403.
- A token that cannot be read at connection_init (the database gone) closes
  the socket with 1013 (try again later), not with a server error.
- graphql-transport-ws: the server pings every keep_alive_interval
  (strawberry keeps only graphql-ws alive).
- graphql-ws: closed with 4408 when connection_init does not come in time,
  and with 4429 on a second connection_init (which would sign the socket in
  again), as graphql-transport-ws does.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import uuid
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected as SendAfterClose
from strawberry.types import ExecutionResult

from graph.context import Context
from graph.fanout import aim
from graph.strawberry_internals import (
    AsyncWebSocketAdapter,
    BaseGraphQLTransportWSHandler,
    BaseGraphQLWSHandler,
    NonJsonMessageReceived,
    NonTextMessageReceived,
    Operation,
    PreExecutionError,
    WebSocketDisconnected,
)
from graph.uvicorn_internals import SCOPE_KEY, Wire
from graph.websocket_messages import LEGACY, TRANSPORT, message_problem, operation_problem, share_text
from lending.tokens import is_live
from subscriptions.hub import Inbox
from subscriptions.parking import PARKING, Parked, Parking

log = logging.getLogger("lendgraph.errors")

BAD_REQUEST = 4400
FORBIDDEN = 4403
TOO_MANY_INITIALISATION_REQUESTS = 4429
TRY_AGAIN_LATER = 1013
MAX_REASON_BYTES = 123  # a close frame's reason, by RFC 6455


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a helper task and wait for its end, without swallowing a cancel aimed at the caller."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def signed_in(
    handler: "TransportWSHandler | LegacyWSHandler",
    handle_connection_init: Callable[[Any], Awaitable[None]],
    message: Any,
) -> bool:
    """Run strawberry's connection_init (on_ws_connect reads the token); True once acknowledged."""
    try:
        await handle_connection_init(message)
    except Exception as error:  # the token could not be read: the client may try again
        log.warning("connection_init failed, socket closed with 1013: %r", error)
        await handler.websocket.close(TRY_AGAIN_LATER, "Try again later")
        return False
    return bool(handler.connection_acknowledged)


def internal_error(error: BaseException) -> GraphQLError:
    """An unexpected failure of an operation: logged with an id, the client told only the id."""
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s in a WebSocket operation", error_id, exc_info=error)
    return GraphQLError("Internal error", extensions={"code": "INTERNAL", "errorId": error_id})


# ---------------------------------------------------------------- the socket


def short_reason(reason: str) -> str:
    """A close reason that fits a close frame: at most 123 bytes of UTF-8 (lone surrogates replaced)."""
    encoded = reason.encode("utf-8", "replace")[:MAX_REASON_BYTES]
    return encoded.decode("utf-8", "ignore")


class GuardedSocket(AsyncWebSocketAdapter):
    """The handlers' socket: closed once, with a reason that fits; sends after the close are dropped.

    Operations run in tasks of their own and may finish after the socket was
    closed (a bad message, a revoked token, the client gone); what they would
    still send has nowhere to go.
    """

    def __init__(self, inner: AsyncWebSocketAdapter) -> None:
        super().__init__(inner.view)
        self.inner = inner
        self.closed = False

    def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        return self.inner.iter_json(ignore_parsing_errors=ignore_parsing_errors)

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.closed:
            return
        try:
            await self.inner.send_json(message)
        except (SendAfterClose, WebSocketDisconnect, WebSocketDisconnected):
            self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(SendAfterClose, WebSocketDisconnect, WebSocketDisconnected):
            await self.inner.close(code, short_reason(reason))


class Session:
    """The token a socket signed in with: the socket stops and closes with 4403 once it is revoked."""

    def __init__(self, context: Context, socket: GuardedSocket, stop_operations: Callable[[], None]) -> None:
        self.context = context
        self.socket = socket
        self.stop_operations = stop_operations  # cancels the socket's running operations, synchronously
        self.revoked = False
        self._watch: contextlib.ExitStack | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Once signed in: follow the revocations the hub reads from the outbox."""
        viewer = self.context.viewer
        if viewer is None or self._watch is not None:
            return
        hub = self.context.hub
        self._watch = contextlib.ExitStack()
        self._watch.enter_context(hub.watch_revocation(viewer.token_id, self.revoke))
        if viewer.token_id in hub.revoked:  # read before the watch began
            self.revoke()

    async def allows_operation(self) -> bool:
        """Whether the socket may run another operation; one read of its token (by primary key)."""
        viewer = self.context.viewer
        if not self.revoked and viewer is not None and not await is_live(viewer.token_id):
            self.revoke()
        return not self.revoked

    def revoke(self) -> None:
        """Stop every operation of the socket now, and close it with 4403 (called by the hub too)."""
        if self.revoked:
            return
        self.revoked = True
        self.stop_operations()
        self._closing = asyncio.create_task(self.socket.close(FORBIDDEN, "Token revoked"))

    async def end(self) -> None:
        """The socket is gone: stop following revocations, and let go of the handler's callback,
        which refers back to the handler (every socket's state a reference cycle otherwise)."""
        self.stop_operations = _nothing_to_stop
        if self._watch is not None:
            self._watch.close()
        if self._closing is not None:
            await cancel_and_wait(self._closing)


def _nothing_to_stop() -> None:
    """A session's operations once its socket is gone."""


PING = json.dumps({"type": "ping"}).encode()  # as the handler's own send_message writes it


class KeepAlive:
    """graphql-transport-ws keep-alive: a `ping` every `interval` seconds to every acknowledged socket.

    One timer for all the sockets of an app (LendGraphQL.pings): a timer per socket takes most of a
    kilobyte under uvloop, and a task asleep between pings more, on every idle subscriber. Where the
    socket has a Wire (graph/uvicorn_internals.py), the ping is written straight to it; otherwise, or
    when the Wire cannot take it at once, a task sends it as any message is sent (one at a time).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._sockets: dict[TransportWSHandler, asyncio.Task[None] | None] = {}  # and the ping being sent
        self._timer: asyncio.TimerHandle | None = None

    def add(self, handler: "TransportWSHandler") -> None:
        self._sockets[handler] = None
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._due)

    async def remove(self, handler: "TransportWSHandler") -> None:
        sending = self._sockets.pop(handler, None)
        if not self._sockets and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if sending is not None:
            await cancel_and_wait(sending)

    def _due(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._due)
        for handler, sending in list(self._sockets.items()):
            if sending is not None or not handler.connection_acknowledged:
                continue
            wire = handler.wire
            if wire is None or not wire.write(PING, b""):
                task = asyncio.create_task(handler.send_message({"type": "ping"}))
                task.add_done_callback(functools.partial(self._sent, handler))
                self._sockets[handler] = task

    def _sent(self, handler: "TransportWSHandler", task: "asyncio.Task[None]") -> None:
        if self._sockets.get(handler) is task:
            self._sockets[handler] = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("keep-alive ping failed: %r", task.exception())


# ---------------------------------------------------------------- graphql-transport-ws


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws: see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websocket = self.socket = GuardedSocket(self.websocket)
        self.session = Session(self.context, self.socket, self._stop_operations)
        # Each running or parked subscription's Parking, by operation id (subscriptions/parking.py).
        self.parkings: dict[str, Parking] = {}
        # The socket's own context, for the task that resumes a parked subscription: the resume is called
        # where the hub hands out an event, whose context is the hub's.
        self.task_context = contextvars.copy_context()
        request = self.context.request
        self.wire: Wire | None = request.scope.get(SCOPE_KEY) if isinstance(request, WebSocket) else None

    async def handle(self) -> None:
        pings: KeepAlive | None = getattr(self.view, "pings", None)
        if pings is not None:
            pings.add(self)
        try:
            await super().handle()
        finally:
            if pings is not None:
                await pings.remove(self)
            await self.session.end()

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, TRANSPORT)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        share_text(message, TRANSPORT)
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        if message.get("payload") is None:  # the protocol allows null, strawberry does not
            message = {**message, "payload": {}}
        acknowledged = await signed_in(self, super().handle_connection_init, message)
        timer = self.connection_init_timeout_task
        if timer is not None and timer.cancelling():
            # Strawberry cancels its timer here but keeps the task, and with it the cancellation, its
            # traceback and frames, for the socket's life: about a kilobyte on every idle socket.
            await cancel_and_wait(timer)
            self.connection_init_timeout_task = None
        if acknowledged:
            self.session.start()

    def _stop_operations(self) -> None:
        # Cancelled, not forgotten: shutdown() waits for their ends. Parked ones have no task: their inboxes close.
        for operation in self.operations.values():
            if operation.task is not None:
                operation.task.cancel()
        for parking in self.parkings.values():
            parking.close()

    async def cleanup_operation(self, operation_id: str) -> None:
        """Strawberry's, for an operation that may have no task (parked): its inbox is closed instead."""
        parking = self.parkings.pop(operation_id, None)
        if parking is not None:
            parking.close()
        operation = self.operations.pop(operation_id, None)
        if operation is not None and operation.task is not None:
            operation.task.cancel()  # not awaited here: shutdown() waits for the tasks

    def _parking(self, operation_id: str, adopted: Inbox | None = None) -> Parking:
        """A Parking for a run of the operation, kept by operation id; it refers to this handler weakly (the run's
        task context holds it, and the operation holds the task)."""
        handler = weakref.ref(self)

        def resume(parked: Parking, inbox: Inbox) -> None:
            owner = handler()
            operation = owner.operations.get(operation_id) if owner is not None else None
            if owner is None or operation is None or owner.parkings.get(operation_id) is not parked:
                inbox.close()  # stopped meanwhile
            else:
                owner._resume(operation, inbox)

        parking = self.parkings[operation_id] = Parking(resume, adopted)
        return parking

    def _resume(self, operation: Operation[Context, None], inbox: Inbox) -> None:
        """Run a parked subscription again, in a task of its own, continuing with its inbox."""
        # Kept at once: if the operation stops before the task runs, cleanup_operation closes the inbox.
        parking = self._parking(operation.id, inbox)
        task = asyncio.create_task(self.run_operation(operation, parking), context=self.task_context.copy())
        task.add_done_callback(self._task_done)
        operation.task = task

    async def run_operation(self, operation: Operation[Context, None], parking: Parking | None = None) -> None:
        """Strawberry's, but every failure is an `error` message for this operation; the socket stays open.

        A subscription waiting for live events that can go straight to the socket parks: this task ends,
        its inbox stays open (subscriptions/parking.py); `parking` is given to the run that resumes it.
        """
        if parking is None:
            parking = self._parking(operation.id)
        try:
            if not await self.session.allows_operation():
                return
            aim(self.context, operation.id, "next")
            PARKING.set(parking)
            problem = operation_problem(self.context, operation.query, operation.operation_name)
            if problem is not None:
                await operation.send_initial_errors([problem])
                return
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            first = True
            async with contextlib.aclosing(source):
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        await operation.send_initial_errors(list(result.errors or []))
                        return
                    if not isinstance(result, ExecutionResult):  # incremental delivery (@defer, @stream)
                        error = GraphQLError("Incremental delivery is not supported over graphql-transport-ws")
                        await operation.send_initial_errors([error])
                        return
                    await operation.send_next(result)
                    first = False
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except Parked:  # waiting without this task now; resumed by its inbox when needed
            if operation.task is asyncio.current_task():  # not yet resumed in a new one
                operation.task = None  # the finished task, its coroutine with it, would stay as long as it listens
            return
        except asyncio.CancelledError:
            # Stopped (`complete`, the socket gone, the token revoked): end quietly. Re-raised, the
            # error would stay on the task, its traceback holding this frame, so the operation, the
            # task again and the whole socket's state: a cycle only a full collection frees.
            return
        except GraphQLError as error:  # a document that does not parse raises out of the stream
            await operation.send_initial_errors([error])
        except Exception as error:  # the client hears of it; the log has the traceback
            await operation.send_initial_errors([internal_error(error)])
        finally:
            if not parking.parked:
                parking.close()  # the inbox it was given to continue with, if it never took it
                if self.parkings.get(operation.id) is parking:
                    del self.parkings[operation.id]


# ---------------------------------------------------------------- graphql-ws (legacy)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (legacy): see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websocket = self.socket = GuardedSocket(self.websocket)
        self.session = Session(self.context, self.socket, self._stop_operations)
        self.connection_init_received = False

    async def handle(self) -> None:
        # Strawberry's, with unreadable JSON and binary frames closed as bad requests (4400).
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            async for message in self.websocket.iter_json():
                await self.handle_message(message)
        except NonTextMessageReceived:
            await self.websocket.close(BAD_REQUEST, "WebSocket message type must be text")
        except NonJsonMessageReceived:
            await self.websocket.close(BAD_REQUEST, "WebSocket message must be valid JSON")
        except WebSocketDisconnected:
            pass
        finally:
            await cancel_and_wait(timer)
            if self.keep_alive_task:
                await cancel_and_wait(self.keep_alive_task)
            await self.cleanup()
            await self.session.end()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, LEGACY)
        if problem is not None:
            await self.websocket.close(BAD_REQUEST, problem)
            return
        share_text(message, LEGACY)
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_init_received:
            await self.websocket.close(TOO_MANY_INITIALISATION_REQUESTS, "Too many initialisation requests")
            return
        self.connection_init_received = True
        if message.get("payload") is None:
            message = {**message, "payload": {}}
        if await signed_in(self, super().handle_connection_init, message):
            self.session.start()

    def _stop_operations(self) -> None:
        for task in self.tasks.values():
            task.cancel()

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        """Strawberry's, but every failure is an `error` message for this operation; the socket stays open."""
        try:
            if not await self.session.allows_operation():
                return
            aim(self.context, operation_id, "data")
            problem = operation_problem(self.context, query, operation_name, subscriptions_only=True)
            if problem is not None:
                await self.send_message({"type": "error", "id": operation_id, "payload": problem.formatted})
                return
            source = await self.schema.subscribe(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = source
            first = True
            async for result in source:
                if first and isinstance(result, PreExecutionError):
                    errors = result.errors or [GraphQLError("The operation could not run.")]
                    await self.send_message({"type": "error", "id": operation_id, "payload": errors[0].formatted})
                    return
                await self.send_data_message(result, operation_id)
                first = False
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:  # stopped by the client (or the socket ended): say so, as strawberry does
            await self.send_message({"type": "complete", "id": operation_id})
        except GraphQLError as error:  # a document that does not parse raises out of the stream
            await self.send_message({"type": "error", "id": operation_id, "payload": error.formatted})
        except Exception as error:  # the client hears of it; the log has the traceback
            await self.send_message({"type": "error", "id": operation_id, "payload": internal_error(error).formatted})
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
