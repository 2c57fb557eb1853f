"""Typed errors returned in mutation payloads (expected failures are data, not exceptions)."""

import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import strawberry

from lending import errors
from lending.money import to_decimal


@strawberry.interface(name="UserError")
class UserError:
    code: str
    message: str


@strawberry.type
class InvalidAmount(UserError):
    pass


@strawberry.type
class InvalidInput(UserError):
    field: str


@strawberry.type
class InsufficientCredit(UserError):
    needed: Decimal
    available: Decimal


@strawberry.type
class LoanNotFundraising(UserError):
    status: str


@strawberry.type
class LoanNotRepaying(UserError):
    status: str


@strawberry.type
class ExceedsRemaining(UserError):
    remaining: Decimal


@strawberry.type
class NotFound(UserError):
    pass


@strawberry.type
class Forbidden(UserError):
    pass


@strawberry.type
class IdempotencyConflict(UserError):
    key: str


@strawberry.type
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
            return user_error(error)

    return wrapper
