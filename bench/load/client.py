"""A load client process: operations arriving at a set rate, and subscribers holding their streams.

`python -m bench.load client`, started by the driver (bench/load/run.py), reads one JSON line of
config on stdin: the server, its share of the rate, the lenders and partners it acts for, the loans
it starts knowing, its subscriptions. It opens the subscriptions and answers `{"ready": n}`; then
`go T` starts the arrivals at the monotonic time T (CLOCK_MONOTONIC: one clock for every process),
`status` answers how far it got, `results PATH` waits for the end and pickles what it recorded to
PATH, and `exit` ends it.

Arrivals are open-loop: a Poisson process at the set rate decides when each operation starts, and
nothing waits for earlier answers, so a slow server shows as latency and operations in flight, not
as a lower rate. Latency runs from the scheduled start, so time spent waiting for a free connection
in this process counts too. HTTP/1.1 keep-alive connections on raw asyncio streams (the same
framing as bench/http_load.py), at most `connections` at once. A money call whose answer was lost
(timeout, dropped connection) or was the typed retryable 503 is sent again with the same key.
"""

import asyncio
import contextlib
import json
import math
import pickle
import random
import resource
import sys
import time
from array import array
from collections import Counter
from typing import Any

from bench.http_load import post, read_answer
from bench.load import answers
from bench.load.mix import OPS, Knowledge, Lender, Repayable
from bench.load.subscriptions import Resuming
from bench.p3_fanout.client import reply

ATTEMPTS = 5
RETRY_PAUSE = 0.5  # seconds, times the attempt number
KEEP_IDLE = 2.0  # seconds a connection may wait unused (uvicorn closes idle ones after 5)
DRAIN = 30.0  # seconds to wait for operations still in flight at the end


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, one request at a time each."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port = host, port
        self.gate = asyncio.Semaphore(limit)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def send(self, request: bytes, seconds: float) -> tuple[int, bytes]:
        async with self.gate:
            now = time.monotonic()
            while self.idle and now - self.idle[0][2] > KEEP_IDLE:
                self.idle.pop(0)[1].close()
            if self.idle:
                reader, writer, _ = self.idle.pop()
            else:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), seconds)
                self.opened += 1
            try:
                async with asyncio.timeout(seconds):
                    writer.write(request)
                    answer = await read_answer(reader)
            except BaseException:
                writer.close()
                raise
            self.idle.append((reader, writer, time.monotonic()))
            return answer


class Record:
    """Every operation sent: its kind, scheduled start (s after go), latency (s; NaN while unanswered) and
    outcome; and the attempts that were sent again, by what they met."""

    def __init__(self) -> None:
        self.op = array("B")
        self.start = array("d")
        self.latency = array("d")
        self.outcome = array("H")
        self.outcomes: list[str] = []
        self.index: dict[str, int] = {}
        self.retried: Counter[tuple[str, str]] = Counter()
        self.answered = 0

    def _outcome(self, outcome: str) -> int:
        if outcome not in self.index:
            self.index[outcome] = len(self.outcomes)
            self.outcomes.append(outcome)
        return self.index[outcome]

    def begin(self, op: str, start: float) -> int:
        self.op.append(OPS.index(op))
        self.start.append(start)
        self.latency.append(math.nan)
        self.outcome.append(self._outcome(answers.UNANSWERED))
        return len(self.op) - 1

    def finish(self, index: int, latency: float, outcome: str) -> None:
        self.latency[index] = latency
        self.outcome[index] = self._outcome(outcome)
        self.answered += 1


