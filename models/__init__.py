"""Tortoise models and the database setup: tables and their invariants."""

from models.enums import (
    AccountKind,
    CurrencyLossLiability,
    Gender,
    LoanStatus,
    Role,
    Sector,
    TransferKind,
)
from models.ledger import Account, IdempotencyKey, Transfer
from models.lenders import ApiToken, Lender
from models.loans import Loan, Repayment, Share
from models.partners import Partner

__all__ = [
    "Account",
    "AccountKind",
    "ApiToken",
    "CurrencyLossLiability",
    "Gender",
    "IdempotencyKey",
    "Lender",
    "Loan",
    "LoanStatus",
    "Partner",
    "Repayment",
    "Role",
    "Sector",
    "Share",
    "Transfer",
    "TransferKind",
]
