"""The concurrent variant (PostgreSQL): small groups of calls fired at once.

The answers, and the state read afterwards, must be those of at least one serial order of the group
applied to a copy of the model; and only successes and typed refusals may come back, never an
"Internal error" (the model never allows one).
"""

import asyncio
import copy
import itertools
from datetime import datetime
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.model.calls import Advance, Call, Register, Sweep
from tests.model.choices import pick
from tests.model.figures import expected
from tests.model.harness import differences, observe
from tests.model.machine import COUNTS, OUTCOMES, TRACE, LendingMachine
from tests.model.world import Outcome, World

# Not fired together: registering makes no money move, the clock is the machine's, and a second
# sweeper meets the first one's lock and does nothing (by design).
ALONE = (Register, Advance, Sweep)


class ConcurrentMachine(LendingMachine):
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
            misses = []
            for order in itertools.permutations(range(len(calls))):
                world, miss = self._serially(calls, answers, order, now, seen)
                if world is not None:
                    self.world = world
                    for call, answer in zip(calls, answers, strict=True):
                        self._record(call, answer)
                    return
                misses.append(f"in the order {order}: {miss}")
            raise AssertionError("no serial order of the group explains what happened:\n" + "\n".join(misses))
        except BaseException:
            self.failed = True
            raise

    async def _fire(self, calls: list[Call], now: datetime) -> list[Outcome]:
        return list(await asyncio.gather(*(call.send(self.app.post, self.world, now) for call in calls)))

    def _serially(
        self, calls: list[Call], answers: list[Outcome], order: tuple[int, ...], now: datetime, seen: dict[str, Any]
    ) -> tuple[World | None, str]:
        """The model after the calls in this order, if it explains the answers and the state seen."""
        world = copy.deepcopy(self.world)
        for i in order:
            wants = calls[i].expect(world, now, answers[i])
            if not any(answers[i].agrees(want, True) for want in wants):
                return None, f"{calls[i].describe()} answered {answers[i]}, not {' or '.join(map(str, wants))}"
        found = differences(seen, expected(world, now))
        return (world, "") if not found else (None, "; ".join(found[:5]))
