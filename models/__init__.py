"""Tortoise models and the database setup: tables and their invariants.

Typed for mypy with tortoise's own types: a relation is annotated (`fields.ForeignKeyRelation["Lender"]`,
the other side `fields.ReverseRelation["Share"]`) and its column declared (`lender_id: int`); a
BigIntField or SmallIntField is annotated `fields.Field[int]`, since tortoise gives their values no type.
"""

from models.autolend import Allocation, AutoLendRule
from models.enums import (
    AccountKind,
    AutoLendTrigger,
    CurrencyLossLiability,
    EventKind,
    Gender,
    LoanStatus,
    NotificationKind,
    Role,
    Sector,
    TransferKind,
)
from models.ledger import Account, IdempotencyKey, Transfer
from models.lenders import ApiToken, Lender
from models.loans import Loan, Repayment, Share
from models.notifications import Notification
from models.outbox import Event
from models.partners import Partner
from models.searches import SavedSearch

__all__ = [
    "Account",
    "AccountKind",
    "Allocation",
    "ApiToken",
    "AutoLendRule",
    "AutoLendTrigger",
    "CurrencyLossLiability",
    "Event",
    "EventKind",
    "Gender",
    "IdempotencyKey",
    "Lender",
    "Loan",
    "LoanStatus",
    "Notification",
    "NotificationKind",
    "Partner",
    "Repayment",
    "Role",
    "SavedSearch",
    "Sector",
    "Share",
    "Transfer",
    "TransferKind",
]
