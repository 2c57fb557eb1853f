"""Anonymous reads of public loan data are answered from memory, and never staler than a delivered event.

A read sent without a token, selecting nothing viewer- or clock-dependent, is kept with the outbox
position it saw; a later identical read is served from memory with a single statement (the newest
event about a loan) as long as no such event has committed since. The truth a kept answer is checked
against is the same document sent with a token, which is never kept, and the database.
"""

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.ids import decode_id
from lending.loans import expire_loans
from models import Loan
from tests import services
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.conftest import serve
from tests.polling import until
from tests.querycount import count_queries
from tests.ws import Socket

BROWSE = """query Browse($id: ID!, $first: Int) {
  loan(id: $id) { id name status fundedAmount remainingAmount repaidAmount lenderCount
    partner { name loanCount defaultRate } lenders(first: 5) { edges { node { displayName loanCount } } } }
  loans(first: $first) { totalCount edges { node { id name status fundedAmount } } } }"""
LISTED = "subscription { loanListed { eventId loan { id } } }"
PROGRESS = "subscription($loanId: ID!) { loanProgress(loanId: $loanId) { eventId kind status } }"
MINE = "subscription { myEvents { __typename eventId } }"
MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) { __typename } }"""
_names = itertools.count()


async def read(api: Api, query: str, variables: dict[str, Any], token: str | None = None) -> tuple[dict, int]:
    """The answer's data, and how many SQL statements the request sent (the hub's outbox reads aside)."""
    with count_queries() as statements:
        data = await api.data(query, variables, token)
    return data, len(statements.without_outbox_polls())


async def kept(api: Api, query: str, variables: dict[str, Any]) -> dict:
    """An anonymous read, once it is served from memory (with one statement) and the same as read before.

    An answer is kept under the outbox position this process's hub has read through, which follows
    a commit by a moment: until then the answer is computed again.
    """
    found: list[dict] = []

    async def served_from_memory() -> bool:
        data, statements = await read(api, query, variables)
        found.append(data)
        return statements == 1

    await until(served_from_memory, "an anonymous read served from memory", every=0.05)
    assert all(data == found[-1] for data in found)
    return found[-1]


@dataclass
class Market:
    """One partner's loan, one lender, and the truth a browsing visitor must see."""

    api: Api
    clock: FakeClock
    partner: str
    lender: str
    loan_id: str
    lent: int = 0  # cents the lender has lent to the loan
    repaid: int = 0
    status: str = "FUNDRAISING"
    amount: int = 10_000
    extra_loans: list[str] = field(default_factory=list)

    @property
    def variables(self) -> dict[str, Any]:
        return {"id": self.loan_id, "first": 5}

    async def anonymous_read_is_the_truth(self) -> dict:
        """What a visitor sees now equals what the database holds and what a signed-in read shows."""
        seen, _ = await read(self.api, BROWSE, self.variables)
        truth, _ = await read(self.api, BROWSE, self.variables, self.lender)
        assert seen == truth
        row = await Loan.get(id=decode_id(self.loan_id, "Loan"))
        assert seen["loan"]["status"] == row.status.value == self.status
        assert seen["loan"]["fundedAmount"] == cents(row.funded_cents) == cents(self.lent)
        assert seen["loan"]["repaidAmount"] == cents(row.repaid_cents) == cents(self.repaid)
        assert seen["loans"]["totalCount"] == await Loan.all().count()
        return seen


