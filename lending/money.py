"""Money is integer cents inside lendgraph; the API speaks two-place decimal strings."""

from decimal import Decimal, InvalidOperation

from lending.errors import InvalidAmount

LENDING_UNIT = 2500  # a share is a multiple of 25.00
MAX_AMOUNT = 100_000_000  # 1,000,000.00: larger is a typo or an attack, never a real request
CENT = Decimal("0.01")


def to_decimal(cents: int) -> Decimal:
    """Cents as a Decimal with two places (2500 -> Decimal("25.00"))."""
    return (Decimal(cents) / 100).quantize(CENT)


def to_cents(amount: Decimal | str, *, unit: int = 1, maximum: int = MAX_AMOUNT, label: str = "amount") -> int:
    """Parse a positive amount of at most two decimals into cents, a multiple of `unit`.

    Raises InvalidAmount with a message that names `label` and says what is wrong.
    """
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount(f"The {label} {amount!r} is not a number.") from None
    if not value.is_finite():
        raise InvalidAmount(f"The {label} must be a finite number.")
    if value <= 0:
        raise InvalidAmount(f"The {label} must be positive.")
    # The bound first: quantizing a huge value would overflow Decimal's precision.
    if value > Decimal(maximum) / 100:
        raise InvalidAmount(f"The {label} may be at most {to_decimal(maximum)}.")
    if value != value.quantize(CENT):
        raise InvalidAmount(f"The {label} has more than two decimal places.")
    cents = int(value * 100)
    if cents % unit:
        raise InvalidAmount(f"The {label} must be a multiple of {to_decimal(unit)}.")
    return cents


def to_cents_or_zero(amount: Decimal | str | None, **kwargs) -> int:
    """Like to_cents, but None and zero mean no money (an optional amount such as a loss)."""
    if amount is None:
        return 0
    try:
        if Decimal(amount) == 0:
            return 0
    except (InvalidOperation, TypeError, ValueError):
        pass
    return to_cents(amount, **kwargs)
