"""Expected failures of lending operations.

Each is raised inside the operation's transaction, so raising it rolls back
everything the operation had written: a refused request leaves no trace.
"""


class LendingError(Exception):
    code = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(LendingError):
    code = "INVALID_AMOUNT"


class InvalidInput(LendingError):
    code = "INVALID_INPUT"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InsufficientCredit(LendingError):
    code = "INSUFFICIENT_CREDIT"

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"This needs {needed / 100:.2f} of credit; {available / 100:.2f} is available.")
        self.needed = needed
        self.available = available


class LoanNotFundraising(LendingError):
    code = "LOAN_NOT_FUNDRAISING"

    def __init__(self, status: str) -> None:
        super().__init__(f"The loan is not fundraising (it is {status}).")
        self.status = status


class LoanNotRepaying(LendingError):
    code = "LOAN_NOT_REPAYING"

    def __init__(self, status: str) -> None:
        super().__init__(f"The loan is not being repaid (it is {status}).")
        self.status = status


class ExceedsRemaining(LendingError):
    code = "EXCEEDS_REMAINING"

    def __init__(self, remaining: int) -> None:
        super().__init__(f"Only {remaining / 100:.2f} remains.")
        self.remaining = remaining


class NotFound(LendingError):
    code = "NOT_FOUND"

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"No {what} with id {ident}.")
        self.what = what


class Forbidden(LendingError):
    code = "FORBIDDEN"


class IdempotencyConflict(LendingError):
    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, key: str) -> None:
        super().__init__(f"The idempotency key {key!r} was already used for a different request.")
        self.key = key


class EmailTaken(LendingError):
    code = "EMAIL_TAKEN"

    def __init__(self) -> None:
        super().__init__("A lender with this email already exists.")
