"""The hub remembers a revoked token for ten minutes (subscriptions/revocations.py): long enough for a socket
that signed in the moment before, and no longer, so a long-running process does not keep every revocation."""

from models import Event, EventKind
from subscriptions.bus import EventBus
from subscriptions.hub import Delivery, Hub
from subscriptions.revocations import REMEMBERED_SECONDS, RecentRevocations


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_revocation_is_remembered_for_its_time_and_then_forgotten():
    clock = Clock()
    revoked = RecentRevocations(600, clock)
    revoked.add(7)
    clock.now += 300
    revoked.add(8)
    assert (7 in revoked, 8 in revoked, 9 in revoked, None in revoked) == (True, True, False, False)
    assert len(revoked) == 2
    clock.now += 300.5  # 7 was read 600.5 s ago, 8 300.5 s ago
    assert (7 in revoked, 8 in revoked, len(revoked)) == (False, True, 1)
    revoked.add(8)  # read again: remembered from now
    clock.now += 599
    assert (8 in revoked, len(revoked)) == (True, 1)
    clock.now += 2
    assert (8 in revoked, len(revoked)) == (False, 0)


def test_many_revocations_over_time_keep_only_the_recent_ones():
    clock = Clock()
    revoked = RecentRevocations(600, clock)
    for token_id in range(100_000):
        revoked.add(token_id)
        clock.now += 0.125  # eight revocations a second, for almost three and a half hours
    assert len(revoked) == 4800  # the last ten minutes' (600 s at eight a second)
    assert 99_999 in revoked and 95_200 in revoked and 95_199 not in revoked


def test_the_hub_remembers_the_tokens_it_reads_revoked_for_ten_minutes():
    hub = Hub(EventBus("memory://"))
    assert hub.revoked.seconds == REMEMBERED_SECONDS == 600
    hub.hand_out(Delivery(Event(id=1, kind=EventKind.TOKEN_REVOKED, payload={"token_id": 41})))
    assert 41 in hub.revoked and 42 not in hub.revoked
