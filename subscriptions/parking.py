"""Subscriptions that wait for their next event without a task of their own.

A subscriber waiting for its next live event, with nothing queued and an
express lane to its socket (graph/fanout.py), needs nothing but its inbox and
that lane: the hub answers each event where it hands it out. Its task and the
generators of its stream (strawberry's, graphql-core's, the resolver's, `live`
and `follow`) would only hold memory, on every idle subscriber, for as long as
it listens (bench/README.md, P3). So where its runner allows it, `follow`
parks it: the inbox stays open, its express lane set, and the stream ends with
`Parked`, the task with it.

The first time the inbox needs a reader (an event the lane declined: a full
socket buffer, an answer with errors or one that reads the database; a
subscriber that fell behind; a filter that failed), the runner's `resume`
starts the operation again in a new task, whose `follow` adopts the inbox as
it is: what waits in it comes next, in order, and nothing already sent is sent
again (`Inbox.sent_id`). A resumed run does not park again: a subscriber that
needed its own stream once keeps it. Stopping a parked subscription closes its
inbox (`Parking.close`).
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import NoReturn

from subscriptions.hub import Inbox


class Parked(BaseException):
    """Ends the stream of a subscription that `follow` parked.

    A BaseException, as a cancellation is: strawberry and graphql-core turn an Exception raised by a
    stream into an error for the client, and this is none.
    """


class Parking:
    """One run of one subscription operation: whether and how `follow` may park it, or the inbox it
    adopts when it is the run that resumes a parked one."""

    __slots__ = ("_adopted", "_inbox", "_resume", "resumed")

    def __init__(self, resume: "Callable[[Parking, Inbox], None]", adopted: Inbox | None = None) -> None:
        # Starts the run that adopts the inbox; must not raise. Reachable from the run's task (its context
        # holds PARKING), so it should not hold the runner strongly: a reference cycle otherwise.
        self._resume = resume
        # This run continues a parked one: it does not park again, nor count as a new operation.
        self.resumed = adopted is not None
        self._adopted = adopted
        self._inbox: Inbox | None = None  # while parked

    @property
    def parked(self) -> bool:
        return self._inbox is not None

    def adopt(self) -> Inbox | None:
        """The parked inbox this run continues with (once), or None: `follow` opens its own."""
        adopted, self._adopted = self._adopted, None
        return adopted

    def park(self, inbox: Inbox) -> NoReturn:
        """Leave `inbox` open, its express lane set, to be resumed when it needs a reader; end the stream."""
        self._inbox = inbox
        inbox.wakeup = self._woken
        raise Parked

    def _woken(self) -> None:
        inbox, self._inbox = self._inbox, None
        if inbox is not None:
            inbox.express = None  # the resumed run sends what waits, then sets its own lane
            self._resume(self, inbox)

    def close(self) -> None:
        """The operation is stopped or its socket gone: close the parked inbox, or the one never adopted."""
        for inbox in (self._inbox, self._adopted):
            if inbox is not None:
                inbox.wakeup = inbox.express = None
                inbox.close()
        self._inbox = self._adopted = None


# The Parking of the subscription run in this task (set by its runner: graph/websocket.py); None: never park.
PARKING: ContextVar[Parking | None] = ContextVar("lendgraph_parking", default=None)
