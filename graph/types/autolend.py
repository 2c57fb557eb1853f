"""Auto-lend rules, their previews and what they did (allocations)."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry

from graph.context import Info
from graph.loaders import existing
from graph.permissions import IsAllocationOwner, private
from graph.strawberry_internals import describe_enum_values
from graph.types.loans import LoanNode
from graph.types.searches import SavedLoanFilter
from lending import rule_preview
from lending.filters import LoanFilter
from lending.money import to_decimal
from models import Allocation, AutoLendRule, AutoLendTrigger

if TYPE_CHECKING:
    from graph.types.lenders import LenderNode

strawberry.enum(  # marks the model's enum (graph/types/loans.py says why)
    AutoLendTrigger, name="AutoLendTrigger", description="When an auto-lend rule may lend the credit it finds."
)
describe_enum_values(
    AutoLendTrigger,
    {
        "IMMEDIATE": "As soon as there is credit to lend.",
        "AFTER_IDLE_DAYS": "Once the lender has made no request with a token for idleDays days (counted from "
        "registration if never).",
        "AFTER_DAYS_WITHOUT_LENDING": "Once the lender has not lent by hand for idleDays days (counted from "
        "registration if never).",
    },
)
TriggerEnum: TypeAlias = AutoLendTrigger


@strawberry.type(
    name="AutoLendRule",
    description="A lender's rule that lends idle credit: when credit arrives, when a loan is listed, and on a "
    "periodic sweep. It lends to a loan at most once (never to one the lender already holds a share of), and "
    "all rules together fund at most half of any loan.",
)
class AutoLendRuleType:
    enabled: bool = strawberry.field(description="Whether the rule lends; a disabled rule is kept and does nothing.")
    criteria: SavedLoanFilter = strawberry.field(
        description="Which fundraising loans it lends to; all empty means any."
    )
    amount_per_loan: Decimal = strawberry.field(
        description="What it lends to one loan, in USD: a multiple of 25.00, at most 10,000.00. Less, in "
        "multiples of 25.00, when the credit or the loan's room is short."
    )
    keep_balance: Decimal = strawberry.field(description="Credit the rule never lends, in USD.")
    pause_until: datetime | None = strawberry.field(
        description="The rule lends nothing until then; null when not paused."
    )
    trigger: TriggerEnum = strawberry.field(description="When the rule may lend.")
    idle_days: int | None = strawberry.field(
        description="The days of the AFTER_... triggers, 1 to 365; null for IMMEDIATE."
    )
    waiting_since: datetime | None = strawberry.field(
        description="Since when your credit has waited; the longest wait is served first."
    )

    @classmethod
    def from_model(cls, rule: AutoLendRule) -> "AutoLendRuleType":
        return cls(
            enabled=rule.enabled,
            criteria=SavedLoanFilter.of(LoanFilter.from_json(rule.criteria)),
            amount_per_loan=to_decimal(rule.amount_cents),
            keep_balance=to_decimal(rule.keep_cents),
            pause_until=rule.pause_until,
            trigger=rule.trigger,
            idle_days=rule.idle_days,
            waiting_since=rule.waiting_since,
        )


@strawberry.type(description="A loan a rule would fund, and with how much.")
class AutoLendPick:
    loan: LoanNode = strawberry.field(description="The loan, as it is now.")
    amount: Decimal = strawberry.field(description="What the rule would lend to it, in USD: a multiple of 25.00.")


@strawberry.type(description="What a rule would lend, with the lender's credit as it is now. Nothing is lent or saved.")
class AutoLendPreview:
    loans: list[AutoLendPick] = strawberry.field(
        description="In the order the rule would lend: for a preview, up to 10 loans, the soonest to expire "
        "first; for a backtest, by listing time."
    )
    total: Decimal = strawberry.field(description="The sum of the picks' amounts, in USD.")
    note: str = strawberry.field(description="Why nothing (or not more) would be lent; empty otherwise.")

    @classmethod
    def of(cls, preview: rule_preview.Preview) -> "AutoLendPreview":
        return cls(
            loans=[
                AutoLendPick(loan=LoanNode.from_model(loan), amount=to_decimal(cents)) for loan, cents in preview.loans
            ],
            total=to_decimal(preview.total_cents),
            note=preview.note,
        )


@strawberry.type(name="Allocation", description="A share an auto-lend rule lent, and why.")
class AllocationType:
    amount: Decimal = strawberry.field(description="What the rule lent, in USD: a multiple of 25.00.")
    matched: list[str] = strawberry.field(
        description='The criteria of the rule that the loan met, in words (e.g. "country KE"); ["any loan"] '
        "for a rule without criteria."
    )
    created_at: datetime = strawberry.field(description="When the rule lent.")
    lender_id: strawberry.Private[int]

    @strawberry.field(
        extensions=private(IsAllocationOwner()),
        description="The lender, shown to that lender only (any scope); null to anyone else.",
    )
    async def lender(self, info: Info) -> Annotated["LenderNode", strawberry.lazy("graph.types.lenders")] | None:
        from graph.types.lenders import LenderNode

        return LenderNode.from_model(await existing(info.context.loaders.lender, self.lender_id))

    @classmethod
    def from_model(cls, allocation: Allocation) -> "AllocationType":
        return cls(
            amount=to_decimal(allocation.amount_cents),
            matched=list(allocation.matched),
            created_at=allocation.created_at,
            lender_id=allocation.lender_id,
        )
