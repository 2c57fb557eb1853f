"""A small GraphQL client for tests, and arrangements made through the public API."""

import itertools
from typing import Any

import httpx

from lending.partners import create_partner
from lending.tokens import issue_token
from models import Event, Role
from tests.polling import until

_keys = itertools.count(1)


# A valid listLoan input: tests change the fields they are about.
LISTING = {
    "name": "Amina",
    "use": "to buy fabric for her tailoring shop",
    "countryIsoCode": "KE",
    "sector": "CLOTHING",
    "gender": "FEMALE",
    "amount": "500.00",
    "termMonths": 12,
}


def new_key() -> str:
    return f"key-{next(_keys)}"


class Api:
    def __init__(self, http: httpx.AsyncClient, ws_url: str = "", app: Any = None) -> None:
        self.http = http
        self.ws_url = ws_url
        self.app = app

    async def post(self, query: str, variables: dict | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def listening(self, count: int) -> None:
        """Wait until the server's hub has `count` subscribers: the subscriptions sent are then live, and an
        event committed from now on reaches them (one committed before may come before they listen)."""
        hub = self.app.state.graphql.hub
        await until(lambda: hub.subscriber_count() >= count, f"{count} subscribers")

    async def caught_up(self) -> None:
        """Wait until the server's hub has read every event committed so far: a subscription opened from now
        on starts after them (one opened before may still receive them live)."""
        newest = await Event.all().order_by("-id").first()
        hub = self.app.state.graphql.hub
        if newest is not None:
            await until(lambda: hub.last_id >= newest.id, f"the hub to read event {newest.id}")

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        body = await self.post(query, variables, token)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def register(self, name: str = "Ada", email: str | None = None) -> tuple[str, str]:
        """Register a lender; return (global id, token)."""
        body = await self.data(
            """mutation($input: RegisterLenderInput!) { registerLender(input: $input) {
                 __typename ... on RegisterLenderSuccess { lender { id } token } } }""",
            {"input": {"displayName": name, "email": email or f"{name.lower()}.{next(_keys)}@example.org"}},
        )
        result = body["registerLender"]
        return result["lender"]["id"], result["token"]

    async def deposit(self, token: str, amount: str, key: str | None = None) -> dict[str, Any]:
        return (
            await self.data(
                """mutation($input: DepositInput!) { deposit(input: $input) {
                     __typename ... on UserError { code message }
                     ... on DepositSuccess { lender { balance } transaction { amount kind } } } }""",
                {"input": {"amount": amount, "idempotencyKey": key or new_key()}},
                token,
            )
        )["deposit"]

    async def funded_lender(self, amount: str = "100.00", name: str = "Ada") -> tuple[str, str]:
        lender_id, token = await self.register(name)
        assert (await self.deposit(token, amount))["__typename"] == "DepositSuccess"
        return lender_id, token

    async def lend(self, token: str, loan_id: str, amount: str = "25.00", key: str | None = None) -> dict[str, Any]:
        return (
            await self.data(
                """mutation($input: LendInput!) { lend(input: $input) {
                     __typename ... on UserError { code message }
                     ... on InsufficientCredit { needed available }
                     ... on ExceedsRemaining { remaining }
                     ... on LendSuccess { loan { fundedAmount remainingAmount lenderCount status }
                                          share { amount } lender { balance } } } }""",
                {"input": {"loanId": loan_id, "amount": amount, "idempotencyKey": key or new_key()}},
                token,
            )
        )["lend"]

    async def list_loan(self, token: str, **fields: Any) -> dict[str, Any]:
        listing = LISTING | fields
        return (
            await self.data(
                """mutation($input: ListLoanInput!) { listLoan(input: $input) {
                     __typename ... on UserError { code message }
                     ... on ListLoanSuccess { loan { id amount status expiresAt listedAt } } } }""",
                {"input": listing},
                token,
            )
        )["listLoan"]

    async def loan_id(self, token: str, **fields: Any) -> str:
        result = await self.list_loan(token, **fields)
        assert result["__typename"] == "ListLoanSuccess", result
        return result["loan"]["id"]

    async def repay(self, token: str, loan_id: str, amount: str, loss: str | None = None, key: str | None = None):
        variables = {"loanId": loan_id, "amount": amount, "idempotencyKey": key or new_key()}
        if loss is not None:
            variables["currencyLoss"] = loss
        return (
            await self.data(
                """mutation($input: PostRepaymentInput!) { postRepayment(input: $input) {
                     __typename ... on UserError { code message }
                     ... on ExceedsRemaining { remaining }
                     ... on PostRepaymentSuccess { amount lendersCredited loan { status repaidAmount } } } }""",
                {"input": variables},
                token,
            )
        )["postRepayment"]

    async def save_search(self, token: str, name: str, loan_filter: dict, alert: bool = True) -> dict[str, Any]:
        return (
            await self.data(
                """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
                     __typename ... on UserError { code message }
                     ... on SaveSearchSuccess { savedSearch { id } } } }""",
                {"input": {"name": name, "filter": loan_filter, "alert": alert}},
                token,
            )
        )["saveSearch"]

    async def mark_read(self, token: str | None, **input: Any) -> dict[str, Any]:
        """markNotificationsRead with `input` (ids=[...] or all=True)."""
        return (
            await self.data(
                """mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) {
                     __typename ... on UserError { code message } ... on InvalidInput { field }
                     ... on MarkNotificationsReadSuccess { marked unreadCount } } }""",
                {"input": input},
                token,
            )
        )["markNotificationsRead"]

    async def balance(self, token: str) -> str:
        return (await self.data("{ me { balance } }", token=token))["me"]["balance"]


async def partner_token(name: str = "Juhudi Kilimo", country: str = "KE", rating: str = "3.5") -> str:
    """A field partner and its token, as `lendgraph create-partner` makes them."""
    partner = await create_partner(name, country, rating)
    return await issue_token(Role.PARTNER, partner_id=partner.id)


async def admin_token() -> str:
    return await issue_token(Role.ADMIN)
