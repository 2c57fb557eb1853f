"""Money is integer cents inside lendgraph; the API speaks two-place decimal strings."""

import re
from decimal import Decimal
from typing import TypeAlias

from lending.errors import InvalidAmount

# An amount as callers hand it over: the API's Decimal scalar, or a decimal string (the demo, the benchmarks).
Money: TypeAlias = Decimal | str

LENDING_UNIT = 2500  # a share is a multiple of 25.00
MAX_AMOUNT = 100_000_000  # 1,000,000.00: larger is a typo or an attack, never a real request
CENT = Decimal("0.01")

# The one definition of a decimal string, for amounts and star ratings alike: the API's Decimal
# scalar (graph/types/decimals.py) and every parser below use it. [0-9], not \d: \d matches the
# digits of every script, and Decimal() reads Arabic-Indic "٢٥" and fullwidth 2 and 5 (U+FF12,
# U+FF15) as 25. fullmatch, not match with $: $ also matches before a trailing newline.
DECIMAL_PATTERN = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
DECIMAL_FORMAT = 'a string of ASCII digits with an optional point and at most two decimals, such as "25.00"'
SHOWN_CHARS = 40  # of a refused value, in messages
LONG_NUMBER = "a number too long to show"


def shown(value: object) -> str:
    """A refused value for a message: a string quoted and escaped (no control characters or lone
    surrogates), a number as written, anything else by its type; never more than about SHOWN_CHARS."""
    if isinstance(value, str):
        return repr(value[:SHOWN_CHARS]) + ("..." if len(value) > SHOWN_CHARS else "")
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        if isinstance(value, int) and value.bit_length() > 4 * SHOWN_CHARS:  # str() of a huge int is slow, or refused
            return LONG_NUMBER
        text = str(value)
        return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
    return f"a {type(value).__name__}"


def parse_decimal(value: object) -> Decimal | None:
    """A decimal string (DECIMAL_PATTERN) as a Decimal; None for anything else.

    A Decimal is taken as the string it prints as, so Decimal("25.00") passes and
    Decimal("-25.00"), Decimal("2.5E+1") and Decimal("NaN") do not. Numbers of other
    types (float, int) are never money: None.
    """
    text = str(value) if isinstance(value, Decimal) else value
    if not isinstance(text, str) or DECIMAL_PATTERN.fullmatch(text) is None:
        return None
    return Decimal(text)


def to_decimal(cents: int) -> Decimal:
    """Cents as a Decimal with two places (2500 -> Decimal("25.00"))."""
    return Decimal(cents).scaleb(-2)  # exact: the digits of `cents`, exponent -2 (one operation, not two)


def _parse_amount(amount: object, label: str) -> Decimal:
    value = parse_decimal(amount)
    if value is None:
        raise InvalidAmount(f"The {label} {shown(amount)} is not an amount: an amount is {DECIMAL_FORMAT}.")
    return value


def to_cents(amount: Money, *, unit: int = 1, maximum: int = MAX_AMOUNT, label: str = "amount") -> int:
    """Parse a positive amount, a decimal string (DECIMAL_FORMAT), into cents, a multiple of `unit`.

    Raises InvalidAmount with a message that names `label` and says what is wrong.
    """
    value = _parse_amount(amount, label)
    if value == 0:
        raise InvalidAmount(f"The {label} must be positive.")
    # Exact: the value has at most two decimals, and the bound comes before any arithmetic on it.
    if value > Decimal(maximum) / 100:
        raise InvalidAmount(f"The {label} may be at most {to_decimal(maximum)}.")
    cents = int(value * 100)
    if cents % unit:
        raise InvalidAmount(f"The {label} must be a multiple of {to_decimal(unit)}.")
    return cents


def to_cents_or_zero(amount: Money | None, *, unit: int = 1, maximum: int = MAX_AMOUNT, label: str = "amount") -> int:
    """Like to_cents, but None and zero mean no money (an optional amount such as a loss)."""
    if amount is None or _parse_amount(amount, label) == 0:
        return 0
    return to_cents(amount, unit=unit, maximum=maximum, label=label)
