"""Two real `lendgraph serve` processes on one PostgreSQL database and one Redis.

Every mutation goes to server B; a WebSocket subscriber of server A sees
them all. Both servers poll the outbox only once a minute, so A can only
learn of B's events in time through Redis: this is the scale-out path.
Likewise a saved search or auto-lend rule changed on one server reaches the
other's match index.
"""

import contextlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests import services
from tests.e2e.client import PROMPTLY, Client, wait_for_subscribers
from tests.e2e.server import run_cli, served, serving
from tests.redis_server import RedisServer, private_redis
from tests.ws import Socket

pytestmark = pytest.mark.e2e

LISTED = """subscription($filter: LoanFilter, $after: String) { loanListed(filter: $filter, after: $after) {
  eventId loan { id name country { isoCode } sector status } } }"""
PROGRESS = """subscription($loanId: ID!, $after: String) { loanProgress(loanId: $loanId, after: $after) {
  eventId kind amountAdded fundedAmount remainingAmount lenderCount status } }"""
MINE = """subscription($after: String) { myEvents(after: $after) {
  __typename eventId
  ... on LoanFunded { loan { name status } }
  ... on RepaymentCredited { amount principal currencyLoss loan { name } } } }"""
FOOD = {"sectors": ["FOOD"]}
SAVE_SEARCH = """mutation($input: SaveSearchInput!) { saveSearch(input: $input) {
  __typename ... on SaveSearchSuccess { savedSearch { id } } } }"""
