"""Accounts: register as a lender, add credit, take it out."""

from decimal import Decimal
from typing import Annotated

import strawberry

from graph.context import Info
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import IDEMPOTENCY_KEY, returns_user_errors
from graph.types.lenders import LenderNode, TransactionNode
from lending import accounts
from lending.tokens import LEND
from models import Lender, Transfer


@strawberry.input(description="Who registers.")
class RegisterLenderInput:
    display_name: str = strawberry.field(
        description="The name the lender shows to everyone, 1 to 100 characters, without control characters."
    )
    email: str = strawberry.field(
        description="An email address, at most 254 characters, kept in lower case; one lender per address."
    )


@strawberry.type(description="The new lender and their first token.")
class RegisterLenderSuccess:
    lender: LenderNode = strawberry.field(description="The new lender, with a balance of 0.00.")
    token: str = strawberry.field(
        description="A bearer token with every scope. Shown once: keep it, it cannot be read again."
    )


RegisterLenderResult = Annotated[
    RegisterLenderSuccess | e.InvalidInput | e.EmailTaken,
    strawberry.union("RegisterLenderResult", description="registerLender's answer; on failure nothing is created."),
]


@strawberry.input(description="Credit to add.")
class DepositInput:
    amount: Decimal = strawberry.field(description="In USD: more than 0.00, at most 1,000,000.00.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.type(description="The credit was added.")
class DepositSuccess:
    lender: LenderNode = strawberry.field(description="The lender, with the balance after the deposit.")
    transaction: TransactionNode = strawberry.field(description="The DEPOSIT transaction.")


DepositResult = Annotated[
    DepositSuccess | e.InvalidAmount | e.Forbidden | e.IdempotencyConflict | e.InvalidInput,
    strawberry.union("DepositResult", description="deposit's answer; on failure no money moved."),
]


@strawberry.input(description="Credit to pay out.")
class WithdrawInput:
    amount: Decimal = strawberry.field(
        description="In USD: more than 0.00, at most 1,000,000.00 and at most the balance."
    )
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.type(description="The credit was paid out.")
class WithdrawSuccess:
    lender: LenderNode = strawberry.field(description="The lender, with the balance after the withdrawal.")
    transaction: TransactionNode = strawberry.field(description="The WITHDRAWAL transaction.")


WithdrawResult = Annotated[
    WithdrawSuccess | e.InvalidAmount | e.InsufficientCredit | e.Forbidden | e.IdempotencyConflict | e.InvalidInput,
    strawberry.union("WithdrawResult", description="withdraw's answer; on failure no money moved."),
]


async def _moved(lender_id: int, moved: accounts.Moved) -> tuple[LenderNode, TransactionNode]:
    # The rows as the deposit or withdrawal left them when it answered with them (PostgreSQL); else read.
    if moved.lender is not None and moved.transfer is not None and moved.account_id is not None:
        lender_node = LenderNode.from_model(moved.lender, balance_cents=moved.balance_cents)
        return lender_node, TransactionNode.from_model(moved.transfer, moved.account_id)
    lender = await Lender.get(id=lender_id).prefetch_related("account")
    transfer = await Transfer.get(id=moved.transfer_id)
    return LenderNode.from_model(lender), TransactionNode.from_model(transfer, lender.account.id)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Create a lender, with no credit; no token needed. The token in the result is shown only once."
    )
    @returns_user_errors
    async def register_lender(
        self, info: Info, input: Annotated[RegisterLenderInput, strawberry.argument(description="Who registers.")]
    ) -> RegisterLenderResult:
        lender, token = await accounts.register_lender(input.display_name, input.email, info.context.now())
        return RegisterLenderSuccess(lender=LenderNode.from_model(lender), token=token)

    @strawberry.mutation(
        description="Add credit from outside (a card payment); the auto-lend rule may then lend it. Needs a lender "
        "token with the lend scope; counts against the LENDER_MONEY rate limit.",
        extensions=requires(IsLender(LEND)),
    )
    @returns_user_errors
    async def deposit(
        self, info: Info, input: Annotated[DepositInput, strawberry.argument(description="What to add.")]
    ) -> DepositResult:
        lender_id = info.context.require_lender()
        moved = await accounts.deposit(lender_id, input.amount, input.idempotency_key, info.context.now())
        lender, transaction = await _moved(lender_id, moved)
        return DepositSuccess(lender=lender, transaction=transaction)

    @strawberry.mutation(
        description="Pay credit out to the lender's bank. Needs a lender token with the lend scope; counts against "
        "the LENDER_MONEY rate limit.",
        extensions=requires(IsLender(LEND)),
    )
    @returns_user_errors
    async def withdraw(
        self, info: Info, input: Annotated[WithdrawInput, strawberry.argument(description="What to pay out.")]
    ) -> WithdrawResult:
        lender_id = info.context.require_lender()
        moved = await accounts.withdraw(lender_id, input.amount, input.idempotency_key, info.context.now())
        lender, transaction = await _moved(lender_id, moved)
        return WithdrawSuccess(lender=lender, transaction=transaction)
