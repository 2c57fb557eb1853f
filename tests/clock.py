from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock tests move by hand: no sleeping, no flakiness."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
