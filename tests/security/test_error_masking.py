"""OWASP GraphQL cheat sheet, "Secure Configurations": don't return excessive errors.

An unexpected exception (a bug, a lost database connection) reaches the
client as "Internal error" with extensions {code: INTERNAL, errorId}; the
exception, its message and its traceback go to the log under that id, never
to the client. Expected failures stay readable: typed UserErrors, errors the
domain raises in queries (with their code), GraphQL validation errors.

The bug is played by patching a function the resolvers call, so that the
request itself goes through the public API as any client's would.
"""

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import pytest
from tortoise import Tortoise

from tests.api import partner_token
from tests.conftest import serve
from tests.security.calls import codes
from tests.snapshot import changes, snapshot
from tests.ws import Socket

SECRET = "password=hunter2 host=db.internal"


def boom(*args, **kwargs):
    raise RuntimeError(SECRET)


@contextlib.asynccontextmanager
async def failing_outbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Every event write fails while inside: in Python on SQLite; on PostgreSQL, where a lend is one
    SQL function (lending/lend.sql), the database itself refuses the event row."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "postgres":
        with monkeypatch.context() as patched:
            patched.setattr("lending.funding.emit", boom)
            yield
        return
    await connection.execute_script(
        "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN RAISE EXCEPTION '{SECRET}'; END $$;"
        " CREATE TRIGGER refuse_event BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse_event();"
    )
    try:
        yield
    finally:
        await connection.execute_script("DROP TRIGGER refuse_event ON event; DROP FUNCTION refuse_event();")


def assert_masked(body: dict, caplog: pytest.LogCaptureFixture) -> str:
    """One masked error, nothing of the exception in the answer, all of it in the log under the error id."""
    text = json.dumps(body)
    assert SECRET not in text and "RuntimeError" not in text and "Traceback" not in text, text
    [error] = body["errors"]
    assert error["message"] == "Internal error"
    assert error["extensions"].keys() == {"code", "errorId"} and error["extensions"]["code"] == "INTERNAL"
    error_id = error["extensions"]["errorId"]
    [record] = [r for r in caplog.records if r.name == "lendgraph.errors" and error_id in r.getMessage()]
    assert record.exc_info is not None and str(record.exc_info[1]) == SECRET
    return error_id


@pytest.mark.parametrize("production", [False, True])
async def test_an_unexpected_error_in_a_query_is_masked_and_logged(
    database_url, clock, monkeypatch, caplog, production
):
    async with serve(database_url, clock, production=production) as api:
        partner = await partner_token()
        loan = await api.loan_id(partner, name="Amina")
        monkeypatch.setattr("graph.types.lenders.lenders_of_loan", boom)
        query = "query($id: ID!) { loans { totalCount } loan(id: $id) { name lenders { totalCount } } }"
        with caplog.at_level(logging.ERROR, logger="lendgraph.errors"):
            body = await api.post(query, {"id": loan})
        assert_masked(body, caplog)
        assert body["errors"][0]["path"] == ["loan", "lenders"]
        # The rest of the answer is there: one broken field does not hide the others.
        assert body["data"] == {"loans": {"totalCount": 1}, "loan": None}


async def test_a_mutation_that_fails_unexpectedly_is_masked_and_changes_nothing(api, monkeypatch, caplog):
    partner = await partner_token()
    loan = await api.loan_id(partner)
    _, token = await api.funded_lender("100.00")
    await api.balance(token)  # the token's first use is recorded before the snapshot
    before = await snapshot()
    # The outbox write is the last of the lend transaction: everything before it must be undone.
    async with failing_outbox(monkeypatch):
        with caplog.at_level(logging.ERROR, logger="lendgraph.errors"):
            body = await api.post(
                """mutation($input: LendInput!) { lend(input: $input) { __typename } }""",
                {"input": {"loanId": loan, "amount": "25.00", "idempotencyKey": "once"}},
                token,
            )
    assert_masked(body, caplog)
    assert body["data"] is None
    after = await snapshot()
    assert after == before, changes(before, after)
    # Once the fault is gone, the same request (same idempotency key) goes through: nothing was half-kept.
    assert (await api.lend(token, loan, key="once"))["__typename"] == "LendSuccess"
    assert await api.balance(token) == "75.00"


async def test_an_unexpected_error_in_a_subscription_event_is_masked(live, monkeypatch, caplog):
    partner = await partner_token()
    monkeypatch.setattr("graph.types.lenders.lenders_of_loan", boom)
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("l", "subscription { loanListed { eventId loan { name lenders { totalCount } } } }")
        await ws.nothing_for("l", 0.2)  # subscribed before the loan is listed
        with caplog.at_level(logging.ERROR, logger="lendgraph.errors"):
            await live.loan_id(partner, name="Amina")
            message = await ws.receive("l")
        assert message["type"] == "next", message
        assert_masked(message["payload"], caplog)
        assert message["payload"]["errors"][0]["path"] == ["loanListed", "loan", "lenders"]
        # The subscription lives on: the next event that does not fail is delivered whole.
        monkeypatch.undo()
        await live.loan_id(partner, name="Bahati")
        assert (await ws.next("l"))["loanListed"]["loan"] == {"name": "Bahati", "lenders": {"totalCount": 0}}


async def test_queries_and_mutations_over_a_websocket_are_masked_and_keep_their_codes(live, monkeypatch, caplog):
    partner = await partner_token()
    loan = await live.loan_id(partner)
    monkeypatch.setattr("graph.types.lenders.lenders_of_loan", boom)
    async with Socket.open(live.ws_url) as ws:
        with caplog.at_level(logging.ERROR, logger="lendgraph.errors"):
            await ws.subscribe("q", "query($id: ID!) { loan(id: $id) { lenders { totalCount } } }", {"id": loan})
            message = await ws.receive("q")
        assert message["type"] == "next" and message["payload"]["data"] == {"loan": None}, message
        assert_masked(message["payload"], caplog)
        await ws.subscribe("c", '{ loans(after: "not-a-cursor") { totalCount } }')
        message = await ws.receive("c")
        assert codes(message["payload"]) == ["INVALID_INPUT"], message


async def test_expected_errors_keep_their_message_in_production(database_url, clock):
    async with serve(database_url, clock, production=True) as api:
        _, token = await api.register("Ada")
        typed = await api.data(
            """mutation { withdraw(input: {amount: "10.00", idempotencyKey: "w"}) {
                 __typename ... on UserError { message code } } }""",
            token=token,
        )
        assert typed["withdraw"]["__typename"] == "InsufficientCredit"
        assert "0.00" in typed["withdraw"]["message"] and typed["withdraw"]["code"] == "INSUFFICIENT_CREDIT"

        bad_cursor = await api.post('{ loans(after: "not-a-cursor") { totalCount } }')
        assert codes(bad_cursor) == ["INVALID_INPUT"] and "cursor" in bad_cursor["errors"][0]["message"].lower()

        invalid = await api.post("{ loans { totalCount nonsense } }")
        assert "nonsense" in invalid["errors"][0]["message"]

        bad_id = await api.post('{ node(id: "!!") { id } }')
        assert bad_id == {"data": {"node": None}}, bad_id  # an id that names nothing: null, not Internal error
