"""Clients that carry on through a fault, as a careful client would, and what is left to check after.

A money call is sent again with the same idempotency key until it succeeds;
every answer on the way must be GraphQL JSON, and an answer that is not a
success must be the typed retryable one (HTTP 503, Retry-After, code
UNAVAILABLE). A subscriber that loses its socket or gets an error opens a new
one with `after` set to the last event id it received.
"""

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from bench.load.subscriptions import Resuming
from graph.ids import decode_id
from tests.e2e.client import Client
from tests.e2e.server import run_cli
from tests.polling import until

DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on UserError { code message } } }"""
LEND = """mutation($input: LendInput!) { lend(input: $input) {
  __typename ... on UserError { code message } } }"""
PROGRESS = """subscription($loanId: ID!, $after: String) { loanProgress(loanId: $loanId, after: $after) {
  eventId kind fundedAmount } }"""
BROWSE = "{ loans(first: 5) { totalCount edges { node { id remainingAmount } } } }"
ROUNDS_AFTER_FAULT = 3
RETRY_PAUSE = 0.1  # seconds; sooner than Retry-After: the tests want the outage's edges


def graphql_json(response: httpx.Response) -> dict[str, Any]:
    """The body of a GraphQL answer: JSON with `data` or `errors`, whatever the status."""
    assert response.headers.get("content-type", "").startswith("application/"), (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    return body


def assert_unavailable(response: httpx.Response, body: dict[str, Any]) -> None:
    """The typed retryable answer: 503, Retry-After, and every error UNAVAILABLE with retryAfter."""
    assert response.status_code == 503, (response.status_code, body)
    assert int(response.headers["retry-after"]) >= 1, response.headers
    for error in body["errors"]:
        assert error["extensions"]["code"] == "UNAVAILABLE", body
        assert error["extensions"]["retryAfter"] >= 1, body


@dataclass
class Seen:
    """What the clients met on the way: answers by status, and connections that failed."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0


class Retrying:
    """GraphQL over HTTP that retries the retryable: 503s, and (if `through_transport`) dropped connections."""

    def __init__(self, http: httpx.AsyncClient, base: str, *, through_transport: bool = False) -> None:
        self.http, self.url = http, f"{base}/graphql"
        self.through_transport = through_transport
        self.seen = Seen()

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        while True:
            try:
                response = await self.http.post(
                    self.url, json={"query": query, "variables": variables or {}}, headers=headers
                )
            except httpx.TransportError:
                if not self.through_transport:
                    raise
                self.seen.transport_errors += 1
                await asyncio.sleep(RETRY_PAUSE)
                continue
            body = graphql_json(response)
            self.seen.statuses[response.status_code] += 1
            if response.status_code == 503:
                assert_unavailable(response, body)
                await asyncio.sleep(RETRY_PAUSE)
                continue
            assert response.status_code == 200 and not body.get("errors"), (response.status_code, body)
            return body["data"]

    async def money(self, field_name: str, query: str, variables: dict, token: str) -> None:
        """A money mutation, sent again with the same input (and key) until it succeeds."""
        result = (await self.data(query, variables, token))[field_name]
        assert result["__typename"].endswith("Success"), result


class Follower(Resuming):
    """One subscriber to a loan's progress from its first event, that reconnects with `after`; `ids` holds
    every event id it received, in order."""

    def __init__(self, ws_url: str, loan_id: str) -> None:
        super().__init__(ws_url, PROGRESS, {"loanId": loan_id}, "loanProgress", after="0")
        self.loan_id = loan_id


@contextlib.asynccontextmanager
async def database(url: str) -> Any:
    connection = await asyncpg.connect(url.split("?")[0].replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        yield connection
    finally:
        await connection.close()


async def waiting_on_locks(url: str, count: int = 1) -> bool:
    """Whether at least `count` sessions of the database wait for a lock."""
    async with database(url) as connection:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    return bool(waiting >= count)


async def progress_ids(url: str, loan_id: str) -> list[int]:
    """The ids of the events a loanProgress subscriber of the loan must receive (the outbox's, in order)."""
    async with database(url) as connection:
        rows = await connection.fetch(
            "SELECT id FROM event WHERE loan_id = $1 AND lender_id IS NULL ORDER BY id", decode_id(loan_id, "Loan")
        )
    return [row["id"] for row in rows]


@dataclass(frozen=True)
class Books:
    """A lender's money as the database holds it."""

    balance_cents: int
    deposits: int  # DEPOSIT transfers into the lender's account
    shares: int  # LOAN_SHARE transfers out of it


async def books_of(url: str, lender_token_ids: dict[str, int]) -> dict[str, Books]:
    """Each lender's balance and transfer counts, by the name the test gave it."""
    async with database(url) as connection:
        rows = await connection.fetch(
            """SELECT a.lender_id, a.balance_cents,
                 (SELECT count(*) FROM transfer t WHERE t.destination_id = a.id AND t.kind = 'DEPOSIT') AS deposits,
                 (SELECT count(*) FROM transfer t WHERE t.source_id = a.id AND t.kind = 'LOAN_SHARE') AS shares
               FROM account a WHERE a.kind = 'LENDER'"""
        )
    by_id = {row["lender_id"]: Books(row["balance_cents"], row["deposits"], row["shares"]) for row in rows}
    return {name: by_id[lender_id] for name, lender_id in lender_token_ids.items()}


@dataclass
class World:
    """What the load runs on: a partner, its loans (5,000.00 each), lenders' tokens and ids by name."""

    partner: str
    loans: list[str]
    tokens: dict[str, str]
    ids: dict[str, int]


async def arrange(http: httpx.AsyncClient, base: str, database_url: str, loans: int = 2, lenders: int = 4) -> World:
    partner = run_cli(
        "create-partner", "--name", "Juhudi Kilimo", "--country", "KE", "--risk-rating", "3.5",
        database_url=database_url,
    ).strip().splitlines()[-1]  # fmt: skip
    client = Retrying(http, base)
    plain = Client(http, base)
    listed = [await plain.list_loan(partner, f"Loan {n}", "FOOD", "5000.00") for n in range(loans)]
    tokens = {f"lender{n}": await plain.register(f"Lender{n}") for n in range(lenders)}
    return World(partner, listed, tokens, {name: await lender_id(client, token) for name, token in tokens.items()})


async def lend_in_rounds(client: Retrying, name: str, token: str, loans: list[str], fault: asyncio.Event) -> int:
    """Deposit 25.00 and lend it to the next loan, each by its own key, until three rounds after `fault`
    is set; return the rounds done."""
    rounds = after_fault = 0
    while after_fault < ROUNDS_AFTER_FAULT:
        deposit = {"amount": "25.00", "idempotencyKey": f"{name}-deposit-{rounds}"}
        await client.money("deposit", DEPOSIT, {"input": deposit}, token)
        lend = {"loanId": loans[rounds % len(loans)], "amount": "25.00", "idempotencyKey": f"{name}-lend-{rounds}"}
        await client.money("lend", LEND, {"input": lend}, token)
        rounds += 1
        after_fault += fault.is_set()
    return rounds


async def lender_id(client: Retrying, token: str) -> int:
    me = await client.data("{ me { id } }", token=token)
    return decode_id(me["me"]["id"], "Lender")


async def covered(followers: list[Follower], expected: dict[str, list[int]], within: float) -> None:
    """Wait until every follower received at least the expected ids of its loan."""
    await until(
        lambda: all(set(expected[f.loan_id]) <= set(f.ids) for f in followers), "every event to arrive", within, 0.1
    )