def cents(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


async def market(api: Api, clock: FakeClock) -> Market:
    partner = await partner_token(f"Partner {next(_names)}")
    _, lender = await api.funded_lender("1000.00", f"Lender{next(_names)}")
    loan_id = await api.loan_id(partner, amount="100.00")
    return Market(api, clock, partner, lender, loan_id)


# ---------------------------------------------------------------- what each change does, and its events


async def lend(m: Market) -> dict[str, int]:
    """Lend 25.00, or say why not; returns the events it makes per subscription."""
    result = await m.api.lend(m.lender, m.loan_id, "25.00")
    assert result["__typename"] == "LendSuccess", result
    m.lent += 2500
    if m.lent == m.amount:
        m.status = "FUNDED"
        return {"progress": 2, "mine": 1}
    return {"progress": 1}


async def repay(m: Market) -> dict[str, int]:
    result = await m.api.repay(m.partner, m.loan_id, "25.00")
    assert result["__typename"] == "PostRepaymentSuccess", result
    m.repaid += 2500
    events = {"mine": 1}
    if m.status == "FUNDED":
        m.status = "REPAYING"
        events["progress"] = 1
    if m.repaid == m.amount:
        m.status = "REPAID"
        events = {"mine": 2, "progress": 1}
    return events


async def default(m: Market) -> dict[str, int]:
    result = await m.api.data(MARK_DEFAULT, {"input": {"loanId": m.loan_id}}, m.partner)
    assert result["markDefault"]["__typename"] == "MarkDefaultSuccess", result
    m.status = "DEFAULTED"
    return {"progress": 1, "mine": 1}


async def expire(m: Market) -> dict[str, int]:
    """The server's expiry sweep (graph/app.py runs it on a timer), once the deadline has passed."""
    m.clock.advance(days=91)
    assert await expire_loans(m.clock())
    await m.api.app.state.graphql.hub.bus.announce()
    m.status = "EXPIRED"
    return {"progress": 1, "mine": 1} if m.lent else {"progress": 1}


async def list_another(m: Market) -> dict[str, int]:
    m.extra_loans.append(await m.api.loan_id(m.partner, amount="50.00"))
    return {"listed": 1}


CHANGES = {"lend": lend, "repay": repay, "default": default, "expire": expire, "list": list_another}


def applies(change: str, m: Market) -> bool:
    if change == "list":
        return True
    if change in ("lend", "expire"):
        return m.status == "FUNDRAISING"
    return m.status in ("FUNDED", "REPAYING")


async def change_then_read_on_delivery(m: Market, sock: Socket, change: str) -> None:
    """Make the change; the moment its first event reaches the subscriber, the anonymous read shows it."""
    before = await kept(m.api, BROWSE, m.variables)
    events = await CHANGES[change](m)
    first, *rest = [op for op, count in events.items() for _ in range(count)]
    await sock.next(first)
    after = await m.anonymous_read_is_the_truth()
    assert after != before
    for op in rest:
        await sock.next(op)


@contextlib.asynccontextmanager
async def following(api: Api, m: Market) -> AsyncIterator[Socket]:
    """A socket of the market's lender, following the listings, the market's loan and the lender's events."""
    hub = api.app.state.graphql.hub
    await until(lambda: hub.subscriber_count() == 0, "the subscribers of an earlier example to leave")
    async with Socket.open(api.ws_url, m.lender) as sock:
        await sock.subscribe("listed", LISTED)
        await sock.subscribe("progress", PROGRESS, {"loanId": m.loan_id})
        await sock.subscribe("mine", MINE)
        await api.listening(3)
        yield sock


async def fill(m: Market) -> None:
    while m.status == "FUNDRAISING":
        await lend(m)


# ---------------------------------------------------------------- (a) never stale after delivery


def examples(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@examples(6)
@given(changes=st.lists(st.sampled_from(sorted(CHANGES)), min_size=2, max_size=8))
async def test_once_an_event_is_delivered_no_visitor_reads_the_page_without_it(live, clock, changes):
    m = await market(live, clock)
    async with following(live, m) as sock:
        for change in changes:
            if not applies(change, m):
                change = "lend" if m.status == "FUNDRAISING" else "list"
            await change_then_read_on_delivery(m, sock, change)


# ---------------------------------------------------------------- (b) every kind of change


@pytest.mark.parametrize("change", ["lend", "list", "expire", "repay", "default"])
async def test_every_kind_of_change_replaces_the_kept_page(live, clock, change):
    m = await market(live, clock)
    async with following(live, m) as sock:
        if change in ("repay", "default"):
            await fill(m)
            for op in ["progress"] * 5 + ["mine"]:
                await sock.next(op)
        elif change == "expire":
            await lend(m)  # so that expiry refunds a share
            await sock.next("progress")
        await change_then_read_on_delivery(m, sock, change)


async def test_a_repayment_that_changes_no_status_replaces_the_kept_page_too(api, clock):
    m = await market(api, clock)
    await fill(m)
    await repay(m)  # REPAYING now: the next repayment writes no event on the loan's own stream
    before = await kept(api, BROWSE, m.variables)
    await repay(m)
    after = await m.anonymous_read_is_the_truth()
    assert after["loan"]["repaidAmount"] == "50.00" != before["loan"]["repaidAmount"]


# ---------------------------------------------------------------- (c) never for a viewer, the clock or the limits


async def rename_without_an_event(loan_id: str, name: str) -> None:
    """A change no API makes: only a kept answer can still show the old name after it."""
    await Loan.filter(id=decode_id(loan_id, "Loan")).update(name=name)


async def test_requests_with_a_token_or_any_authorization_header_are_never_served_from_memory(api, clock):
    m = await market(api, clock)
    await kept(api, BROWSE, m.variables)
    await rename_without_an_event(m.loan_id, "Renamed")

    anonymous, _ = await read(api, BROWSE, m.variables)
    signed_in, statements = await read(api, BROWSE, m.variables, m.lender)
    bad_token = await api.http.post(
        "/graphql", json={"query": BROWSE, "variables": m.variables}, headers={"Authorization": "Bearer nonsense"}
    )

    assert anonymous["loan"]["name"] == "Amina"  # kept: proof that the cache is in use
    assert signed_in["loan"]["name"] == "Renamed" and statements > 1
    assert bad_token.json()["data"]["loan"]["name"] == "Renamed"


@pytest.mark.parametrize(
    "query",
    [
        "query($id: ID!) { loan(id: $id) { name } rateLimit { remaining } }",
        "query($id: ID!) { loan(id: $id) { name daysPastDue } }",
        "query($id: ID!) { loan(id: $id) { name partner { arrearsRate } } }",
        "query($id: ID!) { loan(id: $id) { name } me { id } }",
        "query($id: ID!) { loan(id: $id) { name } partners(first: 1) { totalCount } }",
        "query($id: ID!) { node(id: $id) { ... on Loan { name } } }",
    ],
)
async def test_reads_that_depend_on_the_viewer_the_clock_or_other_roots_are_executed_every_time(api, clock, query):
    m = await market(api, clock)
    variables = {"id": m.loan_id}
    await read(api, query, variables)
    await rename_without_an_event(m.loan_id, "Renamed")
    data, _ = await read(api, query, variables)
    assert (data.get("loan") or data.get("node"))["name"] == "Renamed"


async def test_days_past_due_follow_the_clock_with_no_event(api, clock):
    m = await market(api, clock)
    await fill(m)
    query = "query($id: ID!) { loan(id: $id) { daysPastDue partner { arrearsRate } } }"
    before = (await api.data(query, {"id": m.loan_id}))["loan"]
    clock.advance(days=45)
    after = (await api.data(query, {"id": m.loan_id}))["loan"]
    assert before == {"daysPastDue": 0, "partner": {"arrearsRate": "0.0000"}}
    assert after["daysPastDue"] > 0 and after["partner"]["arrearsRate"] != "0.0000"


async def test_a_kept_answer_counts_against_the_rate_limit_like_any_other(sqlite_template: Path, tmp_path: Path, clock):
    async with serve(services.sqlite_copy(sqlite_template, tmp_path), clock, rate_limit_per_ip=12) as api:
        m = await market(api, clock)
        await kept(api, BROWSE, m.variables)
        remaining, statuses = [], []
        for _ in range(12):
            with count_queries() as statements:
                answer = await api.http.post("/graphql", json={"query": BROWSE, "variables": m.variables})
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
                assert len(statements.without_outbox_polls()) == 1  # served from memory
        assert remaining == list(range(remaining[0], -1, -1))
        assert statuses == [200] * len(remaining) + [429] * (12 - len(remaining))
        assert 429 in statuses


# ---------------------------------------------------------------- (d) the key


async def test_variables_and_operation_name_each_have_their_answer(api, clock):
    m = await market(api, clock)
    await list_another(m)
    await list_another(m)
    one, two = {"id": m.loan_id, "first": 1}, {"id": m.loan_id, "first": 2}
    assert len((await kept(api, BROWSE, one))["loans"]["edges"]) == 1
    assert len((await kept(api, BROWSE, two))["loans"]["edges"]) == 2
    assert len((await kept(api, BROWSE, {"first": 1, "id": m.loan_id}))["loans"]["edges"]) == 1  # canonical JSON

    query = "{ loans(first: 2) { edges { node { id name } } } }"
    posted = await kept(api, query, {})
    for _ in range(2):  # over GET too, from memory the second time
        got = await api.http.get("/graphql", params={"query": query})
        assert got.status_code == 200 and got.json() == {"data": posted}

    both = "query One { loans(first: 1) { totalCount } } query Two { loans(first: 2) { edges { node { id } } } }"
    for name in ("One", "Two", "One"):
        body = (await api.http.post("/graphql", json={"query": both, "operationName": name})).json()
        assert ("totalCount" in body["data"]["loans"]) is (name == "One")


# ---------------------------------------------------------------- (e) bounded


async def test_memory_holds_at_most_the_configured_answers_and_bytes(database_url, clock, tmp_path):
    for bound in ({"response_cache_size": 3}, {"response_cache_bytes": 2000}):
        async with serve(database_url, clock, memory_stats_dir=str(tmp_path), **bound) as api:
            m = await market(api, clock)
            for first in range(1, 11):
                page = await api.data(BROWSE, {"id": m.loan_id, "first": first})
                assert page["loans"]["totalCount"] == await Loan.all().count()
            sizes = (await api.http.get("/debug/memory")).json()
            if "response_cache_size" in bound:
                assert sizes["responses"] == 3
            else:
                assert 0 < sizes["responses_bytes"] <= 2000 and sizes["responses"] < 10
            assert (await kept(api, BROWSE, {"id": m.loan_id, "first": 10}))["loans"]["totalCount"] >= 1


async def test_a_kept_answer_costs_one_statement_the_newest_event_about_a_loan(api, clock):
    m = await market(api, clock)
    await kept(api, BROWSE, m.variables)
    with count_queries() as statements:
        await api.data(BROWSE, m.variables)
    [statement] = statements.without_outbox_polls()
    assert statement.startswith("SELECT max") and '"event"' in statement


async def test_answers_an_event_made_stale_leave_memory_once_a_read_sees_it(database_url, clock, tmp_path):
    """Under writes every kept page goes stale at the next event about a loan: those pages are dropped
    as soon as one read of a kept page sees that event, rather than filling memory until evicted."""
    async with serve(database_url, clock, memory_stats_dir=str(tmp_path)) as api:
        m = await market(api, clock)
        for first in (1, 2, 3):
            await kept(api, BROWSE, {"id": m.loan_id, "first": first})
        assert (await api.http.get("/debug/memory")).json()["responses"] == 3
        await lend(m)
        page = await api.data(BROWSE, {"id": m.loan_id, "first": 1})  # a kept page, and the lend's event
        assert page["loan"]["fundedAmount"] == "25.00"
        assert (await api.http.get("/debug/memory")).json()["responses"] <= 1  # at most its own new answer
