"""What the machine sends: each `build_*` draws one call from the model's current state.

Every draw has the same range whatever the model holds (an item is picked by an index taken modulo
the number of items), and which draws are made depends only on earlier draws, never on the model:
on PostgreSQL the model after a group of concurrent calls depends on the order the database chose,
and hypothesis must still be able to replay and shrink the same draws.
"""

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from hypothesis import strategies as st

from graph.ids import encode_id
from tests.model.calls import (
    Advance,
    Call,
    Deposit,
    Expire,
    Lend,
    ListLoan,
    MarkDefault,
    Register,
    Repay,
    SetRule,
    Sweep,
    Withdraw,
)
from tests.model.state import UNIT
from tests.model.world import ADMIN, World
from tests.model.world import cents_of as valid_cents

T = TypeVar("T")
Builder = Callable[[st.DataObject], Call | None]

SECTORS = ("AGRICULTURE", "CLOTHING", "FOOD")
GENDERS = ("FEMALE", "MALE", "MIXED_GROUP")
LIABILITIES = ("NONE", "SHARED", "LENDER")
# Amounts the README refuses: not positive, more than two places, over the limit, or not a plain
# ASCII decimal at all (underscores, exponents, spaces and full-width digits that Decimal() accepts).
BAD_AMOUNTS: tuple[str, ...] = ("0", "0.00", "-25.00", "25.001", "25.", "abc", "", "1000000.01", "NaN", "1e3")
BAD_AMOUNTS += ("25_00", " 25.00", "\uff12\uff15.00")  # the last is a full-width "25.00"
BAD_KEYS = ("", "x" * 101, "ключ", "tab\tkey")
NO_SUCH_LOAN = encode_id("Loan", 999_999)
MAX_LENDERS, MAX_LOANS = 4, 12
SPAN = 1 << 16  # every index is drawn from range(SPAN)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cents_of(text: str) -> int:
    """The cents of an amount a call was accepted with."""
    found = valid_cents(text)
    assert found is not None, text
    return found


def pick(data: st.DataObject, items: Sequence[T], label: str) -> T:
    """One of `items` (not empty); repeat an item to draw it more often; the first shrinks best."""
    return items[data.draw(st.integers(0, SPAN - 1), label=label) % len(items)]


def number(data: st.DataObject, low: int, high: int, label: str) -> int:
    return low + data.draw(st.integers(0, SPAN * SPAN), label=label) % (high - low + 1)


