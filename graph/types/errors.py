"""Typed errors returned in mutation payloads (expected failures are data, not exceptions)."""

import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import strawberry

from lending import errors
from lending.idempotency import MAX_KEY_LENGTH
from lending.money import to_decimal

# The idempotency key of every money mutation (lending.idempotency), described once.
IDEMPOTENCY_KEY = (
    f"1 to {MAX_KEY_LENGTH} printable ASCII characters, new for each operation of this caller. Sent again with "
    "the same input, the operation runs once and answers its first success again; with other input, "
    "IdempotencyConflict."
)


@strawberry.interface(
    name="UserError",
    description="An expected failure, returned as a member of a mutation's result union (not in `errors`). "
    "A refused request changes nothing.",
)
class UserError:
    code: str = strawberry.field(
        description="Stable and machine-readable, one per type: its name in upper snake case (InsufficientCredit: "
        "INSUFFICIENT_CREDIT)."
    )
    message: str = strawberry.field(
        description="What went wrong, in English, for people; its wording may change: branch on the type or code."
    )


@strawberry.type(
    description="A well-formed amount that breaks a rule (code INVALID_AMOUNT): zero, above its limit, not a "
    "multiple of 25.00 where one is required, or a currency loss above the repayment. The message says which."
)
class InvalidAmount(UserError):
    pass


@strawberry.type(
    description="An input value is not acceptable (code INVALID_INPUT): out of range, too long, malformed, "
    "or a limit per lender reached. The message says which rule."
)
class InvalidInput(UserError):
    field: str = strawberry.field(
        description="The input field or argument at fault, as the schema names it (e.g. idleDays, first); "
        "riskRating for either bound of a risk rating."
    )


@strawberry.type(description="The lender's credit does not cover the amount (code INSUFFICIENT_CREDIT).")
class InsufficientCredit(UserError):
    needed: Decimal = strawberry.field(description="The amount asked for, in USD.")
    available: Decimal = strawberry.field(description="The lender's credit when refused, in USD.")


@strawberry.type(
    description="The loan takes no more lending (code LOAN_NOT_FUNDRAISING): it is not FUNDRAISING, "
    "or its deadline has passed."
)
class LoanNotFundraising(UserError):
    status: str = strawberry.field(
        description='The loan\'s LoanStatus name (e.g. FUNDED), or "past its deadline" for a FUNDRAISING loan past '
        "expiresAt."
    )


@strawberry.type(
    description="The loan is not FUNDED or REPAYING, so it takes no repayment or default (code LOAN_NOT_REPAYING)."
)
class LoanNotRepaying(UserError):
    status: str = strawberry.field(description="The loan's LoanStatus name, e.g. REPAID.")


@strawberry.type(
    description="The amount is more than the loan has left to raise, or to be repaid (code EXCEEDS_REMAINING)."
)
class ExceedsRemaining(UserError):
    remaining: Decimal = strawberry.field(
        description="What the loan still needs when refused, in USD: its remainingAmount when lending, "
        "its unrepaid principal when repaying."
    )


@strawberry.type(
    description="An id in the input names nothing this caller may act on (code NOT_FOUND): no such object, "
    "an id of another type, or another lender's object."
)
class NotFound(UserError):
    pass


@strawberry.type(
    description="The caller may not do this (code FORBIDDEN): not signed in, the wrong role (lender, partner, "
    "admin), the token lacks the scope, or the object is another partner's. The message says which."
)
class Forbidden(UserError):
    pass


@strawberry.type(
    description="The idempotency key was already used by this caller for a different request (code "
    "IDEMPOTENCY_CONFLICT). The same key with the same input answers the first success again instead."
)
class IdempotencyConflict(UserError):
    key: str = strawberry.field(description="The idempotency key, as sent.")


@strawberry.type(description="A lender with this email address already exists (code EMAIL_TAKEN).")
class EmailTaken(UserError):
    pass


def user_error(error: errors.LendingError) -> UserError:
    """The GraphQL type for a domain error."""
    common = {"code": error.code, "message": error.message}
    match error:
        case errors.InsufficientCredit():
            return InsufficientCredit(**common, needed=to_decimal(error.needed), available=to_decimal(error.available))
        case errors.ExceedsRemaining():
            return ExceedsRemaining(**common, remaining=to_decimal(error.remaining))
        case errors.LoanNotFundraising():
            return LoanNotFundraising(**common, status=error.status)
        case errors.LoanNotRepaying():
            return LoanNotRepaying(**common, status=error.status)
        case errors.InvalidInput():
            return InvalidInput(**common, field=error.field)
        case errors.IdempotencyConflict():
            return IdempotencyConflict(**common, key=error.key)
    simple = {
        errors.InvalidAmount: InvalidAmount,
        errors.NotFound: NotFound,
        errors.Forbidden: Forbidden,
        errors.EmailTaken: EmailTaken,
    }
    return simple[type(error)](**common)


def returns_user_errors(resolver: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn a domain error raised by a mutation into its typed member of the result union."""

    @functools.wraps(resolver)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await resolver(*args, **kwargs)
        except errors.LendingError as error:
            # The answer keeps what it needs; the traceback would keep every frame it passed through, and
            # the frame that raised often holds the error itself: a cycle only the collector frees.
            error.__traceback__ = None
            return user_error(error)

    return wrapper
