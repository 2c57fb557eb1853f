"""The hub stops when the app stops, whatever it was doing, and hands out every event it reads.

A reader that outlived `stop()` would hold the shutdown for a whole outbox
poll interval (here an hour) and keep its database connection meanwhile.
The hub loads an event's loan only when a subscriber in this process follows
it; one that opens its inbox while the hub loads rows still gets its events, loaded.
"""

import asyncio
import contextlib

import pytest

import subscriptions.hub
from graph.ids import decode_id
from models import Event, EventKind
from subscriptions.bus import EventBus
from subscriptions.hub import Delivery, Hub, Inbox, Topic
from tests.api import partner_token
from tests.clock import FakeClock
from tests.conftest import serve

HOUR = 3600.0


@pytest.mark.parametrize("turns", range(3))
async def test_the_hub_stops_at_once_even_when_woken_as_it_stops(database_url: str, clock: FakeClock, turns: int):
    # A hint (another process's commit) landing in the same few turns of the event loop as the shutdown.
    async with serve(database_url, clock, outbox_poll_interval=HOUR) as api:
        hub = api.app.state.graphql.hub
        hub.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await hub.stop()
        assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("hub-")]


async def test_a_subscriber_arriving_while_the_hub_loads_gets_its_events_loaded(database_url, clock, monkeypatch):
    async with serve(database_url, clock, outbox_poll_interval=HOUR) as api:
        hub = api.app.state.graphql.hub
        partner = await partner_token()
        first, second = [await api.loan_id(partner, name=name, amount="100.00") for name in ("First", "Second")]
        _, token = await api.funded_lender("50.00")
        await hub.drain()
        await hub.stop()  # from here on the test reads the outbox itself, both lends in one read
        load = subscriptions.hub.load
        with contextlib.ExitStack() as inboxes:
            early = inboxes.enter_context(hub.inbox(Topic("loan", decode_id(first, "Loan"))))
            late = []

            async def load_and_subscribe(events):
                if not late:  # the second loan's subscriber arrives while the first loan's rows load
                    late.append(inboxes.enter_context(hub.inbox(Topic("loan", decode_id(second, "Loan")))))
                return await load(events)

            monkeypatch.setattr(subscriptions.hub, "load", load_and_subscribe)
            for loan in (first, second):
                assert (await api.lend(token, loan))["__typename"] == "LendSuccess"
            await hub.drain()
            for inbox, loan, name in ((early, first, "First"), (late[0], second, "Second")):
                (delivery,) = inbox.pending
                assert delivery.event.loan_id == decode_id(loan, "Loan") and delivery.loan is not None
                assert delivery.loan.name == name and delivery.loan.partner.name == "Juhudi Kilimo"


@pytest.mark.parametrize(
    ("failure", "traced"),
    [(ConnectionResetError("the server restarts"), False), (RuntimeError("a bug"), True)],
)
async def test_a_failed_outbox_read_is_one_line_while_the_database_is_away(
    database_url, clock, monkeypatch, caplog, failure, traced
):
    """While PostgreSQL restarts every read fails: one warning line each, not a traceback; a bug keeps its own."""
    async with serve(database_url, clock, outbox_poll_interval=0.01) as api:
        hub = api.app.state.graphql.hub
        failed = asyncio.Event()

        async def drain() -> None:
            failed.set()
            raise failure

        monkeypatch.setattr(hub, "drain", drain)
        caplog.clear()
        async with asyncio.timeout(5):
            await failed.wait()
            await asyncio.sleep(0.05)  # a few more reads fail, and the reader goes on
        monkeypatch.undo()
        records = [r for r in caplog.records if r.name == "lendgraph.hub" and "reading the outbox" in r.getMessage()]
        assert records, caplog.text
        assert all((r.exc_info is not None) is traced for r in records)
        assert all(r.levelname == ("ERROR" if traced else "WARNING") for r in records)
        partner = await partner_token()
        await api.loan_id(partner, name="After", amount="100.00")  # the reader still delivers afterwards
        await hub.drain()


def delivery(event_id: int) -> Delivery:
    return Delivery(Event(id=event_id, kind=EventKind.SHARE_ADDED, loan_id=1, payload={}))


