"""The operation mix, and what a client process knows of the world to pick each operation's input.

Weights are in percent of all operations. Most traffic is reading: browsing fundraising loans with
filters (a fifth of it the next page), a loan's page, a lender's portfolio and balance. Money moves
in fewer calls: deposits, lends of 25.00 (mostly to the loans closest to being funded, as lenders on
such sites like to finish a loan), withdrawals, partners' repayments of the loans this process saw
funded, and new listings so that loans to lend to keep coming while others fill (at these weights
listings bring a little more money to lend to than lends take).

A process keeps its own estimates: each lender's balance (from its answers: a lend or withdrawal is
drawn only for a lender whose estimate covers it), the fundraising loans it saw (from browsing, loan
pages, listings and lends), and the loans it saw funded, which its partners repay month by month.
"""

import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.load import documents
from bench.p3_fanout.workload import GENDERS, SECTORS
from lending.money import to_decimal

WEIGHTS = {
    "browse": 42.0,
    "loan": 8.0,
    "portfolio": 15.0,
    "me": 12.0,
    "deposit": 6.0,
    "lend": 10.0,
    "withdraw": 2.0,
    "repay": 4.0,
    "list": 1.0,
}
OPS = tuple(WEIGHTS)
SORTS = ("NEWEST", "EXPIRING_SOON", "AMOUNT_LEFT")
SHARE = 2500  # cents: every lend is 25.00
KNOWN_LOANS = 3000  # fundraising loans a process remembers at most


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def money(amount_cents: int) -> str:
    return str(to_decimal(amount_cents))


@dataclass
class Call:
    """One operation to send: its document, variables and token; `settle` reads its data when it succeeded."""

    op: str
    field: str
    query: str
    variables: dict[str, Any]
    token: str | None
    retry_unsure: bool = True  # sent again after a timeout or a dropped connection (money calls carry keys)
    settle: Any = None  # callable(data | None): data on success, None otherwise


@dataclass
class Lender:
    token: str
    balance: int  # cents, this process's estimate


@dataclass
class Repayable:
    partner: str  # the partner's global id
    amount: int
    outstanding: int
    term: int


