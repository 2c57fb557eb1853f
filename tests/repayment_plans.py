"""Generated loans and repayment plans (unequal shares, repayments down to the last cent), and
what lending.repayments should pay each share of each repayment.

Shared by the split's unit tests (tests/lending/test_split.py) and the API's
(tests/graph/test_repayment_split.py). Amounts are integer cents.
"""

from collections.abc import Sequence

from hypothesis import strategies as st

from lending.split import split_pro_rata

SHARE_UNIT = 2500  # shares are multiples of 25.00
LOAN_LIMIT = 5_000_000  # a loan is at most 50,000.00


def principal_parts(amount: int, shares: Sequence[int], repaid: Sequence[int]) -> list[int]:
    """Each share's principal of a repayment of `amount`, as lending.repayments pays it.

    Every repayment but the last is split pro rata with each share capped at what it still lacks;
    the last pays each share its exact remainder.
    """
    owed = [s - r for s, r in zip(shares, repaid, strict=True)]
    if amount == sum(owed):
        return owed
    return split_pro_rata(amount, shares, repaid, caps=owed)


def loss_parts(borne: int, parts: Sequence[int], lost: Sequence[int]) -> list[int]:
    """Each share's part of the currency loss lenders bear: split by this repayment's parts, capped at them.

    `lost` is the loss each share bore before; shares paid nothing bear nothing.
    """
    paid = [i for i, part in enumerate(parts) if part]
    losses = [0] * len(parts)
    if borne:
        split = split_pro_rata(borne, [parts[i] for i in paid], [lost[i] for i in paid], [parts[i] for i in paid])
        for i, loss in zip(paid, split, strict=True):
            losses[i] = loss
    return losses


def share_amounts(max_shares: int = 12, max_units: int = 400) -> st.SearchStrategy[list[int]]:
    """Share amounts of one loan, never all equal: 25.00 and 50.00 shares beside large ones."""
    units = st.one_of(
        st.sampled_from([1, 2]),  # the small shares rounding most easily pushes past their amount
        st.integers(min_value=1, max_value=8),
        st.integers(min_value=8, max_value=max_units),
    )
    return (
        st.lists(units, min_size=2, max_size=max_shares)
        .filter(lambda us: len(set(us)) > 1 and sum(us) * SHARE_UNIT <= LOAN_LIMIT)
        .map(lambda us: [u * SHARE_UNIT for u in us])
    )


def small_shares_beside_large(max_large: int = 3, max_small: int = 8) -> st.SearchStrategy[list[int]]:
    """One to `max_large` large shares and one to `max_small` of 25.00 or 50.00, in any order.

    Rounding can leave several small shares fully repaid just before a loan ends, each a fraction of
    a cent ahead of its exact entitlement: the state in which a split could pay one of them a cent
    it is not owed.
    """
    large = st.lists(st.integers(min_value=40, max_value=400), min_size=1, max_size=max_large)
    small = st.lists(st.sampled_from([1, 1, 2]), min_size=1, max_size=max_small)
    return (
        st.tuples(large, small)
        .flatmap(lambda both: st.permutations(both[0] + both[1]))
        .map(lambda us: [u * SHARE_UNIT for u in us])
    )


@st.composite
def repayment_plans(draw: st.DrawFn, total: int, max_steps: int = 12) -> list[int]:
    """Repayments of a loan of `total` cents: all but the last leave something owed; the last closes it.

    Besides arbitrary amounts, a plan often brings the loan to within 3.00 of its end and then pays
    it off in tiny repayments (0.01 to 0.99): where rounding has had the most repayments to drift
    over and the shares have the least room left.
    """
    plan: list[int] = []
    left = total
    for _ in range(draw(st.integers(min_value=0, max_value=max_steps))):
        if left <= 1:
            break
        kind = draw(st.sampled_from(["tiny", "near the end", "any"]))
        if kind == "tiny":
            amount = draw(st.integers(min_value=1, max_value=min(99, left - 1)))
        elif kind == "near the end":
            leave = st.one_of(st.integers(min_value=1, max_value=9), st.integers(min_value=1, max_value=300))
            amount = left - min(draw(leave), left - 1)
        else:
            amount = draw(st.integers(min_value=1, max_value=left - 1))
        plan.append(amount)
        left -= amount
    plan.append(left)
    return plan


def cents(amounts: Sequence[int]) -> list[str]:
    """Cents as the API writes money: "0.58"."""
    return [f"{a // 100}.{a % 100:02d}" for a in amounts]
