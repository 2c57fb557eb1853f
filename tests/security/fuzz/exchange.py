"""Sending one fuzzed request and judging its answer; the masked errors' log that failures quote."""

import json
import logging
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import event
from hypothesis.control import currently_in_test_context

from graph.settings import Settings
from lending.ledger import check_books
from tests.security.fuzz.plans import PLANS, document, result_types
from tests.security.fuzz.values import RawJSON
from tests.security.fuzz.world import World

MAX_BODY_BYTES = Settings().max_body_bytes


def encode(body: Any) -> bytes:
    """The request body: JSON with NaN/Infinity allowed, lone surrogates escaped, RawJSON spliced in."""
    raw: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, RawJSON):
            marker = f"@@raw-{uuid.uuid4().hex}@@"
            raw[json.dumps(marker)] = str(value)
            return marker
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body))  # ensure_ascii: "\ud800" travels escaped, as any client may send it
    for marker, value in raw.items():
        text = text.replace(marker, value)
    return text.encode()


class ErrorLog(logging.Filter):
    """The `lendgraph.errors` records, each masked error's id with its traceback, kept here only.

    A filter on the logger, so that the records reach no handler: hypothesis replays a failure
    hundreds of times while shrinking, and pytest would print every traceback of every replay.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    def traceback_of(self, error_id: str) -> str:
        for record in self.records:
            if error_id in record.getMessage() and record.exc_info:
                return key_lines(record.exc_info[1])
        return "(no log record for this error id)"


def key_lines(error: BaseException) -> str:
    """The traceback's last frames in lendgraph's own code, and the exception."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename and "/tests/" not in f.filename] or frames[-1:]
    shown = traceback.format_list(own[-3:] + ([frames[-1]] if frames and frames[-1] not in own[-3:] else []))
    return "".join(shown) + "".join(traceback.format_exception_only(error))


@dataclass
class Exchange:
    mutation: str
    caller: str | None
    variables: Any
    status: int = 0
    body: Any = None
    size: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        variables = repr(self.variables)
        shown = variables if len(variables) < 1500 else variables[:1500] + f"... ({len(variables)} chars)"
        body = json.dumps(self.body, default=str)[:2000] if not isinstance(self.body, str) else self.body[:2000]
        return f"{self.mutation} as {self.caller}: variables={shown}\n  -> HTTP {self.status}: {body}"


async def send(world: World, mutation: str, caller: str | None, variables: Any) -> Exchange:
    token = world.tokens[caller]
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = token if caller == "not_bearer" else f"Bearer {token}"
    content = encode({"query": document(mutation), "variables": variables})
    exchange = Exchange(mutation, caller, variables, size=len(content))
    try:
        response = await world.api.http.post("/graphql", content=content, headers=headers)
    except Exception as error:  # the in-process transport re-raises what the app let escape: a client gets a 500
        raise AssertionError(f"HTTP 500, the app raised {error!r}\n{exchange}\n{key_lines(error)}") from error
    exchange.status = response.status_code
    try:
        exchange.body = response.json()
    except ValueError:
        exchange.body = response.text
    return exchange


def judge(exchange: Exchange, errors_log: ErrorLog) -> str:
    """Check one response; return what it was: a refusal, a typed error or a success."""
    status, body = exchange.status, exchange.body
    if exchange.size > MAX_BODY_BYTES:
        assert status == 413, f"a body over the limit must get 413\n{exchange}"
        return "too large"
    assert status in (200, 400), f"HTTP {status}: must be 200 or 400\n{exchange}"
    if not isinstance(body, dict):
        assert status == 400, f"a 200 must carry a GraphQL response\n{exchange}"
        return "refused"  # a body strawberry could not read as a GraphQL request
    errors = body.get("errors") or []
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "INTERNAL" or error.get("message") == "Internal error":
            where = errors_log.traceback_of(str(extensions.get("errorId")))
            raise AssertionError(
                f"an unexpected exception (masked as Internal error)\n{exchange}\nserver log:\n{where}"
            )
        assert not error.get("path"), (
            f"an untyped error from a resolver: expected a UserError in the payload\n{exchange}"
        )
    if errors or status == 400:
        assert body.get("data") is None, f"a refused request must have no data\n{exchange}"
        assert errors, f"a refusal must say why\n{exchange}"
        return "refused"
    result = (body.get("data") or {}).get("result")
    assert isinstance(result, dict), f"no errors, so the payload must hold the result\n{exchange}"
    success, typed = result_types(exchange.mutation)
    typename = result.get("__typename")
    assert typename in success | typed, f"{typename} is neither {success} nor a UserError of {typed}\n{exchange}"
    if typename in typed:
        assert isinstance(result.get("code"), str) and result["code"], f"a UserError without a code\n{exchange}"
        assert isinstance(result.get("message"), str) and result["message"].strip(), (
            f"a UserError without a message\n{exchange}"
        )
        return typename
    return "success"


async def fuzz_one(world: World, errors_log: ErrorLog, mutation: str, variables: Any, callers: list) -> list[str]:
    """Send one input as each caller; judge every answer; then the books must balance."""
    seen = []
    for caller in callers:
        exchange = await send(world, mutation, caller, variables)
        seen.append(judge(exchange, errors_log))
        if currently_in_test_context():  # hypothesis statistics (--hypothesis-show-statistics)
            event(f"{'may call' if caller in PLANS[mutation].callers else 'may not'}: {seen[-1]}")
        books = await check_books()
        assert books.ok, f"the books do not balance after\n{exchange}\n{books.problems}"
    await world.reissue_revoked_tokens()
    return seen