DELETE_SEARCH = """mutation($input: DeleteSavedSearchInput!) { deleteSavedSearch(input: $input) { __typename } }"""
SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) { __typename } }"""


@pytest.fixture
def database_url() -> Iterator[str]:
    """A private PostgreSQL database for this test, dropped afterwards."""
    try:
        url, name = services.create_pg_database()
    except Exception as error:  # any failure to reach the server means "absent"
        services.unavailable("PostgreSQL", error)
    try:
        yield url
    finally:
        services.drop_pg_database(name)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@contextlib.asynccontextmanager
async def two_servers(
    database_url: str, redis_server: RedisServer, more_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, str, str]]:
    """A migrated database with one partner, and two servers on it listening on the bus: (partner token, a, b)."""
    assert "up to date" in run_cli("migrate", database_url=database_url)
    partner = run_cli(
        "create-partner", "--name", "Juhudi Kilimo", "--country", "KE", "--risk-rating", "3.5",
        database_url=database_url,
    ).strip().splitlines()[-1]  # fmt: skip
    env = {
        "BROADCAST_URL": redis_server.url,
        "OUTBOX_POLL_INTERVAL": "60",
        "EXPIRY_INTERVAL": "0",
        "AUTOLEND_SWEEP_INTERVAL": "0",
        **(more_env or {}),
    }
    with contextlib.ExitStack() as servers:
        with ThreadPoolExecutor(2) as pool:  # start both at once: each takes most of a second
            a, b = pool.map(servers.enter_context, [serving(database_url, env=env), serving(database_url, env=env)])
        await wait_for_subscribers(redis_server, 2)
        yield partner, a, b


async def test_a_subscriber_of_one_server_sees_every_event_made_on_another(database_url, redis_server):
    async with two_servers(database_url, redis_server) as (partner, a, b), httpx.AsyncClient(timeout=30) as http:
        server_b = Client(http, b)
        ada = await server_b.register("Ada")
        bob = await server_b.register("Bob")
        await server_b.deposit(ada, "75.00", "deposit-ada")
        await server_b.deposit(bob, "25.00", "deposit-bob")

        ws_url = a.replace("http://", "ws://") + "/graphql"
        async with Socket.open(ws_url, token=ada) as ws:
            # `after: "0"` (the database is new): nothing can slip between subscribing and the first listing.
            await ws.subscribe("listed", LISTED, {"filter": {"countries": ["KE"], "sectors": ["FOOD"]}, "after": "0"})
            await ws.subscribe("me", MINE, {"after": "0"})
            await server_b.list_loan(partner, "Rosa", "CLOTHING")  # does not match
            loan_id = await server_b.list_loan(partner, "Wanjiru", "FOOD")
            listed = (await ws.next("listed", PROMPTLY))["loanListed"]
            assert listed["loan"] == {
                "id": loan_id, "name": "Wanjiru", "country": {"isoCode": "KE"}, "sector": "FOOD",
                "status": "FUNDRAISING",
            }  # fmt: skip

            await ws.subscribe("p", PROGRESS, {"loanId": loan_id, "after": listed["eventId"]})
            # One mutation at a time, each event awaited: all but the first must come live through Redis.
            await server_b.lend(ada, loan_id, "25.00", "lend-1")
            progress = [(await ws.next("p", PROMPTLY))["loanProgress"]]
            await server_b.lend(bob, loan_id, "25.00", "lend-2")
            progress.append((await ws.next("p", PROMPTLY))["loanProgress"])
            await server_b.lend(ada, loan_id, "50.00", "lend-3")
            progress += [(await ws.next("p", PROMPTLY))["loanProgress"] for _ in range(2)]
            mine = [(await ws.next("me", PROMPTLY))["myEvents"]]
            await server_b.repay(partner, loan_id, "40.00", "repay-1")
            progress.append((await ws.next("p", PROMPTLY))["loanProgress"])
            mine.append((await ws.next("me", PROMPTLY))["myEvents"])

            assert [{k: v for k, v in e.items() if k != "eventId"} for e in progress] == [
                {"kind": "SHARE_ADDED", "amountAdded": "25.00", "fundedAmount": "25.00", "remainingAmount": "75.00",
                 "lenderCount": 1, "status": "FUNDRAISING"},
                {"kind": "SHARE_ADDED", "amountAdded": "25.00", "fundedAmount": "50.00", "remainingAmount": "50.00",
                 "lenderCount": 2, "status": "FUNDRAISING"},
                {"kind": "SHARE_ADDED", "amountAdded": "50.00", "fundedAmount": "100.00", "remainingAmount": "0.00",
                 "lenderCount": 2, "status": "FUNDRAISING"},
                {"kind": "LOAN_FUNDED", "amountAdded": "0.00", "fundedAmount": "100.00", "remainingAmount": "0.00",
                 "lenderCount": 2, "status": "FUNDED"},
                {"kind": "LOAN_REPAYING", "amountAdded": "0.00", "fundedAmount": "100.00",
                 "remainingAmount": "0.00", "lenderCount": 2, "status": "REPAYING"},
            ]  # fmt: skip
            assert [{k: v for k, v in e.items() if k != "eventId"} for e in mine] == [
                {"__typename": "LoanFunded", "loan": {"name": "Wanjiru", "status": "FUNDED"}},
                {"__typename": "RepaymentCredited", "amount": "30.00", "principal": "30.00", "currencyLoss": "0.00",
                 "loan": {"name": "Wanjiru"}},
            ]  # fmt: skip
            ids = [listed["eventId"], *(e["eventId"] for e in progress)]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            assert mine[0]["eventId"] < mine[1]["eventId"]
            # Nothing else: no second listing (Rosa does not match), no duplicate.
            assert await ws.nothing_for("listed", 0.5)
            assert await ws.nothing_for("p", 0.05) and await ws.nothing_for("me", 0.05)

    assert run_cli("check-ledger", database_url=database_url).strip() == "books balance"


async def test_a_search_or_rule_changed_on_one_server_is_matched_on_the_other(database_url, redis_server):
    """Each server's match index hears of the other's changes through the outbox (and Redis, to be prompt)."""
    async with two_servers(database_url, redis_server) as (partner, a, b), httpx.AsyncClient(timeout=30) as http:
        server_a, server_b = Client(http, a), Client(http, b)
        ada = await server_a.register("Ada")
        await server_a.deposit(ada, "100.00", "deposit-ada")
        async with Socket.open(b.replace("http://", "ws://") + "/graphql") as ws:
            await ws.subscribe("listed", LISTED, {"after": "0"})

            async def b_has_read_everything_before(marker: str) -> None:
                """A loan listed on A, seen by B's hub: B has applied every change A committed before it."""
                await server_a.list_loan(partner, marker, "HOUSING")
                assert (await ws.next("listed", PROMPTLY))["loanListed"]["loan"]["name"] == marker

            saved = await server_a.data(SAVE_SEARCH, {"input": {"name": "food", "filter": FOOD}}, ada)
            rule = {"criteria": FOOD, "amountPerLoan": "25.00"}
            assert (await server_a.data(SET_RULE, {"input": rule}, ada))["setAutoLendRule"]["__typename"] == (
                "AutoLendRuleSuccess"
            )
            await b_has_read_everything_before("Marker 1")
            await server_b.list_loan(partner, "Wanjiru", "FOOD")
            assert (await ws.next("listed", PROMPTLY))["loanListed"]["loan"]["name"] == "Wanjiru"

            search_id = saved["saveSearch"]["savedSearch"]["id"]
            await server_a.data(DELETE_SEARCH, {"input": {"id": search_id}}, ada)
            await server_a.data(SET_RULE, {"input": {**rule, "enabled": False}}, ada)
            await b_has_read_everything_before("Marker 2")
            await server_b.list_loan(partner, "Zawadi", "FOOD")

        mine = await server_b.data(
            "{ me { balance notifications(first: 10) { edges { node { kind loan { name } } } } } }", token=ada
        )
    assert mine["me"]["balance"] == "75.00"  # 25.00 lent to Wanjiru by the rule, nothing to Zawadi
    kinds = [(e["node"]["kind"], e["node"]["loan"]["name"]) for e in mine["me"]["notifications"]["edges"]]
    assert sorted(kinds) == [("AUTO_LOAN", "Wanjiru"), ("SAVED_SEARCH_MATCH", "Wanjiru")]


