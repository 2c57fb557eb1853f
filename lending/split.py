"""Pro-rata splitting of integer-cent amounts among weighted holders.

Money is integer cents throughout; every computation here is exact integer
arithmetic so results are deterministic across platforms and never drift
through float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["split_pro_rata"]


def split_pro_rata(
    amount: int,
    weights: Sequence[int],
    received: Sequence[int] | None = None,
) -> list[int]:
    """Split ``amount`` cents among holders in proportion to ``weights``.

    Uses the largest-remainder method: holder ``i`` first gets
    ``floor(amount * weights[i] / W)`` (``W = sum(weights)``), and the few
    leftover cents go one each to the holders furthest behind their exact
    *cumulative* entitlement. Guarantees:

    * the parts sum exactly to ``amount``;
    * each part is ``floor(amount * w_i / W)`` or one cent more, i.e. within
      one cent of the exact pro-rata value;
    * when ``received`` carries what each holder already got from earlier
      splits of the same pool, no holder is systematically favoured: each
      holder's running total stays within one cent of its exact pro-rata
      share of everything split so far, independent of its position.

    Args:
        amount: cents to split, ``>= 0``.
        weights: positive integer weights (e.g. share principal in cents),
            one per holder.
        received: cents each holder already received from earlier splits of
            the same pool, aligned with ``weights``; ``None`` means all zero.

    Returns:
        One non-negative part per holder, in the order of ``weights``.

    Raises:
        ValueError: negative ``amount``; empty ``weights`` with
            ``amount > 0``; a non-positive weight; ``received`` whose length
            differs from ``weights``.

    Runs in O(n log n) for n holders.
    """
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    n = len(weights)
    if received is not None and len(received) != n:
        raise ValueError(
            f"received has {len(received)} entries but weights has {n}"
        )
    if n == 0:
        if amount > 0:
            raise ValueError("cannot split a positive amount among no holders")
        return []
    for i, w in enumerate(weights):
        if w <= 0:
            raise ValueError(f"weights must be > 0, weights[{i}] = {w}")

    total_weight = sum(weights)
    parts = [amount * w // total_weight for w in weights]
    leftover = amount - sum(parts)
    if leftover == 0:
        return parts
    # 0 < leftover < n, because each floor loses less than one cent.

    if received is None:
        received = [0] * n
    pool_after = sum(received) + amount
    # Rank by how far each holder would be behind its exact cumulative
    # entitlement (scaled by W to stay integral) after taking only the floor.
    # Ranking on the cumulative deficit rather than this split's remainder is
    # what stops the same low-index / large-remainder holders from winning
    # every tie across repeated repayments. Ties go to the lower index so the
    # result is deterministic.
    # Only holders whose exact share is fractional are eligible: an extra cent
    # on an exact share would put that part a full cent off pro rata. There
    # are always more than `leftover` eligible holders, since the fractional
    # remainders (each < 1 cent) add up to exactly `leftover` cents.
    eligible = [i for i in range(n) if amount * weights[i] % total_weight]
    order = sorted(
        eligible,
        key=lambda i: (
            total_weight * (received[i] + parts[i]) - pool_after * weights[i],
            i,
        ),
    )
    for i in order[:leftover]:
        parts[i] += 1
    return parts
