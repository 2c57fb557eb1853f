"""Auto-lending: set a rule, preview it, backtest it."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from graph.context import Info
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.autolend import AutoLendPreview, AutoLendRuleType, TriggerEnum
from graph.types.errors import returns_user_errors
from graph.types.loans import LoanFilterInput
from lending import autolend
from lending.filters import LoanFilter
from lending.tokens import AUTOLEND_WRITE, PORTFOLIO_READ
from models import AutoLendTrigger


@strawberry.input
class AutoLendRuleInput:
    enabled: bool = True
    criteria: LoanFilterInput | None = strawberry.field(default=None, description="Which loans; none means any loan.")
    amount_per_loan: Decimal = strawberry.field(default=Decimal("25.00"), description="A multiple of 25.00.")
    keep_balance: Decimal = strawberry.field(default=Decimal("0.00"), description="Credit never auto-lent.")
    pause_until: datetime | None = None
    trigger: TriggerEnum = AutoLendTrigger.IMMEDIATE
    idle_days: int | None = strawberry.field(default=None, description="For the AFTER_... triggers: 1 to 365.")

    def to_domain(self) -> autolend.RuleSpec:
        return autolend.RuleSpec(
            criteria=self.criteria.to_domain() if self.criteria else LoanFilter(),
            enabled=self.enabled,
            amount=self.amount_per_loan,
            keep_balance=self.keep_balance,
            pause_until=self.pause_until,
            trigger=self.trigger,
            idle_days=self.idle_days,
        )


@strawberry.type
class AutoLendRuleSuccess:
    rule: AutoLendRuleType


AutoLendRuleResult = Annotated[
    AutoLendRuleSuccess | e.InvalidAmount | e.InvalidInput | e.Forbidden, strawberry.union("AutoLendRuleResult")
]
AutoLendPreviewResult = Annotated[
    AutoLendPreview | e.InvalidAmount | e.InvalidInput | e.Forbidden, strawberry.union("AutoLendPreviewResult")
]


@strawberry.type
class AutoLendQuery:
    @strawberry.field(
        description="The loans a rule (yours, or the one given) would fund now, and the total.",
        extensions=requires(IsLender(PORTFOLIO_READ)),
    )
    @returns_user_errors
    async def auto_lend_preview(self, info: Info, input: AutoLendRuleInput | None = None) -> AutoLendPreviewResult:
        spec = input.to_domain() if input else None
        return AutoLendPreview.of(await autolend.preview(info.context.require_lender(), spec, info.context.now()))

    @strawberry.field(
        description="What a rule would have funded from the listings of the last `days` days.",
        extensions=requires(IsLender(PORTFOLIO_READ)),
    )
    @returns_user_errors
    async def auto_lend_backtest(
        self, info: Info, days: int, input: AutoLendRuleInput | None = None
    ) -> AutoLendPreviewResult:
        spec = input.to_domain() if input else None
        return AutoLendPreview.of(
            await autolend.backtest(info.context.require_lender(), spec, days, info.context.now())
        )


@strawberry.type
class AutoLendMutation:
    @strawberry.mutation(
        description="Create or replace your auto-lend rule; it runs at once if it can.",
        extensions=requires(IsLender(AUTOLEND_WRITE)),
    )
    @returns_user_errors
    async def set_auto_lend_rule(self, info: Info, input: AutoLendRuleInput) -> AutoLendRuleResult:
        rule = await autolend.set_rule(info.context.require_lender(), input.to_domain(), info.context.now())
        return AutoLendRuleSuccess(rule=AutoLendRuleType.from_model(rule))
