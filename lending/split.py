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
    * each part is the exact pro-rata value rounded down or up (a whole-cent
      exact value is never rounded), so strictly within one cent of it;
    * when ``received`` carries what each holder already got from earlier
      splits of the same pool, no holder is systematically favoured by its
      position: each running total stays close to the exact pro-rata share
      of everything split so far (the tests assert less than two cents; it
      can exceed one cent, as the choice of who gets an odd cent cannot
      foresee later repayments), and with equal weights running totals
      never differ by more than one cent.

    Because of that drift, reaching a point where every exact cumulative
    entitlement is a whole number of cents (e.g. a loan repaid in full) does
    not by itself bring every running total exactly to its entitlement: a
    caller closing out a pool should pay each holder its exact remainder.

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
    # Only holders whose exact share is fractional may take a leftover cent:
    # rounding an exact share up would put that part a full cent off pro
    # rata. There are always more than `leftover` of them, because their
    # fractional remainders (each under one cent) add up to `leftover`.
    eligible = [i for i in range(n) if amount * weights[i] % total_weight]
    # Hand the cents to whoever would be furthest behind its exact cumulative
    # entitlement after taking only the floor (a deficit scaled by W so it
    # stays an integer). Ranking on the cumulative deficit, not on this
    # split's remainder alone, is what stops the same holders (low indices,
    # large remainders) from winning the odd cent on every repayment. Ties go
    # to the lower index so the result is deterministic.
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
