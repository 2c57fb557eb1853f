"""Enumerations stored in the database (their values are the stored strings).

StrEnums: str() and f-strings give a member's value ("FUNDED"), the text stored and shown by the API.
"""

from enum import StrEnum


class LoanStatus(StrEnum):
    FUNDRAISING = "FUNDRAISING"
    FUNDED = "FUNDED"
    REPAYING = "REPAYING"
    REPAID = "REPAID"
    DEFAULTED = "DEFAULTED"
    EXPIRED = "EXPIRED"


class Gender(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    NONBINARY = "NONBINARY"
    MIXED_GROUP = "MIXED_GROUP"


class Sector(StrEnum):
    """Kiva's fifteen sectors."""

    AGRICULTURE = "AGRICULTURE"
    ARTS = "ARTS"
    CLOTHING = "CLOTHING"
    CONSTRUCTION = "CONSTRUCTION"
    EDUCATION = "EDUCATION"
    ENTERTAINMENT = "ENTERTAINMENT"
    FOOD = "FOOD"
    HEALTH = "HEALTH"
    HOUSING = "HOUSING"
    MANUFACTURING = "MANUFACTURING"
    PERSONAL_USE = "PERSONAL_USE"
    RETAIL = "RETAIL"
    SERVICES = "SERVICES"
    TRANSPORTATION = "TRANSPORTATION"
    WHOLESALE = "WHOLESALE"


class CurrencyLossLiability(StrEnum):
    NONE = "NONE"  # the partner bears any currency loss
    SHARED = "SHARED"  # the partner covers the first 10%, lenders the rest
    LENDER = "LENDER"  # lenders bear all of it


class Role(StrEnum):
    LENDER = "LENDER"
    PARTNER = "PARTNER"
    ADMIN = "ADMIN"


class AccountKind(StrEnum):
    LENDER = "LENDER"  # a lender's credit
    LOAN = "LOAN"  # money raised for a loan, held until disbursed or refunded
    PARTNER = "PARTNER"  # disbursed and not yet repaid: what the partner owes
    WORLD = "WORLD"  # money outside the platform (card deposits, bank withdrawals)


class TransferKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    LOAN_SHARE = "LOAN_SHARE"
    REFUND = "REFUND"
    DISBURSEMENT = "DISBURSEMENT"
    REPAYMENT = "REPAYMENT"
    CURRENCY_LOSS = "CURRENCY_LOSS"
    WRITE_OFF = "WRITE_OFF"


class EventKind(StrEnum):
    LOAN_LISTED = "LOAN_LISTED"
    SHARE_ADDED = "SHARE_ADDED"
    LOAN_FUNDED = "LOAN_FUNDED"
    LOAN_REPAYING = "LOAN_REPAYING"
    LOAN_EXPIRED = "LOAN_EXPIRED"
    LOAN_REPAID = "LOAN_REPAID"
    LOAN_DEFAULTED = "LOAN_DEFAULTED"
    REPAYMENT_CREDITED = "REPAYMENT_CREDITED"
    NOTIFICATION = "NOTIFICATION"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    NOTIFICATIONS_READ = "NOTIFICATIONS_READ"
    # Changes to the match indexes every process holds (lending/matchers.py); on no subscriber's stream.
    SEARCH_SAVED = "SEARCH_SAVED"
    SEARCH_DELETED = "SEARCH_DELETED"
    RULE_SET = "RULE_SET"


class NotificationKind(StrEnum):
    SAVED_SEARCH_MATCH = "SAVED_SEARCH_MATCH"
    AUTO_LOAN = "AUTO_LOAN"


class AutoLendTrigger(StrEnum):
    IMMEDIATE = "IMMEDIATE"  # as soon as credit is available
    AFTER_IDLE_DAYS = "AFTER_IDLE_DAYS"  # once the lender has not been seen for idle_days
    AFTER_DAYS_WITHOUT_LENDING = "AFTER_DAYS_WITHOUT_LENDING"  # once they have not lent by hand for idle_days