class Load:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.rng = random.Random(config["seed"])
        partners = {p["id"]: (p["token"], p["country"]) for p in config["partners"]}
        lenders = [Lender(token, balance) for token, balance in config["lenders"]]
        self.knowledge = Knowledge(random.Random(config["seed"] + 1), config["tag"], lenders, partners)
        for loan_id, remaining, partner in config["fundraising"]:
            self.knowledge.fundraising.put(loan_id, (remaining, partner))
        for loan_id, partner, amount, outstanding, term in config["repayable"]:
            self.knowledge.repayable.put(loan_id, Repayable(partner, amount, outstanding, term))
        self.connections = Connections(config["host"], config["port"], config["connections"])
        self.record = Record()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.go = 0.0
        self.next_at = 0.0
        self.finished = asyncio.Event()

    async def arrivals(self, go: float) -> None:
        """Start operations at the configured rate until the duration is over, then wait for the stragglers."""
        self.go = self.next_at = go
        rate, end = self.config["rate"], go + self.config["duration"]
        weights = [self.config["weights"][op] for op in OPS]
        while True:
            self.next_at += self.rng.expovariate(rate)
            if self.next_at >= end:
                break
            delay = self.next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.operation(self.rng.choices(OPS, weights)[0], self.next_at))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=DRAIN)
        self.finished.set()

    async def operation(self, op: str, scheduled: float) -> None:
        call = self.knowledge.draw(op)
        if call is None:
            return  # counted as skipped by the knowledge
        index = self.record.begin(op, scheduled - self.go)
        body = json.dumps({"query": call.query, "variables": call.variables}).encode()
        request = post("/graphql", self.config["host"], body, call.token)
        timeout = self.config["timeout"]
        for attempt in range(1, ATTEMPTS + 1):
            data = None
            try:
                status, answer = await self.connections.send(request, timeout)
                outcome, data = answers.read(status, answer, call.field)
            except TimeoutError:
                outcome = answers.TIMEOUT
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
                outcome = answers.transport(error)
            unsure = outcome == answers.TIMEOUT or outcome.startswith("untyped transport")
            if attempt == ATTEMPTS or not (outcome in answers.RETRYABLE or (unsure and call.retry_unsure)):
                break
            self.record.retried[(op, outcome)] += 1
            await asyncio.sleep(RETRY_PAUSE * attempt)
        self.record.finish(index, time.monotonic() - scheduled, outcome)
        if call.settle is not None:
            call.settle(data)

    def status(self) -> dict[str, Any]:
        return {
            "done": self.record.answered,
            "in_flight": len(self.in_flight),
            "behind": max(0.0, time.monotonic() - self.next_at) if not self.finished.is_set() else 0.0,
            "connections": self.connections.opened,
        }


def subscribers(config: dict[str, Any]) -> list[tuple[str, Resuming]]:
    url = f"ws://{config['host']}:{config['port']}/graphql"
    return [
        (s["kind"], Resuming(url, s["query"], s["variables"], s["field"], token=s.get("token")))
        for s in config["subscriptions"]
    ]


def results(load: Load, held: list[tuple[str, Resuming]]) -> dict[str, Any]:
    streams: dict[str, dict[str, Any]] = {}
    for kind, subscriber in held:
        stream = streams.setdefault(kind, {"subscribers": 0, "events": Counter(), "errors": 0, "reconnects": 0})
        stream["subscribers"] += 1
        stream["events"].update(subscriber.kinds)
        stream["errors"] += len(subscriber.errors)
        stream["reconnects"] += subscriber.reconnects
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record = load.record
    return {
        "op": record.op,
        "start": record.start,
        "latency": record.latency,
        "outcome": record.outcome,
        "outcomes": record.outcomes,
        "retried": dict(record.retried),
        "skipped": load.knowledge.skipped,
        "streams": {kind: {**s, "events": dict(s["events"])} for kind, s in streams.items()},
        "cpu": usage.ru_utime + usage.ru_stime,
        "connections": load.connections.opened,
    }


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    load = Load(config)
    held = subscribers(config)
    tasks = [asyncio.create_task(subscriber.run()) for _, subscriber in held]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            for _, subscriber in held:
                await subscriber.subscribed.wait()
    reply({"ready": sum(s.subscribed.is_set() for _, s in held)})
    running = None
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "go":
            running = asyncio.create_task(load.arrivals(float(argument)))
            reply({"going": True})
        elif command == "status":
            reply(load.status())
        elif command == "results":
            if running is not None:
                await running
            await asyncio.sleep(1.0)  # the last events of the last mutations
            for task in tasks:
                task.cancel()
            with open(argument, "wb") as out:  # noqa: ASYNC230 - after the measurement
                pickle.dump(results(load, held), out, protocol=pickle.HIGHEST_PROTOCOL)
            reply({"written": argument})
        elif command == "exit":
            break