class Pool:
    """Loan ids with a value each, sampled at random in O(1)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.where: dict[str, int] = {}
        self.values: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, loan_id: str, value: Any) -> None:
        if loan_id not in self.where:
            self.where[loan_id] = len(self.ids)
            self.ids.append(loan_id)
        self.values[loan_id] = value

    def drop(self, loan_id: str) -> None:
        index = self.where.pop(loan_id, None)
        if index is None:
            return
        last = self.ids.pop()
        if index < len(self.ids):
            self.ids[index] = last
            self.where[last] = index
        del self.values[loan_id]

    def sample(self, rng: random.Random, count: int) -> list[str]:
        return [self.ids[rng.randrange(len(self.ids))] for _ in range(count)] if self.ids else []


@dataclass
class Knowledge:
    """One client process's view of the world, and the draw of each operation's input."""

    rng: random.Random
    tag: str  # makes idempotency keys unique to the run and the process
    lenders: list[Lender]
    partners: dict[str, tuple[str, str]]  # global id -> (token, country)
    fundraising: Pool = field(default_factory=Pool)  # loan id -> (remaining cents, partner id)
    repayable: Pool = field(default_factory=Pool)  # loan id -> Repayable
    pages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))  # next pages to browse
    serial: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # drawn with no input to use (no repayable loan, ...)

    def key(self, op: str) -> str:
        self.serial += 1
        return f"{self.tag}-{op}-{self.serial}"

    def draw(self, op: str) -> Call | None:
        call: Call | None = getattr(self, f"_{op}")()
        if call is None:
            self.skipped[op] = self.skipped.get(op, 0) + 1
        return call

    # ---------------------------------------------------------------- reads

    def _browse(self) -> Call:
        token = self.rng.choice(self.lenders).token if self.rng.random() < 0.5 else None
        if self.pages and self.rng.random() < 0.2:
            variables = self.pages.popleft()
        else:
            variables = {"filter": self._filter(), "sort": self.rng.choice(SORTS), "after": None}

        def settle(data: dict[str, Any] | None) -> None:
            if data is None:
                return
            page = data["loans"]
            for edge in page["edges"]:
                self._saw(edge["node"])
            if page["pageInfo"]["hasNextPage"]:
                self.pages.append({**variables, "after": page["pageInfo"]["endCursor"]})

        return Call("browse", "loans", documents.BROWSE, variables, token, settle=settle)

    def _filter(self) -> dict[str, Any]:
        rng = self.rng
        wanted: dict[str, Any] = {"statuses": ["FUNDRAISING"]}
        if rng.random() < 0.3:
            countries = sorted({country for _, country in self.partners.values()})
            wanted["countries"] = rng.sample(countries, rng.choice((1, 1, 2)))
        if rng.random() < 0.3:
            wanted["sectors"] = rng.sample(SECTORS, rng.choice((1, 2, 3)))
        if rng.random() < 0.2:
            wanted["genders"] = rng.sample(GENDERS, rng.choice((1, 2)))
        if rng.random() < 0.2:
            wanted["riskRatingMin"] = rng.choice(("2.5", "3.0", "3.5"))
        return wanted

    def _saw(self, loan: dict[str, Any]) -> None:
        remaining = cents(loan["remainingAmount"])
        if loan["status"] == "FUNDRAISING" and remaining >= SHARE:
            if loan["id"] in self.fundraising.where or len(self.fundraising) < KNOWN_LOANS:
                self.fundraising.put(loan["id"], (remaining, loan["partner"]["id"]))
        else:
            self.fundraising.drop(loan["id"])

    def _loan(self) -> Call | None:
        picked = self.fundraising.sample(self.rng, 1)
        if not picked:
            return None

        def settle(data: dict[str, Any] | None) -> None:
            if data is not None and data["loan"] is not None:
                self._saw(data["loan"])

        return Call("loan", "loan", documents.LOAN, {"id": picked[0]}, None, settle=settle)

    def _portfolio(self) -> Call:
        lender = self.rng.choice(self.lenders)
        return Call("portfolio", "me", documents.PORTFOLIO, {}, lender.token, settle=self._balance_of(lender))

    def _me(self) -> Call:
        lender = self.rng.choice(self.lenders)
        return Call("me", "me", documents.ME, {}, lender.token, settle=self._balance_of(lender))

    @staticmethod
    def _balance_of(lender: Lender) -> Any:
        def settle(data: dict[str, Any] | None) -> None:
            if data is not None:
                me = data.get("me") or data.get("lender") or {}
                if me.get("balance") is not None:
                    lender.balance = cents(me["balance"])

        return settle

    # ---------------------------------------------------------------- money

    def _deposit(self) -> Call:
        lender = self.rng.choice(self.lenders)
        variables = {"input": {"amount": money(SHARE * self.rng.randint(1, 4)), "idempotencyKey": self.key("d")}}
        return Call("deposit", "deposit", documents.DEPOSIT, variables, lender.token, settle=self._money(lender))

    def _withdraw(self) -> Call | None:
        lender = self._lender_with(2 * SHARE)
        if lender is None:
            return None
        lender.balance -= SHARE  # reserved: another call of this process will not count on it
        variables = {"input": {"amount": money(SHARE), "idempotencyKey": self.key("w")}}
        settle = self._money(lender, SHARE)
        return Call("withdraw", "withdraw", documents.WITHDRAW, variables, lender.token, settle=settle)

    def _lend(self) -> Call | None:
        lender = self._lender_with(SHARE)
        candidates = self.fundraising.sample(self.rng, 12)
        if lender is None or not candidates:
            return None
        if self.rng.random() < 0.6:  # the loan closest to being funded among a few
            loan_id = min(candidates, key=lambda c: self.fundraising.values[c][0])
        else:
            loan_id = candidates[0]
        lender.balance -= SHARE
        variables = {"input": {"loanId": loan_id, "amount": money(SHARE), "idempotencyKey": self.key("l")}}
        settle_balance = self._money(lender, SHARE)

        def settle(data: dict[str, Any] | None) -> None:
            settle_balance(data)
            result = (data or {}).get("lend") or {}
            loan = result.get("loan")
            if loan is None:  # refused (filled or closed meanwhile, or not enough credit) or failed
                if result.get("__typename") in ("ExceedsRemaining", "LoanNotFundraising"):
                    self.fundraising.drop(loan_id)
                return
            self._saw(loan)
            if loan["status"] == "FUNDED":  # this lend filled it: this process's partner repays it
                amount = cents(loan["amount"])
                self.repayable.put(loan_id, Repayable(loan["partner"]["id"], amount, amount, loan["termMonths"]))

        return Call("lend", "lend", documents.LEND, variables, lender.token, settle=settle)

    def _lender_with(self, needed: int) -> Lender | None:
        for _ in range(20):
            lender = self.rng.choice(self.lenders)
            if lender.balance >= needed:
                return lender
        return None

    @staticmethod
    def _money(lender: Lender, reserved: int = 0) -> Any:
        """Settles a deposit, withdrawal or lend: the balance from its answer, else the reserve given back."""

        def settle(data: dict[str, Any] | None) -> None:
            result = next(iter(data.values()), None) if data else None
            if result and result.get("lender"):
                lender.balance = cents(result["lender"]["balance"])
            elif result and result.get("__typename") == "InsufficientCredit":
                lender.balance = 0  # until a `me` or portfolio read tells the balance again
            else:
                lender.balance += reserved

        return settle

    def _repay(self) -> Call | None:
        picked = self.repayable.sample(self.rng, 1)
        if not picked:
            return None
        loan_id = picked[0]
        loan: Repayable = self.repayable.values[loan_id]
        amount = min(max(loan.amount // loan.term, 1), loan.outstanding)
        token = self.partners[loan.partner][0]
        variables = {"input": {"loanId": loan_id, "amount": money(amount), "idempotencyKey": self.key("r")}}

        def settle(data: dict[str, Any] | None) -> None:
            result = (data or {}).get("postRepayment") or {}
            if "loan" in result:
                after = result["loan"]
                loan.outstanding = cents(after["amount"]) - cents(after["repaidAmount"])
                if after["status"] != "REPAYING" or loan.outstanding <= 0:
                    self.repayable.drop(loan_id)
            elif result.get("__typename") in ("ExceedsRemaining", "LoanNotRepaying"):
                self.repayable.drop(loan_id)

        return Call("repay", "postRepayment", documents.REPAY, variables, token, settle=settle)

    def _list(self) -> Call:
        partner_id = self.rng.choice(list(self.partners))
        token, country = self.partners[partner_id]
        self.serial += 1
        listing = {
            "name": f"Borrower {self.tag}-{self.serial}",
            "use": "to buy more stock for her market stall and grow her trade",
            "countryIsoCode": country,
            "sector": self.rng.choice(SECTORS),
            "gender": self.rng.choice(GENDERS[:2] if self.rng.random() < 0.8 else GENDERS),
            "amount": money(SHARE * self.rng.randint(4, 20)),
            "termMonths": self.rng.choice((6, 8, 10, 12, 14)),
        }

        def settle(data: dict[str, Any] | None) -> None:
            loan = ((data or {}).get("listLoan") or {}).get("loan")
            if loan is not None and len(self.fundraising) < KNOWN_LOANS:
                self.fundraising.put(loan["id"], (cents(loan["amount"]), partner_id))

        # listLoan carries no idempotency key: sent again only when the server said it did nothing (503)
        return Call("list", "listLoan", documents.LIST, {"input": listing}, token, retry_unsure=False, settle=settle)
