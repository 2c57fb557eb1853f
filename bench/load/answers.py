"""What an answer was, in the load report's words: a success, a typed answer, or an untyped error.

Every outcome is a string whose first word is its class:
- `ok`: the operation did what it asked;
- `refused <Type>`: a typed user error of the mutation's result union (ExceedsRemaining when a loan
  filled meanwhile, InsufficientCredit, ...): the API working as documented;
- `limited RATE_LIMITED`: HTTP 429 or a RATE_LIMITED error (README, Security);
- `typed <CODE> (<status>)`: another top-level error with a code (UNAVAILABLE with 503, QUERY_TIMEOUT);
- `untyped ...`: anything a client cannot read as the API's contract: a connection that failed or
  timed out, no answer at all by the end of the run (the client waits 30 s after it), a body that is
  not GraphQL JSON, an error without a code, an INTERNAL error, an unexpected HTTP status. A load run
  fails when it sees one.
"""

import json
from typing import Any

OK = "ok"
TIMEOUT = "untyped timeout"
UNANSWERED = "untyped no answer by the end of the run"
CLASSES = ("ok", "refused", "limited", "typed", "untyped")
RETRYABLE = {"typed UNAVAILABLE (503)"}  # the server says nothing ran: send it again, same key


def outcome_class(outcome: str) -> str:
    return outcome.split(" ", 1)[0]


def transport(error: BaseException) -> str:
    return f"untyped transport {type(error).__name__}"


def read(status: int, body: bytes, field: str) -> tuple[str, dict[str, Any] | None]:
    """The outcome of one HTTP answer, and its `data` when the operation succeeded."""
    try:
        answer = json.loads(body)
    except ValueError:
        return f"untyped HTTP {status}, not JSON", None
    if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
        return f"untyped HTTP {status}, not GraphQL", None
    errors = answer.get("errors")
    if errors:
        code = (errors[0].get("extensions") or {}).get("code")
        if code == "RATE_LIMITED" or status == 429:
            return "limited RATE_LIMITED", None
        if not code or code == "INTERNAL":
            return f"untyped {code or 'error without a code'} ({status})", None
        return f"typed {code} ({status})", None
    if status != 200:
        return f"untyped HTTP {status} without errors", None
    data = answer.get("data") or {}
    result = data.get(field)
    typename = result.get("__typename", "") if isinstance(result, dict) else ""
    if typename and not typename.endswith("Success"):
        return f"refused {typename}", data
    return OK, data
