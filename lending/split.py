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
    caps: Sequence[int] | None = None,
) -> list[int]:
    """Split ``amount`` cents among holders in proportion to ``weights``.

    Holder ``i``'s exact part is ``e[i] = amount * weights[i] / W``
    (``W = sum(weights)``), and its exact cumulative entitlement after this
    split ``x[i] = (sum(received) + amount) * weights[i] / W``. Largest
    remainder: each holder first gets ``floor(e[i])``, or ``caps[i]`` if
    that is less; the cents left over go one each, as round-ups, to the
    holders with a fractional ``e[i]`` and room under their cap that are
    furthest behind ``x[i]``. Any cents still left (only caps leave some) go
    one at a time to whichever holder under its cap is then furthest behind
    ``x[i]``. Ties go to the lower index, so the result is deterministic.

    Guarantees, for any valid input:

    * the parts sum exactly to ``amount``, and ``0 <= part[i] <= caps[i]``;
    * when every ``caps[i] >= ceil(e[i])`` (always so without caps), the
      caps change nothing and each part is ``e[i]`` rounded down or up:
      strictly within one cent of it, and never rounded when ``e[i]`` is a
      whole number of cents;
    * otherwise a part is a cent or more off ``e[i]`` only because of a cap:
      a part below ``floor(e[i])`` equals its cap, and a part a cent or more
      above ``e[i]`` is given only once every holder has ``ceil(e[i])`` or
      is at its cap;
    * when ``amount == sum(caps)``, the parts are the caps.

    When each cap is what the holder still lacks, ``caps[i] == weights[i] -
    received[i]`` (a loan's shares: weights are the share amounts, received
    what each share got back so far), also:

    * no running total ``received[i] + part[i]`` exceeds ``weights[i]``,
      however rounding went before;
    * a holder its cap holds below the uncapped part ends exactly at its
      weight: at or ahead of ``x[i]``, and less far ahead than without the
      cap;
    * a holder given a cent beyond its round-up (a cent a cap freed) ends at
      most one cent ahead of ``x[i]``;
    * splitting a pool until it is exhausted (``amount == sum(caps)`` on the
      last call) pays every holder exactly its weight.

    No holder is favoured by its position: the odd cents go by cumulative
    deficit, not by this split's remainder alone, so the holders that won
    them fall behind and lose them on later splits, and errors do not
    accumulate however many splits there are. Running totals stay within
    about a cent of ``x[i]``, but this greedy choice cannot foresee later
    splits, and no bound is proven. A running total can be more than a
    cent from ``x[i]`` (1.14 cents behind after three small splits among
    five holders, see the tests); searching every reachable state of the
    uncapped split for twenty share mixes of up to 8 holders found at most
    1.38 cents, adversarial random searches with up to 200 holders at most
    1.48 cents, and the tests assert less than two. With equal weights and
    no binding caps, running totals never differ from each other by more
    than one cent.

    Args:
        amount: cents to split, ``>= 0``.
        weights: positive integer weights (e.g. share principal in cents),
            one per holder.
        received: cents each holder already received from earlier splits of
            the same pool, aligned with ``weights``; ``None`` means all zero.
        caps: the most each holder may get from this split, ``>= 0``,
            aligned with ``weights``; ``None`` means no limit.

    Returns:
        One non-negative part per holder, in the order of ``weights``.

    Raises:
        ValueError: negative ``amount``; empty ``weights`` with
            ``amount > 0``; a non-positive weight; ``received`` or ``caps``
            whose length differs from ``weights``; a negative cap;
            ``amount`` above ``sum(caps)``.

    Runs in O(n log n + n log amount) for n holders.
    """
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    n = len(weights)
    if received is not None and len(received) != n:
        raise ValueError(f"received has {len(received)} entries but weights has {n}")
    if caps is not None:
        if len(caps) != n:
            raise ValueError(f"caps has {len(caps)} entries but weights has {n}")
        for i, cap in enumerate(caps):
            if cap < 0:
                raise ValueError(f"caps must be >= 0, caps[{i}] = {cap}")
        if amount > sum(caps):
            raise ValueError(f"amount {amount} exceeds the sum of caps {sum(caps)}")
    if n == 0:
        if amount > 0:
            raise ValueError("cannot split a positive amount among no holders")
        return []
    for i, w in enumerate(weights):
        if w <= 0:
            raise ValueError(f"weights must be > 0, weights[{i}] = {w}")

    total_weight = sum(weights)
    floors = [amount * w // total_weight for w in weights]
    limit = list(caps) if caps is not None else floors  # without caps no floor is ever cut
    parts = [min(f, cap) for f, cap in zip(floors, limit, strict=True)]
    leftover = amount - sum(parts)
    if leftover == 0:
        return parts

    if received is None:
        received = [0] * n
    pool_after = sum(received) + amount

    def ahead(i: int) -> int:
        # How far holder i would be ahead of its exact cumulative entitlement
        # with its current part, scaled by W so it stays an integer; the most
        # negative is the furthest behind.
        return total_weight * (received[i] + parts[i]) - pool_after * weights[i]

    # Round-ups first. Only holders whose exact part is fractional may take
    # one: rounding a whole exact part up would put that part a full cent off
    # pro rata. Without binding caps there are always more than `leftover` of
    # them, because their fractional remainders (each under one cent) add up
    # to `leftover`. Ranking on the cumulative deficit, not on this split's
    # remainder alone, is what stops the same holders (low indices, large
    # remainders) from winning the odd cent on every repayment.
    roundable = [
        i
        for i in range(n)
        if amount * weights[i] % total_weight and parts[i] == floors[i] and (caps is None or parts[i] < caps[i])
    ]
    for i in sorted(roundable, key=lambda i: (ahead(i), i))[:leftover]:
        parts[i] += 1
        leftover -= 1
    if leftover:
        assert caps is not None  # without caps the round-ups always suffice
        _fill(
            parts,
            leftover,
            [ahead(i) for i in range(n)],
            total_weight,
            [c - p for c, p in zip(caps, parts, strict=True)],
        )
    return parts


def _fill(parts: list[int], cents: int, ahead: list[int], step: int, room: list[int]) -> None:
    """Give `cents` to `parts` one at a time, each to the holder with room that is furthest behind.

    Holder i, ahead[i] ahead before its first cent, is ahead[i] + k * step
    before its (k+1)-th, so the cents handed out are the `cents` smallest
    (value, holder) pairs across holders: found by level (value // step)
    with a binary search rather than one cent at a time, since capped
    holders can leave many cents over.
    """
    levels = [divmod(a, step) for a in ahead]

    def taken(level: int) -> list[int]:
        # Cents each holder takes at values below (level + 1) * step.
        return [max(0, min(r, level - q + 1)) for (q, _), r in zip(levels, room, strict=True)]

    low = min(q for (q, _), r in zip(levels, room, strict=True) if r) - 1  # taken(low) sums to 0
    high = max(q for q, _ in levels) + cents  # taken(high) sums to at least `cents`: sum(room) >= cents
    while high - low > 1:
        mid = (low + high) // 2
        if sum(taken(mid)) >= cents:
            high = mid
        else:
            low = mid
    below = taken(low)
    at = taken(high)
    for i, got in enumerate(below):
        parts[i] += got
    rest = cents - sum(below)
    # At level `high`, the holders with one more cent to take, by remainder then index.
    for i in sorted((i for i in range(len(parts)) if at[i] > below[i]), key=lambda i: (levels[i][1], i))[:rest]:
        parts[i] += 1
