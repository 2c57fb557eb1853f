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
from subscriptions.hub import Topic
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
                assert inbox.queue.qsize() == 1
                delivery = inbox.queue.get_nowait()
                assert delivery.event.loan_id == decode_id(loan, "Loan") and delivery.loan is not None
                assert delivery.loan.name == name and delivery.loan.partner.name == "Juhudi Kilimo"
