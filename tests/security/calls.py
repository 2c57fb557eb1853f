"""What the security modules share: an app with given settings, raw requests, error codes, a deposit to refuse."""

from typing import Any

import httpx

from tests.api import Api, new_key, partner_token


async def post_raw(api: Api, body: Any, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await api.http.post("/graphql", json=body, headers=headers, **kwargs)


def codes(body: dict) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


def deposit(selection: str = "__typename", amount: str = "10.00") -> str:
    """A deposit mutation with a given selection on its success type: refused, it must move nothing."""
    return (
        f'mutation {{ deposit(input: {{amount: "{amount}", idempotencyKey: "{new_key()}"}}) '
        f"{{ __typename ... on DepositSuccess {{ {selection} }} }} }}"
    )


async def funded(api: Api) -> str:
    """A lender with 100.00 of credit, and a share in a loan (so portfolio paths return objects)."""
    _, token = await api.funded_lender("100.00")
    loan = await api.loan_id(await partner_token())
    assert (await api.lend(token, loan))["__typename"] == "LendSuccess"
    return token


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def balance(api: Api, token: str) -> str:
    """The lender's balance, read over plain HTTP (not counted as a money operation)."""
    response = await api.http.post("/graphql", json={"query": "{ me { balance } }"}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["data"]["me"]["balance"]


def assert_rate_limited(response: httpx.Response, bucket: str, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == str(retry_after)
    body = response.json()
    assert codes(body) == ["RATE_LIMITED"], body
    extensions = body["errors"][0]["extensions"]
    assert extensions["bucket"] == bucket and extensions["retryAfter"] == retry_after
