"""The calls the machine makes: each sends one request (or runs one timer job) and says what the
model expects of it.

A call is plain data, so a replay is the same call sent again, and a replay with a different input
is a copy with one field changed. `send` returns what the API answered as an Outcome; `expect` asks
the model (and changes it on success) for the outcomes the API may answer with.
"""

import base64
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from graph.ids import encode_id
from lending import autolend
from lending.loans import expire_loans
from tests.model.world import ADMIN, Outcome, World, outcome

Post = Callable[[str, dict[str, Any], str | None], Awaitable[tuple[int, dict[str, Any]]]]
REFUSALS = "... on UserError { code } "
# The model's names for the fields of the answers (the nested ones flattened as `parent.field`).
RENAMED = {
    "lender.balance": "balance", "transaction.amount": "amount", "loan.fundedAmount": "funded",
    "loan.remainingAmount": "remaining", "loan.lenderCount": "lender_count", "loan.status": "status",
    "share.amount": "share", "lendersCredited": "credited", "loan.repaidAmount": "repaid", "loan.amount": "amount",
    "rule.enabled": "enabled", "rule.amountPerLoan": "amount", "rule.keepBalance": "keep",
}  # fmt: skip
MONEY = {"balance", "amount", "needed", "available", "remaining", "funded", "share", "credited", "repaid", "keep"}


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def answer(status: int, body: dict[str, Any], name: str) -> Outcome:
    """The Outcome of a mutation's response: its type and fields, money in cents."""
    if status != 200 or body.get("errors"):
        error = (body.get("errors") or [{}])[0]
        code = (error.get("extensions") or {}).get("code")
        if code == "INVALID_AMOUNT":  # refused by the Decimal scalar before the resolver ran: the same refusal
            return outcome("InvalidAmount")
        return outcome(f"HTTP {status} error", message=error.get("message"), code=code)
    result = body["data"][name]
    fields: dict[str, Any] = {}
    for key, value in result.items():
        if key in ("__typename", "code", "token", "id"):
            continue
        if isinstance(value, dict):
            fields |= {f"{key}.{k}": v for k, v in value.items() if k != "id"}
        else:
            fields[key] = value
    clean = {RENAMED.get(k, k): v for k, v in fields.items()}
    clean = {k: cents(v) if k in MONEY and isinstance(v, str) else v for k, v in clean.items()}
    return outcome(result["__typename"], **clean)


