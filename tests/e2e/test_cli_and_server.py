"""The command line and a real server process, as an operator would use them."""

import json

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.e2e.server import run_cli, serving

pytestmark = pytest.mark.e2e


def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite://{tmp_path / 'e2e.sqlite3'}"
    run_cli("migrate", database_url=url)
    return url


def test_cli_tokens_drive_a_real_server(database_url):
    partner = (
        run_cli(
            "create-partner",
            "--name",
            "Juhudi Kilimo",
            "--country",
            "KE",
            "--risk-rating",
            "3.5",
            database_url=database_url,
        )
        .strip()
        .splitlines()[-1]
    )
    admin = run_cli("create-token", "--role", "admin", database_url=database_url).strip().splitlines()[-1]
    assert partner.startswith("lg_") and admin.startswith("lg_")

    with serving(database_url) as base:
        assert httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}).status_code == 200  # GraphiQL
        listed = graphql(
            base,
            """mutation { listLoan(input: {name: "Amina", use: "fabric", countryIsoCode: "KE", sector: CLOTHING,
                 gender: FEMALE, amount: "50.00", termMonths: 6}) { ... on ListLoanSuccess { loan { id } } } }""",
            token=partner,
        )
        loan_id = listed["listLoan"]["loan"]["id"]
        registered = graphql(
            base,
            'mutation { registerLender(input: {displayName: "Ada", email: "ada@example.org"}) {'
            " ... on RegisterLenderSuccess { token } } }",
        )
        lender = registered["registerLender"]["token"]
        graphql(
            base, 'mutation { deposit(input: {amount: "50.00", idempotencyKey: "d1"}) { __typename } }', token=lender
        )
        lent = graphql(
            base,
            """mutation($id: ID!) { lend(input: {loanId: $id, amount: "50.00", idempotencyKey: "l1"}) {
                 __typename ... on LendSuccess { loan { status } } } }""",
            {"id": loan_id},
            token=lender,
        )
        assert lent["lend"] == {"__typename": "LendSuccess", "loan": {"status": "FUNDED"}}
        repaid = graphql(
            base,
            """mutation($id: ID!) { postRepayment(input: {loanId: $id, amount: "50.00", idempotencyKey: "r1"}) {
                 __typename ... on PostRepaymentSuccess { loan { status } } } }""",
            {"id": loan_id},
            token=admin,
        )
        assert repaid["postRepayment"] == {"__typename": "PostRepaymentSuccess", "loan": {"status": "REPAID"}}
        assert graphql(base, "{ me { balance } }", token=lender)["me"]["balance"] == "50.00"

    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"


def test_export_schema_prints_the_committed_sdl(database_url):
    from pathlib import Path

    committed = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
    assert run_cli("export-schema", database_url=database_url) == committed


def test_migrate_twice_is_harmless(database_url):
    assert "up to date" in run_cli("migrate", database_url=database_url)


@pytest.mark.parametrize(("setting", "compressed"), [(None, False), ("0", False), ("1", True)])
def test_websocket_compression_is_accepted_only_when_turned_on(database_url, setting, compressed):
    """Browsers always offer permessage-deflate; the server accepts it only with WS_PER_MESSAGE_DEFLATE=1."""
    run_cli("migrate", database_url=database_url)
    env = {} if setting is None else {"WS_PER_MESSAGE_DEFLATE": setting}
    with serving(database_url, env=env) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], compression="deflate") as socket:
            extensions = socket.response.headers.get("Sec-WebSocket-Extensions")
            socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
            socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}))
            assert json.loads(socket.recv(timeout=10)) == {
                "id": "1",
                "type": "next",
                "payload": {"data": {"__typename": "Query"}},
            }
    assert (extensions is not None and extensions.startswith("permessage-deflate")) is compressed