class Choices:
    world: World
    history: list[Call]  # money calls that succeeded, for replays
    failed_keys: dict[str, list[str]]  # keys of refused calls, free again, by caller
    numbers: "itertools.count[int]"

    def builders(self) -> list[Builder]:
        """What may be sent now, each as often as it should be drawn (the first shrinks best)."""
        found: list[Builder] = []
        credit = any(lender.balance >= UNIT for lender in self.world.lenders.values())
        repayable = any(loan.status in ("FUNDED", "REPAYING") for loan in self.world.loans.values())
        if self.world.loans:
            found += [self.build_lend] * (5 if credit else 1) + [self.build_repay] * (5 if repayable else 1)
        found += [self.build_deposit] * 5 + [self.build_withdraw] * 2 + [self.build_rule] * 2
        if len(self.world.loans) < MAX_LOANS:
            found += [self.build_list] * 3
        if self.history:
            found += [self.build_replay] * 2 + [self.build_conflict]
        found += [self.build_advance] * 2 + [lambda data: Expire(), lambda data: Sweep()]
        if self.world.loans:
            found.append(self.build_default)
        if len(self.world.lenders) < MAX_LENDERS:
            found.append(self.build_register)
        return found

    # -- parts of a call -------------------------------------------------------------------------

    def key(self, data: st.DataObject, who: str) -> str:
        """A fresh key; now and then a refused call's key (free again) or a key the API must refuse."""
        choice = number(data, 0, 19, "key choice")
        bad = pick(data, BAD_KEYS, "bad key")
        again = pick(data, self.failed_keys.get(who) or [""], "key of a refused call")
        if choice == 19:
            return bad
        if choice >= 16 and again:
            return again
        return f"k{next(self.numbers)}"

    def amount(self, data: st.DataObject, choices: Sequence[int]) -> tuple[str, int]:
        """One of `choices` (cents) in one of its spellings, and its cents; now and then a bad amount."""
        bad = number(data, 0, 11, "bad amount?") == 11
        bad_text = pick(data, BAD_AMOUNTS, "bad amount")
        cents = pick(data, [c for c in choices if c > 0] or [1], "cents")
        spellings = [money(cents)]
        if cents % 100 == 0:
            spellings.append(str(cents // 100))
        elif cents % 10 == 0:
            spellings.append(f"{cents // 100}.{cents % 100 // 10}")
        spelling = pick(data, spellings, "spelling")
        return (bad_text, 100) if bad else (spelling, cents)

    def lender(self, data: st.DataObject, credit: int = 0) -> str:
        """A lender, mostly one with at least `credit`; now and then a partner, who may not do this."""
        partner = number(data, 0, 14, "a partner instead?") == 14
        someone = pick(data, sorted(self.world.partners), "partner")
        rich = sorted(name for name, lender in self.world.lenders.items() if lender.balance >= credit)
        with_credit = number(data, 0, 3, "with credit?") < 3
        anyone = sorted(self.world.lenders)
        found = pick(data, rich if rich and with_credit else anyone, "lender")
        return someone if partner else found

    def loan(self, data: st.DataObject, statuses: tuple[str, ...]) -> str:
        """A loan, mostly one with one of these statuses; now and then one that does not exist."""
        loans = sorted(self.world.loans) or [NO_SUCH_LOAN]
        preferred = sorted(gid for gid, loan in self.world.loans.items() if loan.status in statuses) or loans
        choice = pick(data, ["preferred"] * 6 + ["any", "any", "missing"], "which loan")
        return {"preferred": pick(data, preferred, "loan"), "any": pick(data, loans, "any loan")}.get(
            choice, NO_SUCH_LOAN
        )

    # -- calls -----------------------------------------------------------------------------------

    def build_register(self, data: st.DataObject) -> Call | None:
        number_ = next(self.numbers)
        taken = number(data, 0, 5, "a taken email?") == 5
        email = pick(data, sorted(self.world.emails) or ["nobody@example.org"], "taken email")
        if len(self.world.lenders) >= MAX_LENDERS:
            return None
        return Register(f"Lender{number_}", email if taken else f"lender{number_}@example.org")

    def build_deposit(self, data: st.DataObject) -> Call | None:
        who = self.lender(data)
        drawn = number(data, 1, 60_000, "deposit cents")
        return Deposit(who, self.amount(data, [5000, 10_000, 25_000, 50_000, drawn])[0], self.key(data, who))

    def build_withdraw(self, data: st.DataObject) -> Call | None:
        who = self.lender(data, credit=1)
        balance = self.world.lenders[who].balance if who in self.world.lenders else 0
        drawn = number(data, 1, 1 << 24, "withdraw cents") % (balance + 100) + 1
        return Withdraw(who, self.amount(data, [balance, balance + 1, drawn])[0], self.key(data, who))

    def build_lend(self, data: st.DataObject) -> Call | None:
        who = self.lender(data, credit=UNIT)
        loan_id = self.loan(data, ("FUNDRAISING",))
        loan = self.world.loans.get(loan_id)
        remaining = loan.remaining if loan else UNIT
        credit = self.world.lenders[who].balance // UNIT * UNIT if who in self.world.lenders else UNIT
        how = pick(data, ["fill"] * 4 + ["unit", "unit", "over", "off-unit", "other"], "how much")
        other = self.amount(data, [remaining, 2 * UNIT, 3 * UNIT])[0]
        key = self.key(data, who)
        if how == "off-unit":
            return Lend(who, loan_id, "30.00", key)
        if how == "other":
            return Lend(who, loan_id, other, key)
        cents = {"fill": min(remaining, credit) or UNIT, "unit": UNIT, "over": remaining + UNIT}[how]
        return Lend(who, loan_id, money(cents), key)

    def build_list(self, data: st.DataObject) -> Call | None:
        who = pick(data, sorted(self.world.partners), "partner")
        listing = ListLoan(
            who,
            self.amount(data, [10_000, 15_000, 25_000, 50_000])[0],
            self.world.partners[who].country,
            pick(data, SECTORS, "sector"),
            pick(data, GENDERS, "gender"),
            pick(data, [12, 3, 1], "term"),
            pick(data, LIABILITIES, "liability"),
            pick(data, [None, timedelta(days=2), timedelta(days=60)], "expires in"),
        )
        wrong = number(data, 0, 29, "listing mistake")
        bad_term = pick(data, [0, 121], "bad term")
        bad_expiry = pick(data, [timedelta(0), timedelta(days=-1), timedelta(days=91)], "bad expiry")
        if len(self.world.loans) >= MAX_LOANS:
            return None
        if wrong == 29:
            return dataclasses.replace(listing, country="UG" if listing.country == "KE" else "KE")
        if wrong == 28:
            return dataclasses.replace(listing, term=bad_term)
        if wrong == 27:
            return dataclasses.replace(listing, expires_in=bad_expiry)
        return listing

    def build_repay(self, data: st.DataObject) -> Call | None:
        loan_id = self.loan(data, ("FUNDED", "REPAYING"))
        loan = self.world.loans.get(loan_id)
        owner = loan.partner if loan else "Juhudi"
        who = pick(data, [owner] * 16 + sorted(self.world.partners) + sorted(self.world.lenders), "who repays")
        outstanding = max(1, loan.amount - loan.repaid) if loan else 100
        instalment = loan.amount // loan.term if loan else 100
        drawn = number(data, 1, 1 << 24, "repay cents") % outstanding + 1
        amount, paid = self.amount(data, [outstanding, outstanding + 1, instalment, drawn, 1])
        losses = [None, None, None, "0.00", money(max(1, paid // 7)), money(paid), money(paid + 1)]
        return Repay(who, loan_id, amount, pick(data, losses, "currency loss"), self.key(data, owner))

    def build_default(self, data: st.DataObject) -> Call | None:
        loan_id = self.loan(data, ("FUNDED", "REPAYING"))
        loan = self.world.loans.get(loan_id)
        owner = loan.partner if loan else "Juhudi"
        return MarkDefault(pick(data, [owner, owner, owner, ADMIN, *sorted(self.world.partners)], "who"), loan_id)

    def build_rule(self, data: st.DataObject) -> Call | None:
        """A rule on countries, sectors or genders (or any loan), or a rule switched off."""
        who = self.lender(data)
        kind = pick(data, ["any", "countries", "sectors", "genders"], "criteria")
        pools = {"countries": ("KE", "UG"), "sectors": SECTORS, "genders": GENDERS, "any": ("",)}
        chosen = tuple(sorted(data.draw(st.sets(st.sampled_from(pools[kind]), min_size=1), label=kind)))
        criteria = {name: chosen if name == kind else () for name in ("countries", "sectors", "genders")}
        return SetRule(
            who,
            pick(data, [True, True, True, False], "enabled"),
            criteria["countries"],
            criteria["sectors"],
            criteria["genders"],
            pick(data, ["25.00", "50.00", "75.00", "30.00"], "amount per loan"),
            pick(data, ["0.00", "0.00", "25.00", "40.50", "-1.00"], "keep"),
        )

    def build_advance(self, data: st.DataObject) -> Call | None:
        return Advance(pick(data, [1, 0, 2, 10, 31], "days"), pick(data, [0, 1, 13], "hours"))

    def build_replay(self, data: st.DataObject) -> Call | None:
        """An earlier successful money call again, with its key and the same input."""
        return pick(data, self.history or [None], "replay")

    def build_conflict(self, data: st.DataObject) -> Call | None:
        """An earlier successful money call's key with a different input."""
        call = pick(data, self.history or [None], "replay with another input")
        how = number(data, 0, 1, "change")
        other = pick(data, sorted(self.world.loans) or [NO_SUCH_LOAN], "other loan")
        if isinstance(call, Deposit):  # Withdraw too
            if how:
                return type(call)(call.who, money(cents_of(call.amount) + 100), call.key)
            return (Deposit if isinstance(call, Withdraw) else Withdraw)(call.who, call.amount, call.key)
        if isinstance(call, Lend):
            if how and other != call.loan:
                return Lend(call.who, other, call.amount, call.key)
            return Lend(call.who, call.loan, money(cents_of(call.amount) + UNIT), call.key)
        if isinstance(call, Repay):
            if how:
                return Repay(call.who, call.loan, call.amount, money(1) if call.loss is None else None, call.key)
            return Repay(call.who, call.loan, money(cents_of(call.amount) + 1), call.loss, call.key)
        return None