async def test_an_inbox_wakes_its_waiting_subscriber_and_stops_queueing_once_full():
    inbox = Inbox(Topic("loan", 1), size=2)
    waiting = asyncio.create_task(inbox.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.offer(delivery(1))
    await waiting  # woken by the offer
    inbox.offer(delivery(2))
    inbox.offer(delivery(3))  # one more than it holds: lagging, and the event is not kept
    assert [d.id for d in inbox.pending] == [1, 2] and inbox.lagging
    inbox.offer(delivery(4))
    assert [d.id for d in inbox.pending] == [1, 2]
    await asyncio.wait_for(inbox.wait(), 1)  # lagging: at once, the subscriber must catch up


async def test_a_subscriber_cancelled_while_waiting_leaves_its_inbox_usable():
    inbox = Inbox(Topic("loan", 1), size=2)
    waiting = asyncio.create_task(inbox.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    inbox.offer(delivery(1))  # nobody waits: nothing to wake, the event is kept
    await asyncio.wait_for(inbox.wait(), 1)
    assert [d.id for d in inbox.pending] == [1]


async def test_an_event_its_subscriber_does_not_want_neither_wakes_it_nor_takes_room():
    inbox = Inbox(Topic("loan", 1), size=1, wanted=lambda d: d.id % 2 == 0)
    waiting = asyncio.create_task(inbox.wait())
    for event_id in (1, 3, 5):  # more unwanted events than the inbox holds: no lag either
        inbox.offer(delivery(event_id))
    await asyncio.sleep(0)
    assert not waiting.done() and not inbox.pending and not inbox.lagging
    inbox.offer(delivery(2))
    await asyncio.wait_for(waiting, 1)
    assert [d.id for d in inbox.pending] == [2]


async def test_a_filter_that_fails_ends_its_own_subscription_only():
    def wanted(delivery: Delivery) -> bool:
        if delivery.id == 2:
            raise ValueError("a broken filter")
        return True

    broken, other = Inbox(Topic("loan", 1), size=5, wanted=wanted), Inbox(Topic("loan", 1), size=5)
    waiting = asyncio.create_task(broken.wait())
    for event_id in (1, 2, 3):
        for inbox in (broken, other):
            inbox.offer(delivery(event_id))
    await asyncio.wait_for(waiting, 1)
    assert [d.id for d in broken.pending] == [1] and isinstance(broken.failure, ValueError)
    assert [d.id for d in other.pending] == [1, 2, 3] and other.failure is None


async def test_a_queued_event_keeps_none_of_the_answers_encoded_while_it_was_handed_out():
    hub = Hub(EventBus("memory://"))

    def declined(delivery: Delivery) -> bool:  # answered for its selection, but its socket could not take it
        delivery.answers["selection"] = b"x" * 100_000
        return False

    with hub.inbox(Topic("loan", 1)) as inbox:
        inbox.express = declined
        hub.hand_out(delivery(1))
    assert [d.id for d in inbox.pending] == [1]
    assert inbox.pending[0].answers == {}


def test_subscribers_with_equal_filters_share_one_verdict_per_listing():
    """Thousands of loanListed subscribers share a few filters, each its own equal instance: each distinct
    filter is judged once per listing, under one key hashed by identity (subscriptions/resolvers.py)."""
    from types import SimpleNamespace

    from lending.filters import LoanFilter
    from models import LoanStatus
    from subscriptions.resolvers import ListedMatching

    loan = SimpleNamespace(country_code="KE", sector="FOOD", gender="FEMALE", partner=SimpleNamespace(risk_tenths=40))
    listed = Delivery(
        Event(id=1, kind=EventKind.LOAN_LISTED, loan_id=1, payload={"status": LoanStatus.FUNDRAISING.value}),
        loan=loan,  # type: ignore[arg-type]
    )
    kenya = [ListedMatching(LoanFilter(countries=("KE",))) for _ in range(3)]
    uganda = ListedMatching(LoanFilter(countries=("UG",)))
    assert [wanted(listed) for wanted in kenya] == [True, True, True] and uganda(listed) is False
    assert sorted(listed.verdicts.values()) == [False, True]  # two filters judged, not four subscribers
    # ...kept under keys hashed by identity, not by the filters' fields (compared with == on every lookup)
    assert all(type(key) is object for key in listed.verdicts)


class Judge:
    """A subscriber's filter of a group (one filter shared by many subscribers), counting its calls."""

    def __init__(self, group: str, verdict: bool, fails: bool = False) -> None:
        self.group, self.verdict, self.fails, self.calls = group, verdict, fails, 0

    def __call__(self, delivery: Delivery) -> bool:
        self.calls += 1
        if self.fails:
            raise ValueError("a broken filter")
        return self.verdict


def test_an_event_a_group_refuses_is_offered_to_none_of_its_inboxes():
    hub = Hub(EventBus("memory://"))
    refusing = [Judge("no", False) for _ in range(3)]
    passing = [Judge("yes", True) for _ in range(2)]
    failing = [Judge("broken", True, fails=True) for _ in range(2)]
    with contextlib.ExitStack() as stack:
        inboxes = {
            judge: stack.enter_context(hub.inbox(Topic("loan", 1), judge)) for judge in refusing + passing + failing
        }
        plain = stack.enter_context(hub.inbox(Topic("loan", 1)))
        hub.hand_out(delivery(1))
        assert sum(judge.calls for judge in refusing) == 1  # asked once for the group
        assert not any(inboxes[judge].pending for judge in refusing)
        assert all([d.id for d in inboxes[judge].pending] == [1] for judge in passing)
        assert [d.id for d in plain.pending] == [1]
        # A filter that raises ends each of its subscriptions with the error, and no one else's.
        assert all(isinstance(inboxes[judge].failure, ValueError) for judge in failing)
        assert hub.subscriber_count() == 8
    assert hub.subscriber_count() == 0 and hub.topic_count() == 0
