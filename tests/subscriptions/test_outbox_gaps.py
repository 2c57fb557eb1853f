"""Event ids committed out of order (PostgreSQL): subscribers still get every event once, in id order.

Writers take no outbox lock, so a slow transaction can hold event id N while
faster ones commit N+1, N+2. Subscribers then get nothing past N until N is
committed (and then everything, in order) or rolled back (and then the rest).
The slow writer here inserts into `event` on a connection of its own and holds
its transaction open; the fast writers lend through the API.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest

from graph.ids import decode_id
from graph.types.events import event_id
from models import Event
from tests.api import Api, partner_token
from tests.clock import FakeClock
from tests.conftest import serve
from tests.subscriptions.documents import PROGRESS
from tests.subscriptions.outbox_writers import connection, insert_event
from tests.ws import Socket

HOLD = 0.6  # seconds a held-back stream is watched: several outbox polls and every hint of the lends


@pytest.fixture
async def pg_live(pg_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    async with serve(pg_url, clock, websockets=True, outbox_poll_interval=0.2) as client:
        yield client


async def arrange(api: Api) -> tuple[str, str, list[str]]:
    """A loan the slow writer reports on, one the fast writers lend to, and three lenders' tokens."""
    partner = await partner_token()
    slow_loan = await api.loan_id(partner, name="Slow", amount="100.00")
    fast_loan = await api.loan_id(partner, name="Fast", amount="100.00")
    tokens = [(await api.funded_lender("25.00", name))[1] for name in ("Ada", "Bob", "Cy")]
    return slow_loan, fast_loan, tokens


def hub_of(api: Api):
    return api.app.state.graphql.hub


async def outbox(loan: str, after: str = "0") -> list[str]:
    """The ids of the loan's stream in the outbox after `after`, in order."""
    rows = Event.filter(loan_id=decode_id(loan, "Loan"), lender_id=None, id__gt=int(after))
    return [event_id(i) for i in await rows.order_by("id").values_list("id", flat=True)]


async def test_events_after_an_uncommitted_id_wait_for_it_then_all_come_in_order(pg_live, pg_url):
    slow_loan, fast_loan, tokens = await arrange(pg_live)
    async with Socket.open(pg_live.ws_url) as ws:
        await ws.subscribe("slow", PROGRESS, {"loanId": slow_loan})
        await ws.subscribe("fast", PROGRESS, {"loanId": fast_loan})
        async with connection(pg_url) as slow, slow.transaction():
            held = await insert_event(slow, decode_id(slow_loan, "Loan"))
            await pg_live.lend(tokens[0], fast_loan)
            await pg_live.lend(tokens[1], fast_loan)
            # Both lends are committed with later ids; neither passes the id still in flight.
            assert await ws.nothing_for("fast", HOLD) and await ws.nothing_for("slow", 0)
            assert hub_of(pg_live).last_id < held
        # Committed: the held event, then the two lends, each once.
        assert (await ws.next("slow"))["loanProgress"]["eventId"] == event_id(held)
        fast = [(await ws.next("fast"))["loanProgress"] for _ in range(2)]
        assert [e["fundedAmount"] for e in fast] == ["25.00", "50.00"]
        assert event_id(held) < fast[0]["eventId"] < fast[1]["eventId"]
        assert await ws.nothing_for("fast") and await ws.nothing_for("slow", 0)
    assert [e["eventId"] for e in fast] == (await outbox(fast_loan))[1:]  # after the listing


