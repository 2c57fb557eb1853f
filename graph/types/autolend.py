"""Auto-lend rules, their previews and what they did (allocations)."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry

from graph.context import Info
from graph.loaders import existing
from graph.permissions import IsAllocationOwner, private
from graph.types.loans import LoanNode
from graph.types.searches import SavedLoanFilter
from lending import autolend
from lending.filters import LoanFilter
from lending.money import to_decimal
from models import Allocation, AutoLendRule, AutoLendTrigger

if TYPE_CHECKING:
    from graph.types.lenders import LenderNode

strawberry.enum(AutoLendTrigger, name="AutoLendTrigger")  # marks the model's enum (graph/types/loans.py says why)
TriggerEnum: TypeAlias = AutoLendTrigger


@strawberry.type(name="AutoLendRule")
class AutoLendRuleType:
    enabled: bool
    criteria: SavedLoanFilter
    amount_per_loan: Decimal
    keep_balance: Decimal
    pause_until: datetime | None
    trigger: TriggerEnum
    idle_days: int | None
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


@strawberry.type
class AutoLendPick:
    loan: LoanNode
    amount: Decimal


@strawberry.type
class AutoLendPreview:
    loans: list[AutoLendPick]
    total: Decimal
    note: str = strawberry.field(description="Why nothing (or not more) would be lent; empty otherwise.")

    @classmethod
    def of(cls, preview: autolend.Preview) -> "AutoLendPreview":
        return cls(
            loans=[
                AutoLendPick(loan=LoanNode.from_model(loan), amount=to_decimal(cents)) for loan, cents in preview.loans
            ],
            total=to_decimal(preview.total_cents),
            note=preview.note,
        )


@strawberry.type(name="Allocation", description="A share an auto-lend rule lent, and why.")
class AllocationType:
    amount: Decimal
    matched: list[str] = strawberry.field(description="The criteria of the rule that the loan met.")
    created_at: datetime
    lender_id: strawberry.Private[int]

    @strawberry.field(extensions=private(IsAllocationOwner()), description="The lender, shown to that lender only.")
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
