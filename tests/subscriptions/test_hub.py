"""The hub stops when the app stops, whatever it was doing.

A reader that outlived `stop()` would hold the shutdown for a whole outbox
poll interval (here an hour) and keep its database connection meanwhile.
"""

import asyncio

import pytest

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
