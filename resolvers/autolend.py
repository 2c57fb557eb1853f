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
from lending import autolend, rule_preview
from lending.filters import LoanFilter
from lending.tokens import AUTOLEND_WRITE, PORTFOLIO_READ
from models import AutoLendTrigger


@strawberry.input(description="An auto-lend rule, to set, preview or backtest.")
class AutoLendRuleInput:
    enabled: bool = strawberry.field(default=True, description="false keeps the rule but lends nothing.")
    criteria: LoanFilterInput | None = strawberry.field(default=None, description="Which loans; none means any loan.")
    amount_per_loan: Decimal = strawberry.field(
        default=Decimal("25.00"), description="In USD: a multiple of 25.00, at most 10,000.00."
    )
    keep_balance: Decimal = strawberry.field(
        default=Decimal("0.00"), description="Credit never auto-lent, in USD, at most 1,000,000.00."
    )
    pause_until: datetime | None = strawberry.field(
        default=None,
        description="Lend nothing until then: with a timezone, in the future, within 3,650 days. Null: no pause.",
    )
    trigger: TriggerEnum = strawberry.field(default=AutoLendTrigger.IMMEDIATE, description="When the rule may lend.")
    idle_days: int | None = strawberry.field(
        default=None, description="For the AFTER_... triggers: 1 to 365. Must be null for IMMEDIATE."
    )

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


@strawberry.type(description="The rule was set.")
class AutoLendRuleSuccess:
    rule: AutoLendRuleType = strawberry.field(
        description="The rule as this call wrote it, before the run it started (read it again for waitingSince "
        "after that run)."
    )


AutoLendRuleResult = Annotated[
    AutoLendRuleSuccess | e.InvalidAmount | e.InvalidInput | e.Forbidden,
    strawberry.union("AutoLendRuleResult", description="setAutoLendRule's answer; on failure the rule is unchanged."),
]
AutoLendPreviewResult = Annotated[
    AutoLendPreview | e.InvalidAmount | e.InvalidInput | e.Forbidden,
    strawberry.union(
        "AutoLendPreviewResult", description="What a rule would lend, or why the rule or the request is refused."
    ),
]
RULE_TO_TRY = "A rule to try; null for your own (with none set, the answer is empty and its note says so)."


@strawberry.type
class AutoLendQuery:
    @strawberry.field(
        description="The loans a rule (yours, or the one given) would fund now, and the total. Lends and saves "
        "nothing. Needs a lender token with the portfolio:read scope.",
        extensions=requires(IsLender(PORTFOLIO_READ)),
    )
    @returns_user_errors
    async def auto_lend_preview(
        self,
        info: Info,
        input: Annotated[AutoLendRuleInput | None, strawberry.argument(description=RULE_TO_TRY)] = None,
    ) -> AutoLendPreviewResult:
        spec = input.to_domain() if input else None
        return AutoLendPreview.of(await rule_preview.preview(info.context.require_lender(), spec, info.context.now()))

    @strawberry.field(
        description="What a rule would have funded from the listings of the last `days` days, as each was when "
        "listed, with your credit of today (each at most half of the loan). Lends and saves nothing. Needs a "
        "lender token with the portfolio:read scope.",
        extensions=requires(IsLender(PORTFOLIO_READ)),
    )
    @returns_user_errors
    async def auto_lend_backtest(
        self,
        info: Info,
        days: Annotated[int, strawberry.argument(description="How far back to look, in days: 1 to 365.")],
        input: Annotated[AutoLendRuleInput | None, strawberry.argument(description=RULE_TO_TRY)] = None,
    ) -> AutoLendPreviewResult:
        spec = input.to_domain() if input else None
        return AutoLendPreview.of(
            await rule_preview.backtest(info.context.require_lender(), spec, days, info.context.now())
        )


@strawberry.type
class AutoLendMutation:
    @strawberry.mutation(
        description="Create or replace your auto-lend rule; it runs at once if it can. Needs a lender token with "
        "the autolend:write scope.",
        extensions=requires(IsLender(AUTOLEND_WRITE)),
    )
    @returns_user_errors
    async def set_auto_lend_rule(
        self, info: Info, input: Annotated[AutoLendRuleInput, strawberry.argument(description="The rule.")]
    ) -> AutoLendRuleResult:
        rule = await autolend.set_rule(info.context.require_lender(), input.to_domain(), info.context.now())
        return AutoLendRuleSuccess(rule=AutoLendRuleType.from_model(rule))
