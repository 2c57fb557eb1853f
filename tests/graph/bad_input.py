"""The table of bad input (test_bad_input.py, test_bad_partner_input.py): what must come back, one row per
case, and one bad request sent, its answer checked and the database proven unchanged."""

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from strawberry.relay import GlobalID

from tests.api import Api
from tests.snapshot import changes, snapshot

# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Typed:
    """A typed error in the mutation's payload."""

    typename: str
    code: str
    field: str | None = None  # InvalidInput.field
    says: str = ""  # part of the message (case-insensitive)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more fields of the error type


@dataclass(frozen=True)
class Refused:
    """GraphQL refuses the variables: no data, one error naming the input path and the reason."""

    path: str  # ".amount"; "" when the input object as a whole is wrong
    says: str  # the start of the reason
    code: str | None = None  # extensions.code, when the refusal has one

    @property
    def message(self) -> str:
        return f"Variable '$input' has invalid value{' at ' + self.path if self.path else ''}: {self.says}"


def bad_amount(says: str = "") -> Typed:
    return Typed("InvalidAmount", "INVALID_AMOUNT", says=says)


def invalid(field: str, says: str = "") -> Typed:
    return Typed("InvalidInput", "INVALID_INPUT", field=field, says=says)


def not_a_decimal(value: Any, path: str = ".amount") -> Refused:
    """The Decimal scalar's refusal: ASCII digits, an optional point and at most two decimals, or nothing."""
    shown = f"{value!r} (a number) is not a string" if isinstance(value, (int, float)) else repr(value)
    return Refused(path, f"Not a Decimal: {shown}. A Decimal is a string of ASCII digits", code="INVALID_AMOUNT")


def null(path: str, type_: str) -> Refused:
    return Refused(path, f"Expected value of non-null type '{type_}' not to be None.")


def insufficient(needed: str, available: str) -> Typed:
    return Typed("InsufficientCredit", "INSUFFICIENT_CREDIT", extra={"needed": needed, "available": available})


def exceeds(remaining: str) -> Typed:
    return Typed("ExceedsRemaining", "EXCEEDS_REMAINING", extra={"remaining": remaining})


def not_fundraising(**details: Any) -> Typed:
    return Typed("LoanNotFundraising", "LOAN_NOT_FUNDRAISING", **details)


def not_repaying(status: str) -> Typed:
    return Typed("LoanNotRepaying", "LOAN_NOT_REPAYING", extra={"status": status})


FORBIDDEN = Typed("Forbidden", "FORBIDDEN")
NOT_FOUND = Typed("NotFound", "NOT_FOUND")
CONFLICT = Typed("IdempotencyConflict", "IDEMPOTENCY_CONFLICT", extra={"key": "used-key"})
EMAIL_TAKEN = Typed("EmailTaken", "EMAIL_TAKEN", says="already exists")
POSITIVE = bad_amount("positive")
MULTIPLE = bad_amount("multiple of 25.00")

# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Ref:
    """A value known only once the world is arranged (an id, say)."""

    name: str


def case(id: str, expect: Typed | Refused, *, as_: str | None = "lender", **fields: Any):
    """One bad request: `fields` override the valid input; `as_` names the token sent (None: none)."""
    return pytest.param(fields, as_, expect, id=id)


def resolve(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return world[value.name]
    if isinstance(value, dict):
        return {k: resolve(v, world) for k, v in value.items()}
    return value


def loan_gid(node_id: str) -> str:
    return str(GlobalID("Loan", node_id))


BOGUS_TOKEN = "lg_" + "x" * 43  # shaped like a token, but never issued
HUGE = "1" + "0" * 30  # more digits than Decimal's default precision (28)
HUGE_WITH_DECIMALS = "1" + "0" * 26 + ".001"
UNKNOWN_LOAN = loan_gid("999999")


def document(field: str, input_type: str, extra: str = "") -> str:
    return f"""mutation($input: {input_type}!) {{ result: {field}(input: $input) {{
        __typename ... on UserError {{ code message }} ... on InvalidInput {{ field }} {extra} }} }}"""


async def attempt(
    api: Api, query: str, base: dict, fields: dict, as_: str | None, expect: Typed | Refused, world: dict
) -> None:
    """Send the bad request; check the answer; prove the database unchanged."""
    variables = {"input": resolve(base | fields, world)}
    token = world["tokens"][as_] if as_ else None
    before = await snapshot()
    body = await api.post(query, variables, token)
    after = await snapshot()
    try:
        check_answer(body, expect)
    except AssertionError as wrong:
        if after != before:  # say both: the wrong answer and what it changed
            raise AssertionError(f"{wrong}\n{changes(before, after)}") from None
        raise
    assert after == before, changes(before, after)


def check_answer(body: dict, expect: Typed | Refused) -> None:
    if isinstance(expect, Refused):
        assert body.get("data") is None, body
        assert [e["message"][: len(expect.message)] for e in body.get("errors", [])] == [expect.message], body
        if expect.code is not None:
            assert [(e.get("extensions") or {}).get("code") for e in body["errors"]] == [expect.code], body
        return
    assert not body.get("errors"), body["errors"]
    result = body["data"]["result"]
    assert result["__typename"] == expect.typename, result
    assert result["code"] == expect.code, result
    assert result["message"].strip(), result
    assert expect.says.lower() in result["message"].lower(), result
    if expect.field is not None:
        assert result["field"] == expect.field, result
    for name, value in expect.extra.items():
        assert result[name] == value, result


async def seen(api: Api, token: str) -> None:
    """A lender's first authenticated request records last_seen_at; make it before the snapshot."""
    await api.data("{ me { id } }", token=token)
