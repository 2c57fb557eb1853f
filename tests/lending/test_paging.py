"""Cursors: written by hand for the integers and times sort keys hold, they must be exactly what json.dumps
would write, and read back to the same values."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lending.errors import InvalidInput
from lending.paging import Order, SortKey, cursor_values, encode_cursor

KEYS = (SortKey("listed_at", True, is_time=True), SortKey("id", True))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))])
TIMES = st.datetimes(timezones=ZONES, min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1))


def by_json(order: Order, values: list[object]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps([order.name, plain]).encode()).decode()


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True), TIMES, st.integers())
def test_a_cursor_is_the_json_of_its_order_and_values(name, time, key):
    order = Order(name, KEYS)
    for values in ([time, key], [key], [time], [key, key, time]):
        assert encode_cursor(order, values) == by_json(order, values)


@given(TIMES, st.integers(1, 2**62))
def test_a_cursor_reads_back_as_its_values(time, key):
    order = Order("newest", KEYS)
    assert cursor_values(order, encode_cursor(order, [time, key])) == [time, key]


def test_anything_else_is_written_by_json_and_a_cursor_of_another_order_is_refused():
    order = Order("amount", (SortKey("amount_cents"), SortKey("id")))
    assert encode_cursor(order, [True, "x"]) == by_json(order, [True, "x"])
    with pytest.raises(InvalidInput):
        cursor_values(Order("other", order.keys), encode_cursor(order, [2500, 7]))
    for name in ('a "quoted" name', "café", "back\\slash"):
        with pytest.raises(ValueError):
            Order(name, order.keys)