BROWSE = """query($id: ID!) { loan(id: $id) { fundedAmount repaidAmount lenderCount status }
  loans(first: 5) { totalCount edges { node { id fundedAmount } } } }"""


async def test_no_visitor_of_either_server_reads_a_page_older_than_an_event_either_delivered(
    database_url, redis_server, tmp_path
):
    """Each server keeps anonymous answers; a change made on one, once its event reaches a subscriber of
    either, shows at once in the anonymous reads of both."""
    stats = {"MEMORY_STATS_DIR": str(tmp_path)}
    async with two_servers(database_url, redis_server, stats) as (partner, a, b), httpx.AsyncClient(timeout=30) as http:
        await changes_seen_at_once(http, partner, a, b)
        hits = [(await http.get(f"{base}/debug/memory")).json()["responses_hits"] for base in (a, b)]
        assert min(hits) > 0


async def test_no_visitor_of_either_worker_reads_a_page_older_than_an_event_either_delivered(database_url):
    """The same with one server of two workers and no Redis: each request on a connection of its own lands
    on either worker, and a worker hears of the other's events only by reading the outbox."""
    assert "up to date" in run_cli("migrate", database_url=database_url)
    partner = run_cli(
        "create-partner", "--name", "Juhudi Kilimo", "--country", "KE", "--risk-rating", "3.5",
        database_url=database_url,
    ).strip().splitlines()[-1]  # fmt: skip
    env = {"OUTBOX_POLL_INTERVAL": "0.2", "EXPIRY_INTERVAL": "0", "AUTOLEND_SWEEP_INTERVAL": "0"}
    one_request_per_connection = httpx.Limits(max_keepalive_connections=0)
    with served(database_url, env=env, workers=2) as server:
        async with httpx.AsyncClient(timeout=30, limits=one_request_per_connection) as http:
            await changes_seen_at_once(http, partner, server.base, server.base)


async def changes_seen_at_once(http: httpx.AsyncClient, partner: str, a: str, b: str) -> None:
    """Lends and repayments made on `a` or `b`; as soon as a subscriber of either hears of each, the
    anonymous reads of both show it (a kept answer from before would not)."""
    servers = {"a": Client(http, a), "b": Client(http, b)}
    ada = await servers["b"].register("Ada")
    await servers["a"].deposit(ada, "100.00", "deposit-ada")
    loan_id = await servers["a"].list_loan(partner, "Wanjiru", "FOOD")
    variables = {"id": loan_id}

    async def pages() -> list[dict]:
        return [await server.data(BROWSE, variables) for server in servers.values()]

    sockets = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, base in (("a", a), ("b", b)):
            ws_url = base.replace("http://", "ws://") + "/graphql"
            sockets[name] = await stack.enter_async_context(Socket.open(ws_url, ada))
            await sockets[name].subscribe("p", PROGRESS, {"loanId": loan_id, "after": "0"})
            await sockets[name].subscribe("me", MINE, {"after": "0"})
            assert (await sockets[name].next("p", PROMPTLY))["loanProgress"]["kind"] == "LOAN_LISTED"

        # (made on, heard by a subscriber of, what, the stream it is heard on, the figures then)
        steps = [
            ("b", "a", "lend", "25.00", "p", {"fundedAmount": "25.00", "status": "FUNDRAISING"}),
            ("a", "b", "lend", "25.00", "p", {"fundedAmount": "50.00", "status": "FUNDRAISING"}),
            ("b", "b", "lend", "50.00", "p", {"fundedAmount": "100.00", "status": "FUNDED"}),
            ("a", "b", "repay", "40.00", "me", {"repaidAmount": "40.00", "status": "REPAYING"}),
            ("b", "a", "repay", "20.00", "me", {"repaidAmount": "60.00", "status": "REPAYING"}),
        ]
        for n, (made_on, heard_on, change, amount, stream, figures) in enumerate(steps):
            before = await pages()
            assert before == await pages()  # read again: served from memory where it was kept
            if change == "lend":
                await servers[made_on].lend(ada, loan_id, amount, f"lend-{n}")
            else:
                await servers[made_on].repay(partner, loan_id, amount, f"repay-{n}")
            await sockets[heard_on].next(stream, PROMPTLY)
            seen = await pages()
            truth = await servers["a"].data(BROWSE, variables, ada)  # a signed-in read is never kept
            assert seen == [truth, truth] != before
            assert {key: truth["loan"][key] for key in figures} == figures
            # The rest of this change's events, on both sockets, before the next change.
            for socket in sockets.values():
                while not await socket.nothing_for("p", 0.2) or not await socket.nothing_for("me", 0.05):
                    pass
