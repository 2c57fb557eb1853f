"""A plain-Python model of lendgraph's money, written from the README: every balance, loan, share,
idempotency key and auto-lend rule, in integer cents.

Each operation takes what a client sends and returns the outcomes the API may answer with (more than
one only where the README leaves the order of refusals open). A success changes the model; a refusal
never does. Auto-lending lives in tests.model.autolending, the figures the API reports in
tests.model.figures.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.model import autolending
from tests.model.split import loss_parts, principal_parts
from tests.model.state import UNIT, Lender, Loan, Partner, Rule, Share, Stored

# Work a call sets off after it commits: (what, lenders or loans by name, when).
FollowUp = tuple[str, tuple[str, ...], datetime]

MAX_REQUEST = 100_000_000  # 1,000,000.00
MAX_LOAN = 5_000_000  # 50,000.00
MAX_RULE_AMOUNT = 1_000_000  # 10,000.00 per loan
MAX_TERM = 120
LISTING_DAYS, MAX_LISTING_DAYS = 30, 90
PARTNER_COVERED_PERCENT = 10  # SHARED liability: the partner covers loss up to 10% of a repayment
REPAYABLE = ("FUNDED", "REPAYING")
ADMIN = "admin"
MONEY_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?", re.ASCII)


def cents_of(text: str, *, unit: int = 1, maximum: int = MAX_REQUEST) -> int | None:
    """The cents of a money string as the README defines one (ASCII digits, at most two decimals,
    positive, within the limit, a multiple of `unit`), or None when it must be refused."""
    if not MONEY_TEXT.fullmatch(text):
        return None
    whole, _, part = text.partition(".")
    cents = int(whole) * 100 + int(part.ljust(2, "0") or "0")
    return cents if 0 < cents <= maximum and cents % unit == 0 else None


def optional_cents(text: str | None) -> int | None:
    """An optional amount (a currency loss, a balance to keep): absent or zero is 0; None if invalid."""
    if text is None or (MONEY_TEXT.fullmatch(text) and not text.strip("0.")):
        return 0
    return cents_of(text)


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= 100 and key.isascii() and key.isprintable()


@dataclass(frozen=True)
class Outcome:
    """One answer: its GraphQL type and the fields the test compares. Only the `stable` fields are
    compared when requests ran concurrently (the others are read after commit, when others may have
    committed too)."""

    typename: str
    fields: tuple[tuple[str, Any], ...] = ()
    stable: frozenset[str] = frozenset()
    ids: tuple[str, ...] = ()  # what the API assigned (a new lender's id and token, a new loan's id)

    def __str__(self) -> str:
        return f"{self.typename}({', '.join(f'{k}={v}' for k, v in self.fields)})"

    def agrees(self, other: "Outcome", concurrent: bool) -> bool:
        if self.typename != other.typename:
            return False
        mine, theirs = dict(self.fields), dict(other.fields)
        keys = (self.stable | other.stable) if concurrent else set(mine) | set(theirs)
        return all(mine.get(k) == theirs.get(k) for k in keys)


def outcome(typename: str, stable: tuple[str, ...] = (), **fields: Any) -> Outcome:
    return Outcome(typename, tuple(sorted(fields.items())), frozenset(stable))


def refusal(typename: str, **fields: Any) -> Outcome:
    # A refusal's own fields (needed, key, field) are facts of the request; remaining and available
    # are read from the world, so only compared in sequence.
    return outcome(typename, tuple(k for k in fields if k in ("needed", "key", "field")), **fields)


class World:
    def __init__(self) -> None:
        self.lenders: dict[str, Lender] = {}
        self.partners: dict[str, Partner] = {}
        self.loans: dict[str, Loan] = {}
        self.emails: set[str] = set()
        self.world_account = 0  # money outside the platform (negative: what came in)
        self.admin_token = ""
        # Auto-lending (and the expiry sweep's every loan) runs after the call that set it off has
        # committed, in transactions of its own.
        # None: at once, as in a run of one call at a time; a list: kept for later, where calls
        # run concurrently and others may commit in between (tests.model.concurrent).
        self.later: list[FollowUp] | None = None

    # -- lenders ---------------------------------------------------------------------------------

    def register(self, name: str, email: str, created: tuple[str, int, str] | None) -> list[Outcome]:
        """`created` is (global id, database id, token) as the API answered, if it did."""
        if email.lower() in self.emails:
            return [refusal("EmailTaken")]
        if created is not None:
            self.emails.add(email.lower())
            gid, db_id, token = created
            self.lenders[name] = Lender(name, gid, db_id, token)
        return [outcome("RegisterLenderSuccess")]

    def deposit(self, who: str, text: str, key: str, now: datetime) -> list[Outcome]:
        lender = self.lenders.get(who)
        cents = cents_of(text)
        errors = self._input_errors(cents, key) + ([] if lender else [refusal("Forbidden")])
        stored = lender.keys.get(key) if lender else None
        if answer := self._keyed(errors, stored, ("deposit", (cents,)), key, lambda s: self._moved(who, s), list):
            return answer
        assert lender is not None and cents is not None
        lender.balance += cents
        self.world_account -= cents
        lender.keys[key] = Stored("deposit", (cents,), {"amount": cents})
        self.then("on_credit", [lender.name], now)
        return [self._moved(who, lender.keys[key])]

    def withdraw(self, who: str, text: str, key: str, now: datetime) -> list[Outcome]:
        lender = self.lenders.get(who)
        cents = cents_of(text)
        errors = self._input_errors(cents, key) + ([] if lender else [refusal("Forbidden")])
        stored = lender.keys.get(key) if lender else None

        def refusals() -> list[Outcome]:
            if lender and cents and cents > lender.balance:
                return [refusal("InsufficientCredit", needed=cents, available=lender.balance)]
            return []

        if answer := self._keyed(errors, stored, ("withdraw", (cents,)), key, lambda s: self._moved(who, s), refusals):
            return answer
        assert lender is not None and cents is not None
        lender.balance -= cents
        self.world_account += cents
        lender.keys[key] = Stored("withdraw", (cents,), {"amount": -cents})
        return [self._moved(who, lender.keys[key])]

    def _moved(self, who: str, stored: Stored) -> Outcome:
        typename = "DepositSuccess" if stored.operation == "deposit" else "WithdrawSuccess"
        return outcome(typename, ("amount",), amount=stored.result["amount"], balance=self.lenders[who].balance)

    def set_rule(self, who: str, spec: dict[str, Any], now: datetime) -> list[Outcome]:
        lender = self.lenders.get(who)
        amount = cents_of(spec["amount"], unit=UNIT, maximum=MAX_RULE_AMOUNT)
        keep = optional_cents(spec["keep"])
        errors = [] if lender else [refusal("Forbidden")]
        errors += [refusal("InvalidAmount")] if amount is None or keep is None else []
        if errors:
            return errors
        assert lender is not None and amount is not None and keep is not None
        since = lender.rule.waiting_since if lender.rule else now  # replacing a rule keeps its place
        lender.rule = Rule(spec["enabled"], spec["countries"], spec["sectors"], spec["genders"], amount, keep, since)
        self.then("on_credit", [lender.name], now)
        fields = ("enabled", "amount", "keep")
        return [outcome("AutoLendRuleSuccess", fields, enabled=spec["enabled"], amount=amount, keep=keep)]

    # -- loans -----------------------------------------------------------------------------------

    def list_loan(
        self, who: str, spec: dict[str, Any], now: datetime, created: tuple[str, int] | None
    ) -> list[Outcome]:
        """`created` is the new loan's (global id, database id) as the API answered, if it did."""
        partner = self.partners.get(who)
        errors = [] if partner else [refusal("Forbidden")]
        amount = cents_of(spec["amount"], unit=UNIT, maximum=MAX_LOAN)
        if amount is None:
            errors.append(refusal("InvalidAmount"))
        if partner and spec["country"] != partner.country:
            errors.append(refusal("InvalidInput", field="countryIsoCode"))
        if not 1 <= spec["term"] <= MAX_TERM:
            errors.append(refusal("InvalidInput", field="termMonths"))
        expires_at = now + timedelta(days=LISTING_DAYS) if spec["expires_in"] is None else now + spec["expires_in"]
        if not now < expires_at <= now + timedelta(days=MAX_LISTING_DAYS):
            errors.append(refusal("InvalidInput", field="expiresAt"))
        if errors:
            return errors
        assert amount is not None and partner is not None
        gid, db_id = created or ("(no id)", 0)
        loan = Loan(
            gid, db_id, partner.name, amount, spec["term"], spec["country"], spec["sector"], spec["gender"],
            spec["liability"], now, expires_at,
        )  # fmt: skip
        self.loans[gid] = loan
        self.then("fund_loan", [gid], now)
        return [outcome("ListLoanSuccess", ("amount",), amount=amount, funded=loan.funded, status=loan.status)]

    def lend(self, who: str, loan_id: str, text: str, key: str, now: datetime) -> list[Outcome]:
        lender = self.lenders.get(who)
        cents = cents_of(text, unit=UNIT)
        loan = self.loans.get(loan_id)
        errors = self._input_errors(cents, key) + ([] if loan else [refusal("NotFound")])
        errors += [] if lender else [refusal("Forbidden")]
        stored = lender.keys.get(key) if lender else None

        def refusals() -> list[Outcome]:
            found = []
            if loan and (loan.status != "FUNDRAISING" or now >= loan.expires_at):
                found.append(refusal("LoanNotFundraising"))
            elif loan and cents and cents > loan.remaining:
                found.append(refusal("ExceedsRemaining", remaining=loan.remaining))
            if lender and cents and cents > lender.balance:
                found.append(refusal("InsufficientCredit", needed=cents, available=lender.balance))
            return found

        request = ("lend", (loan_id, cents))
        if answer := self._keyed(errors, stored, request, key, lambda _: self._lent(who, loan_id), refusals):
            return answer
        assert cents is not None and loan is not None and lender is not None
        lender.balance -= cents
        loan.funded += cents
        loan.account += cents
        loan.shares.setdefault(lender.name, Share(0)).amount += cents
        lender.keys[key] = Stored("lend", (loan_id, cents), {})
        if loan.funded == loan.amount:
            self.disburse(loan, now)
        return [self._lent(who, loan_id)]

    def _lent(self, who: str, loan_id: str) -> Outcome:
        lender, loan = self.lenders[who], self.loans[loan_id]
        return outcome(
            "LendSuccess", funded=loan.funded, remaining=loan.remaining, lender_count=len(loan.shares),
            status=loan.status, share=loan.shares[lender.name].amount, balance=lender.balance,
        )  # fmt: skip

    def disburse(self, loan: Loan, now: datetime) -> None:
        """The loan is full: FUNDED, and its money goes to the partner."""
        loan.status, loan.funded_at = "FUNDED", now
        self.partners[loan.partner].account += loan.account
        loan.account = 0

    def repay(self, who: str, loan_id: str, text: str, loss_text: str | None, key: str, now: datetime) -> list[Outcome]:
        cents, loss = cents_of(text), optional_cents(loss_text)
        loan = self.loans.get(loan_id)
        errors = []
        if cents is None or loss is None or loss > cents:
            errors.append(refusal("InvalidAmount"))
        if not valid_key(key):
            errors.append(refusal("InvalidInput", field="idempotencyKey"))
        if loan is None:
            errors.append(refusal("NotFound"))
        elif who != ADMIN and who != loan.partner:
            errors.append(refusal("Forbidden"))
        # Keys are the partner's: an admin acts for the loan's partner.
        scope = self.partners.get(loan.partner if loan else who)
        stored = scope.keys.get(key) if scope else None

        def refusals() -> list[Outcome]:
            if loan and loan.status not in REPAYABLE:
                return [refusal("LoanNotRepaying")]
            if loan and cents and cents > loan.amount - loan.repaid:
                return [refusal("ExceedsRemaining", remaining=loan.amount - loan.repaid)]
            return []

        payload = ("repay", (loan_id, cents, loss))
        if answer := self._keyed(errors, stored, payload, key, lambda s: self._repaid(loan_id, s), refusals):
            return answer
        assert cents is not None and loss is not None and loan is not None
        partner = self.partners[loan.partner]
        borne = lender_loss(loan.liability, cents, loss)
        names = list(loan.shares)
        shares = [loan.shares[name] for name in names]
        if loan.repaid + cents == loan.amount:  # the last repayment pays each share what it lacks
            parts = [s.amount - s.repaid for s in shares]
        else:
            parts = principal_parts(cents, shares)
        paid = [(name, share, part) for name, share, part in zip(names, shares, parts, strict=True) if part]
        lost = loss_parts(borne, [(share, part) for _, share, part in paid])
        for (name, share, part), part_lost in zip(paid, lost, strict=True):
            share.repaid += part
            share.loss += part_lost
            self.lenders[name].balance += part - part_lost
        partner.account -= cents
        self.world_account += borne
        loan.repaid += cents
        loan.status = "REPAID" if loan.repaid == loan.amount else "REPAYING"
        partner.keys[key] = Stored("repay", (loan_id, cents, loss), {"amount": cents, "credited": cents - borne})
        self.then("on_credit", list(loan.shares), now)
        return [self._repaid(loan_id, partner.keys[key])]

    def _repaid(self, loan_id: str, stored: Stored) -> Outcome:
        loan = self.loans[loan_id]
        return outcome(
            "PostRepaymentSuccess", ("amount", "credited"), amount=stored.result["amount"],
            credited=stored.result["credited"], status=loan.status, repaid=loan.repaid,
        )  # fmt: skip

    def mark_default(self, who: str, loan_id: str, now: datetime) -> list[Outcome]:
        loan = self.loans.get(loan_id)
        if loan is None:
            return [refusal("NotFound")]
        if who != ADMIN and who != loan.partner:
            return [refusal("Forbidden")]
        if loan.status not in REPAYABLE:
            return [refusal("LoanNotRepaying")]
        loan.status = "DEFAULTED"
        outstanding = loan.amount - loan.repaid
        self.partners[loan.partner].account -= outstanding
        self.world_account += outstanding
        return [outcome("MarkDefaultSuccess", ("status",), status=loan.status, repaid=loan.repaid)]

    def expire(self, now: datetime) -> list[Outcome]:
        """What the server's expiry sweep does: expire loans past their deadline, each in a transaction of
        its own in id order, refunding every share; then auto-lending for the lenders refunded."""
        due = sorted((loan for loan in self.loans.values() if loan.status == "FUNDRAISING" and loan.expires_at <= now),
                     key=lambda loan: loan.db_id)  # fmt: skip
        self.then("expire", [loan.gid for loan in due], now)
        return [outcome("Expired", ("loans",), loans=tuple(loan.gid for loan in due))]

    def _expire_one(self, loan: Loan) -> None:
        loan.status = "EXPIRED"
        for name, share in loan.shares.items():
            self.lenders[name].balance += share.amount
            loan.account -= share.amount

    def sweep(self, now: datetime) -> list[Outcome]:
        """What the periodic auto-lend sweep does: run every rule with a share's worth of credit."""
        ready = [
            lender.name for lender in self.lenders.values()
            if lender.rule and lender.rule.enabled and lender.balance - lender.rule.keep >= UNIT
        ]  # fmt: skip
        return [outcome("Swept", ("lent",), lent=autolending.on_credit(self, ready, now))]

    # -- auto-lending after a call ----------------------------------------------------------------

    def then(self, what: str, names: list[str], now: datetime) -> None:
        """Work set off by a call after it commits: `on_credit` for these lenders, `fund_loan` for this
        loan, or the expiry of these loans."""
        step = (what, tuple(names), now)
        if self.later is not None:
            self.later.append(step)
            return
        pending: list[FollowUp] = [step]
        while pending:
            pending = [*self.follow(pending[0]), *pending[1:]]

    def follow(self, step: FollowUp) -> tuple[FollowUp, ...]:
        """Run one transaction of that work; return the work it leaves to run next."""
        what, names, now = step
        if what == "expire":  # one loan a transaction, then auto-lending for every lender refunded
            pending = [gid for gid in names if self.loans[gid].status == "FUNDRAISING"]
            if pending:
                self._expire_one(self.loans[pending[0]])
                return (step,)
            refunded = {name for gid in names for name in self.loans[gid].shares}
            return (("on_credit", tuple(sorted(refunded, key=lambda name: self.lenders[name].db_id)), now),)
        if what == "on_credit":
            autolending.on_credit(self, list(names), now)
        else:
            autolending.fund_loan(self, self.loans[names[0]], now)
        return ()

    # -- keys ------------------------------------------------------------------------------------

    @staticmethod
    def _input_errors(cents: int | None, key: str) -> list[Outcome]:
        errors = [] if cents is not None else [refusal("InvalidAmount")]
        return errors + ([] if valid_key(key) else [refusal("InvalidInput", field="idempotencyKey")])

    @staticmethod
    def _keyed(
        errors: list[Outcome],
        stored: Stored | None,
        request: tuple[str, tuple[Any, ...]],
        key: str,
        replay: Callable[[Stored], Outcome],
        refusals: Callable[[], list[Outcome]],
    ) -> list[Outcome]:
        """The answers to a keyed money call other than a first success (empty: it succeeds).

        The same key and input as a stored success: that success, whatever happened since, and
        nothing moves. The same key with another input: IdempotencyConflict. Where a call is refused
        for more than one reason, the README does not say which comes first, so any of them may.
        """
        if stored is not None:
            if (stored.operation, stored.payload) == request and not errors:
                return [replay(stored)]
            return [*errors, refusal("IdempotencyConflict", key=key), *refusals()]
        return [*errors, *refusals()] if errors else refusals()


def lender_loss(liability: str, amount: int, loss: int) -> int:
    """The part of a repayment's currency loss that lenders bear (README, Currency loss)."""
    if liability == "LENDER":
        return loss
    if liability == "SHARED":
        return max(0, loss - amount * PARTNER_COVERED_PERCENT // 100)
    return 0
