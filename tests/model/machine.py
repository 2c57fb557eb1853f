"""The stateful model test (issue 9): a hypothesis state machine that drives the public API and a
plain-Python model (tests.model.world) side by side.

Every step is one call (tests.model.calls): register, deposit, withdraw, list, lend, repay with or
without currency loss, mark default, set or clear an auto-lend rule, a replay of an earlier money
call with its key (same input, or a different one), the expiry and auto-lend sweeps run as the
server's timers run them, or a move of the clock. The answer must be one the model allows; after
every step the books balance and everything the API reports equals the model
(tests.model.figures). tests.model.concurrent adds groups of calls fired at once (PostgreSQL).
"""

import itertools
import os
from collections import Counter
from collections.abc import Callable

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lending.partners import create_partner
from lending.tokens import issue_token
from models import Role
from tests.clock import FakeClock
from tests.model.calls import Advance, Call, Deposit, Lend, Repay
from tests.model.choices import Choices, pick
from tests.model.figures import expected
from tests.model.harness import App, differences, observe
from tests.model.state import Partner
from tests.model.world import Outcome, World

PARTNERS = (("Juhudi", "KE", "3.5"), ("Bukonzo", "UG", "2.0"))
TRACE = os.environ.get("MODEL_TRACE") == "1"  # print every call and its answer
COUNTS = {"steps": 0, "calls": 0, "examples": 0}  # read by tests/model/test_model.py
OUTCOMES: Counter[str] = Counter()  # what each kind of call was answered, over all runs


class LendingMachine(Choices, RuleBasedStateMachine):
    url: Callable[[], str]  # a fresh database for each run, set by the test

    def __init__(self) -> None:
        super().__init__()
        COUNTS["examples"] += 1
        self.clock = FakeClock()
        self.world = World()
        self.history: list[Call] = []  # money calls that succeeded, for replays
        self.failed_keys: dict[str, list[str]] = {}  # keys of refused calls, free again, by caller
        self.numbers = itertools.count(1)
        self.failed = False
        self.app = App(type(self).url(), self.clock)
        self.app.run(self._partners())

    async def _partners(self) -> None:
        for name, country, rating in PARTNERS:
            partner = await create_partner(name, country, rating)
            token = await issue_token(Role.PARTNER, partner_id=partner.id)
            self.world.partners[name] = Partner(name, token, partner.id, country, int(float(rating) * 10))
        self.world.admin_token = await issue_token(Role.ADMIN)

    def teardown(self) -> None:
        try:
            self.app.close()
        except AssertionError:
            if not self.failed:  # the books check of `serve`; after a failed step, that failure speaks
                raise

    # -- running calls ---------------------------------------------------------------------------

    def step(self, call: Call | None) -> None:
        if call is None:
            return
        if isinstance(call, Advance):
            COUNTS["steps"] += 1
            self.clock.advance(days=call.days, hours=call.hours)
            note(f"{call.describe()} -> {self.clock()}")
            return
        COUNTS["steps"] += 1
        COUNTS["calls"] += 1
        now = self.clock()
        try:
            got = self.app.run(call.send(self.app.post, self.world, now))
            wants = call.expect(self.world, now, got)
            note(f"{call.describe()} -> {got}")
            if TRACE:
                print(f"{call.describe()} -> {got}")
            OUTCOMES[f"{type(call).__name__} -> {got.typename}"] += 1
            assert any(got.agrees(want, False) for want in wants), (
                f"{call.describe()}: the API answered {got}; the model expects {' or '.join(map(str, wants))}"
            )
            self._record(call, got)
        except BaseException:
            self.failed = True
            raise

    def _record(self, call: Call, got: Outcome) -> None:
        if not isinstance(call, (Deposit, Lend, Repay)):  # Withdraw is a Deposit
            return
        if got.typename.endswith("Success"):
            self.history.append(call)
            if call.key in self.failed_keys.get(call.who, []):
                self.failed_keys[call.who].remove(call.key)
        elif got.typename != "IdempotencyConflict":
            self.failed_keys.setdefault(call.who, []).append(call.key)

    @invariant()
    def the_api_agrees_with_the_model(self) -> None:
        try:
            got = self.app.run(observe(self.app, self.world))
            found = differences(got, expected(self.world, self.clock()))
            assert not found, "the API and the model differ:\n" + "\n".join(found[:30])
        except BaseException:
            self.failed = True
            raise

    # -- the rules -------------------------------------------------------------------------------

    @initialize(data=st.data())
    def first_lender_and_loan(self, data: st.DataObject) -> None:
        self.step(self.build_register(data))
        self.step(self.build_list(data))

    @rule(data=st.data())
    def call(self, data: st.DataObject) -> None:
        self.step(pick(data, self.builders(), "what")(data))
