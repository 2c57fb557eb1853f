"""Tortoise models and the database setup: tables and their invariants."""

from models.enums import (
    AccountKind,
    CurrencyLossLiability,
    EventKind,
    Gender,
    LoanStatus,
    NotificationKind,
    Role,
    Sector,
    TransferKind,
)
from models.events import Event, Notification, SavedSearch, SearchAnchor
from models.ledger import Account, IdempotencyKey, Transfer
from models.lenders import ApiToken, Lender
from models.loans import Loan, Repayment, Share
from models.partners import Partner

__all__ = [
    "Account",
    "AccountKind",
    "ApiToken",
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
    "SearchAnchor",
    "Sector",
    "Share",
    "Transfer",
    "TransferKind",
]
