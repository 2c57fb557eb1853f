"""Accounts: register as a lender, add credit, take it out."""

from decimal import Decimal
from typing import Annotated

import strawberry

from graph.context import Info
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import returns_user_errors
from graph.types.lenders import LenderNode, TransactionNode
from lending import accounts
from lending.tokens import LEND
from models import Lender, Transfer


@strawberry.input
class RegisterLenderInput:
    display_name: str
    email: str


@strawberry.type
class RegisterLenderSuccess:
    lender: LenderNode
    token: str = strawberry.field(description="Shown once: keep it, it cannot be read again.")


RegisterLenderResult = Annotated[
    RegisterLenderSuccess | e.InvalidInput | e.EmailTaken, strawberry.union("RegisterLenderResult")
]


@strawberry.input
class DepositInput:
    amount: Decimal
    idempotency_key: str


@strawberry.type
class DepositSuccess:
    lender: LenderNode
    transaction: TransactionNode


DepositResult = Annotated[
    DepositSuccess | e.InvalidAmount | e.Forbidden | e.IdempotencyConflict | e.InvalidInput,
    strawberry.union("DepositResult"),
]


@strawberry.input
class WithdrawInput:
    amount: Decimal
    idempotency_key: str


@strawberry.type
class WithdrawSuccess:
    lender: LenderNode
    transaction: TransactionNode


WithdrawResult = Annotated[
    WithdrawSuccess | e.InvalidAmount | e.InsufficientCredit | e.Forbidden | e.IdempotencyConflict | e.InvalidInput,
    strawberry.union("WithdrawResult"),
]


async def _moved(lender_id: int, moved: accounts.Moved) -> tuple[LenderNode, TransactionNode]:
    # The rows as the deposit or withdrawal left them when it answered with them (PostgreSQL); else read.
    if moved.lender is not None and moved.transfer is not None and moved.account_id is not None:
        return LenderNode.from_model(moved.lender), TransactionNode.from_model(moved.transfer, moved.account_id)
    lender = await Lender.get(id=lender_id).prefetch_related("account")
    transfer = await Transfer.get(id=moved.transfer_id)
    return LenderNode.from_model(lender), TransactionNode.from_model(transfer, lender.account.id)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create a lender; the token in the result is shown only once.")
    @returns_user_errors
    async def register_lender(self, info: Info, input: RegisterLenderInput) -> RegisterLenderResult:
        lender, token = await accounts.register_lender(input.display_name, input.email, info.context.now())
        return RegisterLenderSuccess(lender=LenderNode.from_model(lender), token=token)

    @strawberry.mutation(description="Add credit from outside.", extensions=requires(IsLender(LEND)))
    @returns_user_errors
    async def deposit(self, info: Info, input: DepositInput) -> DepositResult:
        lender_id = info.context.require_lender()
        moved = await accounts.deposit(lender_id, input.amount, input.idempotency_key, info.context.now())
        lender, transaction = await _moved(lender_id, moved)
        return DepositSuccess(lender=lender, transaction=transaction)

    @strawberry.mutation(description="Pay credit out.", extensions=requires(IsLender(LEND)))
    @returns_user_errors
    async def withdraw(self, info: Info, input: WithdrawInput) -> WithdrawResult:
        lender_id = info.context.require_lender()
        moved = await accounts.withdraw(lender_id, input.amount, input.idempotency_key, info.context.now())
        lender, transaction = await _moved(lender_id, moved)
        return WithdrawSuccess(lender=lender, transaction=transaction)
