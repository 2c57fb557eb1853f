"""The state the model keeps: lenders, partners, loans, shares, rules and stored idempotent results."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UNIT = 2500  # the lending unit: 25.00


@dataclass
class Stored:
    """A success stored with its idempotency key."""

    operation: str
    payload: tuple[Any, ...]
    result: dict[str, Any]


@dataclass
class Rule:
    enabled: bool
    countries: tuple[str, ...]
    sectors: tuple[str, ...]
    genders: tuple[str, ...]
    amount: int
    keep: int
    waiting_since: datetime

    def matches(self, loan: "Loan") -> bool:
        return (
            (not self.countries or loan.country in self.countries)
            and (not self.sectors or loan.sector in self.sectors)
            and (not self.genders or loan.gender in self.genders)
        )


@dataclass
class Lender:
    name: str
    gid: str
    db_id: int
    token: str
    balance: int = 0
    rule: Rule | None = None
    keys: dict[str, Stored] = field(default_factory=dict)


@dataclass
class Partner:
    name: str
    token: str
    db_id: int
    country: str
    risk_tenths: int
    account: int = 0  # disbursed and not yet repaid or written off
    keys: dict[str, Stored] = field(default_factory=dict)


@dataclass
class Share:
    amount: int
    repaid: int = 0  # principal, currency loss included
    loss: int = 0


@dataclass
class Loan:
    gid: str
    db_id: int
    partner: str
    amount: int
    term: int
    country: str
    sector: str
    gender: str
    liability: str
    listed_at: datetime
    expires_at: datetime
    status: str = "FUNDRAISING"
    funded: int = 0
    auto: int = 0
    repaid: int = 0
    funded_at: datetime | None = None
    account: int = 0  # raised and not yet disbursed or refunded
    allocations: int = 0
    shares: dict[str, Share] = field(default_factory=dict)  # by lender name, in the order they joined

    @property
    def remaining(self) -> int:
        return self.amount - self.funded
