"""lending.money: amounts are decimal strings (ASCII digits, an optional point, at most two decimals), parsed to cents.

The same format is the API's Decimal scalar (tests/security/test_amount_strings.py); here the domain's own
parsers are checked, since the demo seed (graph/demo/) and the command line call them with strings directly.
"""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lending.errors import InvalidAmount, InvalidInput
from lending.money import MAX_AMOUNT, parse_decimal, to_cents, to_cents_or_zero, to_decimal
from lending.partners import parse_risk_rating
from tests.amounts import KNOWN_BAD, MALFORMED_STRINGS, expected_cents

SETTINGS = settings(max_examples=300, deadline=None)

# --- well-formed strings -----------------------------------------------------------------------------

WHOLE = st.integers(min_value=0, max_value=10**6).map(str)
LEADING_ZEROS = st.integers(min_value=0, max_value=3).map(lambda n: "0" * n)
PLACES = st.sampled_from(["", ".0", ".00"]) | st.from_regex(r"\.[0-9]{1,2}", fullmatch=True)
WELL_FORMED = st.builds(lambda zeros, whole, places: zeros + whole + places, LEADING_ZEROS, WHOLE, PLACES)


@SETTINGS
@given(WELL_FORMED)
@example("25.00")
@example("25")
@example("0.01")
@example("1000000.00")
def test_a_well_formed_amount_is_its_exact_cents(text):
    cents = expected_cents(text)
    if 0 < cents <= MAX_AMOUNT:
        assert to_cents(text) == cents
        assert to_cents(Decimal(text)) == cents  # the API passes the scalar's Decimal
        assert to_decimal(cents) == Decimal(text)
    else:
        with pytest.raises(InvalidAmount, match=r"positive|at most"):
            to_cents(text)


@given(st.integers(min_value=1, max_value=10**8))
def test_to_decimal_and_to_cents_round_trip(cents):
    assert to_cents(str(to_decimal(cents))) == cents


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_to_decimal_is_the_cents_with_two_places_printed_as_money(cents):
    value = to_decimal(cents)
    assert value == Decimal(cents) / 100 and value.as_tuple().exponent == -2
    sign = "-" if cents < 0 else ""
    assert str(value) == f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"  # never 2.5E+1 or 25.0


def test_semantic_rules_stay_typed_errors():
    with pytest.raises(InvalidAmount, match="positive"):
        to_cents("0.00")
    with pytest.raises(InvalidAmount, match=r"at most 1000000\.00"):
        to_cents("1000000.01")
    with pytest.raises(InvalidAmount, match=r"at most 1000000\.00"):
        to_cents("9" * 5000)  # a long run of digits is bounded before any arithmetic
    with pytest.raises(InvalidAmount, match=r"multiple of 25\.00"):
        to_cents("30.00", unit=2500)
    assert to_cents("50", unit=2500) == 5000


# --- malformed strings -------------------------------------------------------------------------------


@SETTINGS
@given(MALFORMED_STRINGS)
def test_a_malformed_amount_is_refused(text):
    """Underscores, other scripts' digits, exponents, spaces, signs, three decimals, NaN: each refused."""
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents(text)
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents_or_zero(text, label="currency loss")
    assert parse_decimal(text) is None
    with pytest.raises(InvalidInput, match="ASCII digits"):
        parse_risk_rating(text)


@pytest.mark.parametrize("text", KNOWN_BAD)
def test_the_known_bad_amounts_are_refused(text):
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents(text)


@pytest.mark.parametrize("value", list(map(Decimal, ["-25.00", "1E+2", "NaN", "sNaN", "-Infinity", "25.000"])))
def test_a_decimal_that_does_not_print_in_the_format_is_refused(value):
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents(value)


@pytest.mark.parametrize("value", [25, 25.0, 0.1, True, None, b"25.00", ["25.00"]])
def test_numbers_of_other_types_are_never_money(value):
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents(value)


def test_zero_or_none_is_no_money_when_optional():
    assert to_cents_or_zero(None) == 0
    assert to_cents_or_zero("0") == 0
    assert to_cents_or_zero("0.00") == 0
    assert to_cents_or_zero("1.05") == 105
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        to_cents_or_zero("-0.00")


# --- risk ratings ------------------------------------------------------------------------------------


@SETTINGS
@given(WELL_FORMED)
@example("3.5")
@example("03.50")
@example("5")
def test_a_well_formed_risk_rating_is_half_stars_or_a_typed_error(text):
    tenths, rest = divmod(expected_cents(text), 10)
    if rest == 0 and 5 <= tenths <= 50 and tenths % 5 == 0:
        assert parse_risk_rating(text) == tenths
    else:
        with pytest.raises(InvalidInput, match=r"0\.5 to 5\.0 stars"):
            parse_risk_rating(text)
