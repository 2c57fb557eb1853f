"""The churn soak's client process: cycles of connect, subscribe, query, disconnect, many at once.

Started by the driver as `python -m bench.churn client`; it imports nothing from lendgraph
(bench.p3_fanout.workload only for a listing's input). Over stdin
and stdout, one JSON line each way: the config first; then the client answers each command with one
line. `cycles N` runs N cycles (`concurrency` at a time) and reports once every one of them ended, so the
driver samples the server between batches, with no cycle in flight. `hold K` opens K subscribed sockets
and keeps them; `release` closes them; `exit` ends.

Cycle i (its kind drawn from i, so every run does the same mix):
- signs in with a lender's token every other cycle, anonymously otherwise;
- subscribes to loanListed with a filter and to loanProgress, and to myEvents when signed in;
- runs one query over the socket, and every fifth cycle one over HTTP;
- ends in one of four ways: `complete` for each subscription then a clean close; a clean close with the
  subscriptions running; the TCP connection dropped with no close frame; or dropped right after the
  subscribe messages were written, before the server answered anything.
Every tenth cycle also lists a loan (as a partner, over HTTP), so live events reach the subscribers.
"""

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.p3_fanout.workload import listing

COUNTRIES = ["KE", "UG", "PE"]
SECTORS = ["FOOD", "RETAIL", "AGRICULTURE", "SERVICES"]
LISTED = """subscription Listed($filter: LoanFilter) { loanListed(filter: $filter) { eventId loan {
  id name country { isoCode } sector amount remainingAmount status partner { name riskRating } } } }"""
PROGRESS = """subscription Progress($loanId: ID!) { loanProgress(loanId: $loanId) { eventId kind
  fundedAmount remainingAmount status } }"""
MINE = "subscription { myEvents { __typename eventId } }"
QUERY = "query Page { loans(first: 5) { edges { node { id name status remainingAmount } } } }"
LIST_LOAN = """mutation L($input: ListLoanInput!) { listLoan(input: $input) {
  __typename ... on UserError { code message } } }"""
ENDINGS = ("complete", "close", "drop", "drop-mid-subscribe")


class Churn:
    def __init__(self, config: dict[str, Any]) -> None:
        self.ws_url = f"ws://127.0.0.1:{config['port']}/graphql"
        self.http_url = f"http://127.0.0.1:{config['port']}/graphql"
        self.tokens: list[str] = config["tokens"]
        self.partner: str = config["partner"]
        self.loan_id: str = config["loan_id"]
        self.concurrency: int = config["concurrency"]
        self.endings: list[str] = config.get("endings") or list(ENDINGS)
        self.next = 0  # the next cycle's number
        self.errors: Counter[str] = Counter()
        self.held: list[ClientConnection] = []
        self.http = httpx.AsyncClient(timeout=60)

    def subscriptions(self, i: int, signed_in: bool) -> list[dict[str, Any]]:
        countries = COUNTRIES[: 1 + i % len(COUNTRIES)]
        found = [
            {"query": LISTED, "variables": {"filter": {"countries": countries, "sectors": [SECTORS[i % 4]]}}},
            {"query": PROGRESS, "variables": {"loanId": self.loan_id}},
        ]
        if signed_in:
            found.append({"query": MINE})
        return found

    async def open(self, i: int) -> tuple[ClientConnection, bool]:
        """A signed-in (or anonymous) socket, acknowledged; its subscribe messages sent."""
        signed_in = i % 2 == 0
        # Browsers offer per-message deflate; some clients do not.
        ws = await connect(
            self.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            compression="deflate" if i % 3 else None,
            open_timeout=60,
            ping_interval=None,
            max_size=None,
        )
        payload = {"authorization": f"Bearer {self.tokens[i % len(self.tokens)]}"} if signed_in else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        while json.loads(await ws.recv())["type"] != "connection_ack":
            pass
        for n, subscription in enumerate(self.subscriptions(i, signed_in)):
            await ws.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": subscription}))
        return ws, signed_in

    async def cycle(self, i: int) -> None:
        ending = self.endings[i % len(self.endings)]
        if i % 10 == 9:
            await self.list_loan(i)
        ws, signed_in = await self.open(i)
        try:
            if ending == "drop-mid-subscribe":
                ws.transport.abort()
                return
            await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": QUERY}}))
            while True:  # live events may come first
                message = json.loads(await ws.recv())
                if message.get("id") == "q" and message["type"] in ("complete", "error"):
                    break
                if message["type"] == "error":
                    self.errors[f"error on {message.get('id')}"] += 1
            if i % 5 == 4:
                response = await self.http.post(self.http_url, json={"query": QUERY})
                if response.status_code != 200:
                    self.errors[f"HTTP {response.status_code}"] += 1
            if ending == "complete":
                for n in range(len(self.subscriptions(i, signed_in))):
                    await ws.send(json.dumps({"id": f"s{n}", "type": "complete"}))
        finally:
            if ending.startswith("drop"):
                ws.transport.abort()
            else:
                await ws.close()

    async def list_loan(self, i: int) -> None:
        headers = {"Authorization": f"Bearer {self.partner}"}
        variables = {"input": listing(i, "KE", SECTORS[i % 4], "FEMALE", "500.00")}
        response = await self.http.post(
            self.http_url, json={"query": LIST_LOAN, "variables": variables}, headers=headers
        )
        data = response.json().get("data") or {}
        if (data.get("listLoan") or {}).get("__typename") != "ListLoanSuccess":
            self.errors["listLoan failed"] += 1

    async def run(self, count: int) -> dict[str, Any]:
        """`count` more cycles, `concurrency` at a time; what they met."""
        started = time.monotonic()
        last = self.next + count

        async def worker() -> None:
            while self.next < last:
                i = self.next
                self.next += 1
                try:
                    await self.cycle(i)
                except Exception as error:  # counted and reported: the soak goes on
                    self.errors[type(error).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return {"done": self.next, "seconds": time.monotonic() - started, "errors": dict(self.errors)}

    async def hold(self, count: int) -> dict[str, Any]:
        """Open `count` signed-in sockets with their subscriptions and keep them."""
        for start in range(0, count, self.concurrency):
            batch = range(start, min(start + self.concurrency, count))
            opened = await asyncio.gather(*(self.open(2 * k) for k in batch))
            self.held.extend(ws for ws, _ in opened)
        # Each socket's query answered: its subscriptions are running on the server.
        await asyncio.gather(*(self.answered(ws) for ws in self.held))
        return {"held": len(self.held)}

    async def answered(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": QUERY}}))
        while True:
            message = json.loads(await ws.recv())
            if message.get("id") == "q" and message["type"] in ("complete", "error"):
                return

    async def release(self) -> dict[str, Any]:
        await asyncio.gather(*(ws.close() for ws in self.held), return_exceptions=True)
        released = len(self.held)
        self.held = []
        return {"released": released}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    churn = Churn(json.loads(await reader.readline()))
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "cycles":
            reply = await churn.run(int(argument))
        elif command == "hold":
            reply = await churn.hold(int(argument))
        elif command == "release":
            reply = await churn.release()
        else:
            break
        print(json.dumps(reply), flush=True)
    await churn.http.aclose()
