"""GraphQL over HTTP to a real server, and waiting for servers to listen on a private Redis."""

import asyncio

import httpx

from subscriptions.bus import channel_for
from tests.polling import until
from tests.redis_server import RedisServer

PROMPTLY = 10.0  # seconds; far below the servers' outbox poll in the tests that use it


class Client:
    """GraphQL over HTTP to one server."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http, self.base = http, base

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            f"{self.base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def register(self, name: str) -> str:
        result = await self.data(
            """mutation($input: RegisterLenderInput!) { registerLender(input: $input) {
                 __typename ... on RegisterLenderSuccess { token } } }""",
            {"input": {"displayName": name, "email": f"{name.lower()}@example.org"}},
        )
        assert result["registerLender"]["__typename"] == "RegisterLenderSuccess", result
        return result["registerLender"]["token"]

    async def deposit(self, token: str, amount: str, key: str) -> None:
        result = await self.data(
            """mutation($input: DepositInput!) { deposit(input: $input) { __typename } }""",
            {"input": {"amount": amount, "idempotencyKey": key}},
            token,
        )
        assert result["deposit"]["__typename"] == "DepositSuccess", result

    async def list_loan(self, token: str, name: str, sector: str, amount: str = "100.00") -> str:
        result = await self.data(
            """mutation($input: ListLoanInput!) { listLoan(input: $input) {
                 __typename ... on UserError { code message } ... on ListLoanSuccess { loan { id } } } }""",
            {
                "input": {
                    "name": name,
                    "use": "to grow the business",
                    "countryIsoCode": "KE",
                    "sector": sector,
                    "gender": "FEMALE",
                    "amount": amount,
                    "termMonths": 12,
                }
            },
            token,
        )
        assert result["listLoan"]["__typename"] == "ListLoanSuccess", result
        return result["listLoan"]["loan"]["id"]

    async def lend(self, token: str, loan_id: str, amount: str, key: str) -> None:
        result = await self.data(
            """mutation($input: LendInput!) { lend(input: $input) {
                 __typename ... on UserError { code message } } }""",
            {"input": {"loanId": loan_id, "amount": amount, "idempotencyKey": key}},
            token,
        )
        assert result["lend"]["__typename"] == "LendSuccess", result

    async def repay(self, token: str, loan_id: str, amount: str, key: str) -> None:
        result = await self.data(
            """mutation($input: PostRepaymentInput!) { postRepayment(input: $input) {
                 __typename ... on UserError { code message } } }""",
            {"input": {"loanId": loan_id, "amount": amount, "idempotencyKey": key}},
            token,
        )
        assert result["postRepayment"]["__typename"] == "PostRepaymentSuccess", result


async def wait_for_subscribers(redis_server: RedisServer, count: int) -> None:
    """Until `count` processes listen on the bus: a hint published before that would reach nobody."""

    async def listening() -> bool:
        return await asyncio.to_thread(redis_server.subscribers, channel_for(redis_server.url)) >= count

    await until(listening, f"{count} processes to listen on the bus", within=PROMPTLY, every=0.05)
