"""The exact cents of a repayment's split among a loan's lenders.

The model takes them from one oracle, `lending.split.split_pro_rata` (property-tested on its own in
tests/lending/test_split.py), capped as the README says (a share is never paid more principal than
it still lacks, nor charged more loss than its part), and checks here what every split must be
whatever its rounding: the parts add up to the repayment exactly, and within those caps.
"""

from collections.abc import Sequence
from typing import Protocol

from lending.split import split_pro_rata


class SplitOverpays(AssertionError):
    """The oracle paid a share more than it still lacks: the books would break on a later repayment."""


class ShareLike(Protocol):
    amount: int
    repaid: int
    loss: int


def split(amount: int, weights: Sequence[int], received: Sequence[int], caps: Sequence[int]) -> list[int]:
    """The oracle: the one call the model makes for any pro-rata split."""
    return split_pro_rata(amount, weights, received, caps)


def principal_parts(amount: int, shares: Sequence[ShareLike]) -> list[int]:
    """What each share gets of a repayment of `amount` that does not complete the loan: pro rata,
    and never more than the share still lacks."""
    lacking = [s.amount - s.repaid for s in shares]
    parts = split(amount, [s.amount for s in shares], [s.repaid for s in shares], lacking)
    assert sum(parts) == amount and min(parts) >= 0, (amount, parts)
    over = [(s.amount, s.repaid, part) for s, part in zip(shares, parts, strict=True) if part > s.amount - s.repaid]
    if over:
        raise SplitOverpays(f"split of {amount} pays shares (amount, repaid, part) more than they lack: {over}")
    return parts


def loss_parts(borne: int, paid: Sequence[tuple[ShareLike, int]]) -> list[int]:
    """Each paid share's part of the currency loss lenders bear, in proportion to what it is paid."""
    if not borne:
        return [0] * len(paid)
    parts = split(borne, [part for _, part in paid], [share.loss for share, _ in paid], [part for _, part in paid])
    assert sum(parts) == borne and all(0 <= lost <= part for lost, (_, part) in zip(parts, paid, strict=True)), parts
    return parts
