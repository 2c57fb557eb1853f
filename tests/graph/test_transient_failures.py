"""A transient database failure is retried, and never reaches a client as an internal error.

PostgreSQL aborts a transaction to break a deadlock or a serialization
conflict, and a connection can drop. A money mutation runs its transaction
again (its idempotency key makes that safe even when a dropped connection
hid a COMMIT); when the failure outlasts the retries, the client gets a
retryable UNAVAILABLE error with HTTP 503 and Retry-After, and nothing moved.
"""

import asyncpg
import pytest
from tortoise import Tortoise

import graph.auth
from lending import ledger
from lending.transactions import ATTEMPTS
from models import Transfer
from models.pool import PoolExhausted
from tests.api import new_key

DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on DepositSuccess { lender { balance } } } }"""

FAILURES = {
    "deadlock": lambda: asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    "serialization": lambda: asyncpg.exceptions.SerializationError("could not serialize access"),
    "lost-connection": lambda: asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    "server-restarting": lambda: asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    # A pooled connection the server ended between two uses (tests/faults/test_postgres_restart.py met it).
    "ended-by-a-restart": lambda: asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
}


async def post_deposit(api, token: str, key: str):
    """A deposit of 25.00 over HTTP; the raw response."""
    variables = {"input": {"amount": "25.00", "idempotencyKey": key}}
    return await api.http.post(
        "/graphql", json={"query": DEPOSIT, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def failing_transfers(monkeypatch: pytest.MonkeyPatch):
    """Make the next `times` deposits fail with `error()`, as the database would, mid-transaction.

    On SQLite the deposit's transfer fails (lending.ledger); on PostgreSQL, where
    the deposit is one call of lendgraph_move_credit, sent on the driver (models.pool
    BoundedAsyncpgClient.fetch), that call does.
    """
    real_transfer = ledger.transfer

    def arrange(error, times: int) -> list[int]:
        calls = [0]

        def fail_while_counting() -> None:
            calls[0] += 1
            if calls[0] <= times:
                raise error()

        async def transfer(*args, **kwargs):
            fail_while_counting()
            return await real_transfer(*args, **kwargs)

        client = type(Tortoise.get_connection("default"))
        monkeypatch.setattr(ledger, "transfer", transfer)
        if hasattr(client, "fetch"):
            real_fetch = client.fetch

            async def fetch(self, sql: str, values: list):
                if "lendgraph_move_credit" in sql:
                    fail_while_counting()
                return await real_fetch(self, sql, values)

            monkeypatch.setattr(client, "fetch", fetch)
        return calls

    return arrange


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_deposit_is_retried_through_a_transient_failure(api, failing_transfers, failure):
    _, ada = await api.register("Ada")
    calls = failing_transfers(FAILURES[failure], times=ATTEMPTS - 1)

    response = await post_deposit(api, ada, new_key())

    assert response.status_code == 200
    assert response.json() == {"data": {"deposit": {"__typename": "DepositSuccess", "lender": {"balance": "25.00"}}}}
    assert calls[0] == ATTEMPTS
    assert await Transfer.filter(kind="DEPOSIT").count() == 1


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failure_that_outlasts_the_retries_is_a_retryable_503_and_moves_nothing(
    api, failing_transfers, failure, caplog
):
    _, ada = await api.register("Ada")
    failing_transfers(FAILURES[failure], times=ATTEMPTS)
    key = new_key()

    response = await post_deposit(api, ada, key)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 1}
    assert "try again" in error["message"]
    assert "Traceback" not in caplog.text
    assert await Transfer.filter(kind="DEPOSIT").count() == 0
    # The client retries with its key once the database is back: the deposit happens once.
    assert (await api.deposit(ada, "25.00", key=key))["__typename"] == "DepositSuccess"
    assert (await api.deposit(ada, "25.00", key=key))["__typename"] == "DepositSuccess"
    assert await api.balance(ada) == "25.00"


async def test_a_pool_with_no_connection_free_is_a_503_at_once_not_another_wait(api, failing_transfers):
    _, ada = await api.register("Ada")
    calls = failing_transfers(lambda: PoolExhausted("no database connection came free within 30.0 s"), times=1)
    key = new_key()

    response = await post_deposit(api, ada, key)

    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 1}
    assert calls[0] == 1  # not run again: it would only have waited for the pool as long again
    assert (await api.deposit(ada, "25.00", key=key))["__typename"] == "DepositSuccess"
    assert await api.balance(ada) == "25.00"


async def test_a_database_gone_while_the_token_is_looked_up_is_a_retryable_503_in_graphql_shape(api, monkeypatch):
    _, ada = await api.register("Ada")

    async def sign_in(token: str) -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")

    monkeypatch.setattr(graph.auth, "sign_in", sign_in)
    headers = {"Authorization": f"Bearer {ada}"}
    response = await api.http.post("/graphql", json={"query": "{ me { balance } }"}, headers=headers)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 1}
