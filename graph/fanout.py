"""Live events written straight to subscribers' sockets.

A subscriber waiting for its next live event is a task parked in its stream
(subscriptions/resolvers.py). Woken for each event, it would run the stream's
generators, a copy of the executor that finds the shared result, strawberry's
result handling, a message dict, and an awaited send through three wrappers:
most of the CPU of fanning an event out to thousands (bench/README.md, P3).
Instead, while it waits with nothing queued, its inbox's `express` (made here)
answers the event where the hub hands it out: the first subscriber of each
distinct selection (graph/execution.py selection_of) executes it with its own
executor, the answer is encoded once, and every subscriber of that selection
gets one frame, its operation id and the shared text, written to its socket
(graph/uvicorn_internals.py Wire). Its task is not woken.

Anything out of the ordinary goes the subscriber's own way, in order: a socket
that cannot take the frame at once (closed or closing on either side, the app's
included (graph/uvicorn_internals.py stops the Wire), compressed, or with a full
write buffer: a slow client), an answer
with errors or one that awaits (a resolver that reads the database), a stopped
operation, a revoked token. `express` then answers False and the inbox queues
the event as before. The answers are kept on the delivery only while the hub
hands it out (subscriptions/hub.py).
"""

import asyncio
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import NamedTuple, TypeVar

from graphql import ExecutionResult
from starlette.websockets import WebSocket

from graph.context import Context
from graph.execution import RESULT_MESSAGE_END, SUBSCRIBING, SharingExecutor, result_message, selection_of
from graph.uvicorn_internals import SCOPE_KEY, Wire
from subscriptions.hub import Delivery

Express = Callable[[Delivery], bool]
E = TypeVar("E")
_UNKNOWN = object()


class Target(NamedTuple):
    """Where a subscription operation's messages go.

    Held weakly: a timer set in the operation's task keeps a copy of its context, and with it this Target,
    until the timer's time comes, long after the socket may have closed.
    """

    wire: "weakref.ref[Wire]"
    head: bytes  # each `next` message up to its data: the operation id and the message type
    task: "weakref.ref[asyncio.Task[object]]"  # once it is being cancelled (stopped, revoked, gone), nothing more


TARGET: ContextVar[Target | None] = ContextVar("lendgraph_fanout_target", default=None)


def aim(context: Context, operation_id: str, message_type: str) -> None:
    """Say, in a WebSocket operation's own task, where its live events may be written straight to:
    its socket's Wire (when the server gives one), with `message_type` ("next" or the older "data")."""
    request = context.request
    wire = request.scope.get(SCOPE_KEY) if isinstance(request, WebSocket) else None
    task = asyncio.current_task()
    if wire is not None and task is not None:
        head = result_message(operation_id, message_type).encode()
        TARGET.set(Target(weakref.ref(wire), head, weakref.ref(task)))


def express_lane(context: Context, present: Callable[[Delivery], object]) -> Express | None:
    """The `express` of the subscription running in this task, or None where it has no Target.

    `present` makes the subscription's root value of a delivery; subscriptions that share it and a
    selection share the answer.
    """
    target, subscribing = TARGET.get(), SUBSCRIBING.get()
    if target is None or subscribing is None:
        return None
    wire, executor = target.wire(), subscribing()
    if wire is None or executor is None:
        return None
    selection = (present, *selection_of(executor, context))
    head, task_of = target.head, target.task
    revoked = context.hub.revoked
    token_id = context.viewer.token_id if context.viewer is not None else None
    shared = context.shared

    def express(delivery: Delivery) -> bool:
        try:
            task = task_of()  # gone once the subscription parked (subscriptions/parking.py): stopping closes its inbox
            if (task is not None and task.cancelling()) or token_id in revoked:
                return False
            answers = delivery.answers
            tail = answers.get(selection, _UNKNOWN)
            if tail is _UNKNOWN:
                answers[selection] = None  # if answering raises, the selection's other subscribers do not retry
                tail = answers[selection] = answer(context, executor, present, delivery)
            if tail is None or not wire.write(head, tail):  # type: ignore[arg-type]
                return False
        except Exception:  # the subscriber's own stream meets it again, and reports it
            return False
        shared.written += 1
        return True

    return express


def answer(
    context: Context, executor: SharingExecutor, present: Callable[[Delivery], object], delivery: Delivery
) -> bytes | None:
    """The rest of a `next` message for `delivery` (its data, encoded once for every subscriber of the
    selection); None where each subscriber's stream must answer itself: errors, or an answer that awaits
    (then shared with them, graph/execution.py)."""
    result = executor.build_per_event_executor(root_value(context, present, delivery)).execute_operation(False)
    if not isinstance(result, ExecutionResult) or result.errors or result.data is None:
        return None
    text = context.shared.encoded(result.data) or context.shared.encode(result.data)
    return (text + RESULT_MESSAGE_END).encode()


def root_value(context: Context, present: Callable[[Delivery], E], delivery: Delivery) -> E:
    """The subscription's root value for `delivery`, with the context's loaders made fresh for it (primed
    with the loan it carries): the same whether the hub or the subscriber's own stream executes it."""
    context.fresh_loaders(delivery.loan)
    return present(delivery)