async def test_a_rolled_back_id_is_passed_once_its_transaction_has_ended(pg_live, pg_url):
    slow_loan, fast_loan, tokens = await arrange(pg_live)
    async with Socket.open(pg_live.ws_url) as ws:
        await ws.subscribe("slow", PROGRESS, {"loanId": slow_loan})
        await ws.subscribe("fast", PROGRESS, {"loanId": fast_loan})
        async with connection(pg_url) as slow:
            transaction = slow.transaction()
            await transaction.start()
            held = await insert_event(slow, decode_id(slow_loan, "Loan"))
            await pg_live.lend(tokens[0], fast_loan)
            assert await ws.nothing_for("fast", HOLD)
            await transaction.rollback()
        # No hint comes of a rollback: the hub finds the gap final on its own, promptly.
        first = (await ws.next("fast", within=5))["loanProgress"]
        assert first["fundedAmount"] == "25.00" and first["eventId"] > event_id(held)
        await pg_live.lend(tokens[1], fast_loan)
        assert (await ws.next("fast"))["loanProgress"]["fundedAmount"] == "50.00"
        assert await ws.nothing_for("slow", HOLD) and await ws.nothing_for("fast", 0)
    assert not await Event.filter(id=held).exists()


async def test_resuming_after_an_event_id_misses_nothing_of_what_commits_out_of_order(pg_live, pg_url):
    slow_loan, fast_loan, tokens = await arrange(pg_live)
    async with Socket.open(pg_live.ws_url) as ws:
        await ws.subscribe("fast", PROGRESS, {"loanId": fast_loan})
        await pg_live.lend(tokens[0], fast_loan)
        seen = (await ws.next("fast"))["loanProgress"]["eventId"]
    async with connection(pg_url) as slow:
        transaction = slow.transaction()
        await transaction.start()
        held = await insert_event(slow, decode_id(slow_loan, "Loan"))
        await pg_live.lend(tokens[1], fast_loan)
        await pg_live.lend(tokens[2], fast_loan)
        # The replay stops at the id in flight, though it is of another loan: what follows it may not be final.
        async with Socket.open(pg_live.ws_url) as ws:
            await ws.subscribe("fast", PROGRESS, {"loanId": fast_loan, "after": seen})
            await ws.subscribe("slow", PROGRESS, {"loanId": slow_loan, "after": "0"})
            assert (await ws.next("slow"))["loanProgress"]["kind"] == "LOAN_LISTED"  # before the gap: replayed
            assert await ws.nothing_for("fast", HOLD)
            await transaction.commit()
            resumed = [(await ws.next("fast"))["loanProgress"] for _ in range(2)]
            assert (await ws.next("slow"))["loanProgress"]["eventId"] == event_id(held)
            assert await ws.nothing_for("fast") and await ws.nothing_for("slow", 0)
    assert [e["fundedAmount"] for e in resumed] == ["50.00", "75.00"]
    assert [e["eventId"] for e in resumed] == await outbox(fast_loan, seen)
    assert event_id(held) < resumed[0]["eventId"]


async def test_concurrent_lends_to_one_loan_reach_its_stream_in_commit_order(pg_live):
    # They wait for each other on the loan's row lock and take their event ids after it: the fill never goes back.
    partner = await partner_token()
    loan = await pg_live.loan_id(partner, name="Amina", amount="100.00")
    tokens = [(await pg_live.funded_lender("25.00", name))[1] for name in ("Ada", "Bob", "Cy", "Di")]
    await pg_live.caught_up()  # the listing's event read: the live stream below starts after it
    async with Socket.open(pg_live.ws_url) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan})
        assert await ws.nothing_for("p", 0.3)  # subscribed; nothing has happened yet
        results = await asyncio.gather(*(pg_live.lend(token, loan) for token in tokens))
        assert [r["__typename"] for r in results] == ["LendSuccess"] * 4
        seen = [(await ws.next("p"))["loanProgress"] for _ in range(5)]
        assert await ws.nothing_for("p")
    assert [(e["kind"], e["fundedAmount"], e["lenderCount"]) for e in seen] == [
        ("SHARE_ADDED", "25.00", 1), ("SHARE_ADDED", "50.00", 2), ("SHARE_ADDED", "75.00", 3),
        ("SHARE_ADDED", "100.00", 4), ("LOAN_FUNDED", "100.00", 4),
    ]  # fmt: skip
    assert [e["eventId"] for e in seen] == (await outbox(loan))[1:]
