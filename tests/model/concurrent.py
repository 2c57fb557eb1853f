"""The concurrent variant (PostgreSQL): small groups of calls fired at once.

The answers, and the state read afterwards, must be those of at least one serial order of the group
applied to a copy of the model; and only successes and typed refusals may come back, never an
"Internal error" (the model never allows one).
"""

import asyncio
import copy
import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.model.calls import Advance, Call, Expire, Register, Sweep
from tests.model.choices import Builder, pick
from tests.model.figures import expected
from tests.model.harness import differences, observe
from tests.model.machine import COUNTS, OUTCOMES, TRACE, LendingMachine
from tests.model.world import FollowUp, Outcome, World

# Not fired together: registering makes no money move, the clock is the machine's, and a second
# sweeper meets the first one's lock and does nothing (by design).
ALONE = (Register, Advance, Sweep)


class ConcurrentMachine(LendingMachine):
    def builders(self) -> list[Builder]:
        """The same list whatever the model holds (see tests.model.choices): a call that does not
        apply now (a lend with no loan listed yet) is still drawn, and is refused or left out."""
        return [
            *[self.build_lend] * 5,
            *[self.build_repay] * 4,
            *[self.build_deposit] * 5,
            *[self.build_withdraw] * 2,
            *[self.build_rule] * 2,
            *[self.build_list] * 3,
            *[self.build_replay] * 2,
            self.build_conflict,
            self.build_advance,
            lambda data: Expire(),
            lambda data: Sweep(),
            self.build_default,
            self.build_register,
        ]

    @rule(data=st.data(), size=st.integers(2, 3))
    def together(self, data: st.DataObject, size: int) -> None:
        drawn = [pick(data, self.builders(), "call")(data) for _ in range(size)]
        calls = [call for call in drawn if call is not None and not isinstance(call, ALONE)]
        if len(calls) >= 2:
            self.step_together(calls)

    def step_together(self, calls: list[Call]) -> None:
        COUNTS["steps"] += 1
        COUNTS["calls"] += len(calls)
        now = self.clock()
        try:
            answers = self.app.run(self._fire(calls, now))
            seen = self.app.run(observe(self.app, self.world))
            told = "; ".join(f"{call.describe()} -> {answer}" for call, answer in zip(calls, answers, strict=True))
            note(f"together: {told}")
            if TRACE:
                print(f"together: {told}")
            for call, answer in zip(calls, answers, strict=True):
                OUTCOMES[f"{type(call).__name__} -> {answer.typename} (together)"] += 1
            explained = Explanation(calls, answers, now, seen).search(self.world, told)
            for call, answer in zip(calls, answers, strict=True):
                self._record(call, answer)
            self.world = explained
        except BaseException:
            self.failed = True
            raise

    async def _fire(self, calls: list[Call], now: datetime) -> list[Outcome]:
        return list(await asyncio.gather(*(call.send(self.app.post, self.world, now) for call in calls)))


class Explanation:
    """A serial order of the group's transactions that gives the answers and the state seen.

    Each call is one transaction, and the auto-lending it sets off (after a deposit, a repayment, an
    expiry, a new rule or a listing) runs after it commits, as a transaction of its own: a call of
    the group may commit in between. The expiry sweep is no transaction of its own: it expires each
    loan in one, in id order, and then lends the refunds. So the orders tried are first those of whole calls, then every
    interleaving of the calls and their auto-lending in which each call comes before its own.
    """

    def __init__(self, calls: list[Call], answers: list[Outcome], now: datetime, seen: dict[str, Any]) -> None:
        self.calls, self.answers, self.now, self.seen = calls, answers, now, seen
        self.misses: list[str] = []

    def search(self, world: World, told: str) -> World:
        for order in itertools.permutations(range(len(self.calls))):
            found = self._whole_calls(world, order)
            if found is not None:
                return found
        for found in self._interleavings(world, tuple(range(len(self.calls))), ()):
            if not differences(self.seen, expected(found, self.now)):
                return found
        misses = "\n".join(dict.fromkeys(self.misses))  # each reason once
        raise AssertionError(f"no serial order of the group explains what happened:\n{told}\n{misses}")

    def _whole_calls(self, world: World, order: tuple[int, ...]) -> World | None:
        world = copy.deepcopy(world)
        for i in order:
            if not self._answers(world, i):
                return None
        found = differences(self.seen, expected(world, self.now))
        if found:
            self.misses.append(f"in the order {order}: " + "; ".join(found[:5]))
            return None
        return world

    def _answers(self, world: World, i: int) -> bool:
        """Apply call `i` to `world`; whether the model allows the answer it got."""
        wants = self.calls[i].expect(world, self.now, self.answers[i])
        if any(self.answers[i].agrees(want, True) for want in wants):
            return True
        self.misses.append(f"{self.calls[i].describe()} answered {self.answers[i]}, not {' or '.join(map(str, wants))}")
        return False

    def _interleavings(self, world: World, calls: tuple[int, ...], after: tuple[FollowUp, ...]) -> Iterator[World]:
        if not calls and not after:
            yield world
        for i in calls:
            then = copy.deepcopy(world)
            then.later = []
            if self._answers(then, i):
                more, then.later = tuple(then.later), None
                yield from self._interleavings(then, tuple(c for c in calls if c != i), after + more)
        for j, step in enumerate(after):
            then = copy.deepcopy(world)
            more = then.follow(step)
            yield from self._interleavings(then, calls, after[:j] + more + after[j + 1 :])