def db_id(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


@dataclasses.dataclass(frozen=True)
class Call:
    """One step of the machine. `who` names a lender, a partner, or `admin`."""

    def describe(self) -> str:
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({values})"

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        raise NotImplementedError

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        raise NotImplementedError


def token_of(world: World, who: str) -> str:
    if who == ADMIN:
        return world.admin_token
    return world.lenders[who].token if who in world.lenders else world.partners[who].token


async def mutate(
    post: Post, world: World, who: str | None, name: str, kind: str, selection: str, input: Any
) -> Outcome:
    """Send one mutation with `input` as `who`; its Outcome."""
    query = f"mutation($input: {kind}!) {{ {name}(input: $input) {{ __typename {REFUSALS} {selection} }} }}"
    status, body = await post(query, {"input": input}, token_of(world, who) if who else None)
    return answer(status, body, name)


@dataclasses.dataclass(frozen=True)
class Register(Call):
    name: str
    email: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        query = """mutation($input: RegisterLenderInput!) { registerLender(input: $input) {
            __typename ... on UserError { code } ... on RegisterLenderSuccess { lender { id } token } } }"""
        status, body = await post(query, {"input": {"displayName": self.name, "email": self.email}}, None)
        got = answer(status, body, "registerLender")
        if got.typename == "RegisterLenderSuccess":
            made = body["data"]["registerLender"]
            return dataclasses.replace(got, ids=(made["lender"]["id"], made["token"]))
        return got

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        created = (got.ids[0], db_id(got.ids[0]), got.ids[1]) if got.ids else None
        return world.register(self.name, self.email, created)


@dataclasses.dataclass(frozen=True)
class Deposit(Call):
    who: str
    amount: str
    key: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        selection = "... on IdempotencyConflict { key } ... on InvalidInput { field } "
        selection += "... on DepositSuccess { lender { balance } transaction { amount } }"
        return await mutate(post, world, self.who, "deposit", "DepositInput", selection, self.input())

    def input(self) -> dict[str, Any]:
        return {"amount": self.amount, "idempotencyKey": self.key}

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.deposit(self.who, self.amount, self.key, now)


@dataclasses.dataclass(frozen=True)
class Withdraw(Deposit):
    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        selection = "... on IdempotencyConflict { key } ... on InvalidInput { field } "
        selection += "... on InsufficientCredit { needed available } "
        selection += "... on WithdrawSuccess { lender { balance } transaction { amount } }"
        return await mutate(post, world, self.who, "withdraw", "WithdrawInput", selection, self.input())

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.withdraw(self.who, self.amount, self.key, now)


@dataclasses.dataclass(frozen=True)
class Lend(Call):
    who: str
    loan: str
    amount: str
    key: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        selection = """... on IdempotencyConflict { key } ... on InvalidInput { field }
            ... on InsufficientCredit { needed available } ... on ExceedsRemaining { remaining }
            ... on LendSuccess { loan { fundedAmount remainingAmount lenderCount status } share { amount }
                                 lender { balance } }"""
        data = {"loanId": self.loan, "amount": self.amount, "idempotencyKey": self.key}
        return await mutate(post, world, self.who, "lend", "LendInput", selection, data)

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.lend(self.who, self.loan, self.amount, self.key, now)


@dataclasses.dataclass(frozen=True)
class ListLoan(Call):
    who: str
    amount: str
    country: str
    sector: str
    gender: str
    term: int
    liability: str
    expires_in: timedelta | None

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        data = {
            "name": "Amina", "use": "to buy fabric for her tailoring shop", "countryIsoCode": self.country,
            "sector": self.sector, "gender": self.gender, "amount": self.amount, "termMonths": self.term,
            "currencyLossLiability": self.liability,
        }  # fmt: skip
        if self.expires_in is not None:
            data["expiresAt"] = (now + self.expires_in).isoformat()
        selection = "... on InvalidInput { field } ... on ListLoanSuccess { loan { id amount fundedAmount status } }"
        status, body = await post(
            f"mutation($input: ListLoanInput!) {{ listLoan(input: $input) {{ __typename {REFUSALS} {selection} }} }}",
            {"input": data},
            token_of(world, self.who),
        )
        got = answer(status, body, "listLoan")
        if got.typename == "ListLoanSuccess":
            return dataclasses.replace(got, ids=(body["data"]["listLoan"]["loan"]["id"],))
        return got

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        spec = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return world.list_loan(self.who, spec, now, (got.ids[0], db_id(got.ids[0])) if got.ids else None)


@dataclasses.dataclass(frozen=True)
class Repay(Call):
    who: str
    loan: str
    amount: str
    loss: str | None
    key: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        data = {"loanId": self.loan, "amount": self.amount, "idempotencyKey": self.key}
        if self.loss is not None:
            data["currencyLoss"] = self.loss
        selection = """... on IdempotencyConflict { key } ... on InvalidInput { field }
            ... on ExceedsRemaining { remaining }
            ... on PostRepaymentSuccess { amount lendersCredited loan { status repaidAmount } }"""
        return await mutate(post, world, self.who, "postRepayment", "PostRepaymentInput", selection, data)

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.repay(self.who, self.loan, self.amount, self.loss, self.key, now)


@dataclasses.dataclass(frozen=True)
class MarkDefault(Call):
    who: str
    loan: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        selection = "... on InvalidInput { field } ... on MarkDefaultSuccess { loan { status repaidAmount } }"
        return await mutate(post, world, self.who, "markDefault", "MarkDefaultInput", selection, {"loanId": self.loan})

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.mark_default(self.who, self.loan, now)


@dataclasses.dataclass(frozen=True)
class SetRule(Call):
    who: str
    enabled: bool
    countries: tuple[str, ...]
    sectors: tuple[str, ...]
    genders: tuple[str, ...]
    amount: str
    keep: str

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        criteria = {"countries": list(self.countries), "sectors": list(self.sectors), "genders": list(self.genders)}
        data = {"enabled": self.enabled, "criteria": criteria, "amountPerLoan": self.amount, "keepBalance": self.keep}
        selection = "... on InvalidInput { field } "
        selection += "... on AutoLendRuleSuccess { rule { enabled amountPerLoan keepBalance } }"
        return await mutate(post, world, self.who, "setAutoLendRule", "AutoLendRuleInput", selection, data)

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        spec = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "who"}
        return world.set_rule(self.who, spec, now)


@dataclasses.dataclass(frozen=True)
class Expire(Call):
    """The server's expiry timer, run when the machine says: `expire_loans(clock())` as graph/app.py calls it."""

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        expired = await expire_loans(now)
        return outcome("Expired", loans=tuple(encode_id("Loan", loan_id) for loan_id in sorted(expired)))

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.expire(now)


@dataclasses.dataclass(frozen=True)
class Sweep(Call):
    """The auto-lend sweep timer: `autolend.sweep(clock())` as graph/app.py calls it."""

    async def send(self, post: Post, world: World, now: datetime) -> Outcome:
        return outcome("Swept", lent=await autolend.sweep(now))

    def expect(self, world: World, now: datetime, got: Outcome) -> list[Outcome]:
        return world.sweep(now)


@dataclasses.dataclass(frozen=True)
class Advance(Call):
    """Time passes: the machine moves its FakeClock (no request)."""

    days: int
    hours: int
