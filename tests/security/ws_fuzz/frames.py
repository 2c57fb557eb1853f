"""Frames of a conversation, and the documents its operations carry."""

import json
from dataclasses import dataclass
from typing import Any

TOKEN = "<the lender's token>"  # replaced by the real token when sent


UNREADABLE = object()  # text that is not JSON Python can read
BINARY = object()


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    message: Any  # the JSON value sent, UNREADABLE or BINARY

    def __repr__(self) -> str:
        shown = repr(self.data)
        return f"Frame({shown[:200]}{'...' if len(shown) > 200 else ''})"

    def wire(self, token: str) -> str | bytes:
        return self.data.replace(TOKEN, token) if isinstance(self.data, str) else self.data


def text(message: Any) -> Frame:
    """A text frame holding `message` as JSON (lone surrogates escaped, as any client may send them)."""
    return Frame(json.dumps(message), message)


def raw(data: str) -> Frame:
    try:
        return Frame(data, json.loads(data))
    except (ValueError, RecursionError):
        return Frame(data, UNREADABLE)


def binary(data: bytes) -> Frame:
    return Frame(data, BINARY)


QUICK, LONG, LONG_IF_SIGNED_IN = "quick", "long", "long if signed in"
TWO_OPERATIONS = "query A { __typename } subscription B { loanListed { loan { name } } }"

# name: (query, operationName, how long it runs once started)
DOCUMENTS = {
    "typename": ("{ __typename }", None, QUICK),
    "loans": ("query($n: Int) { loans(first: $n) { totalCount } }", None, QUICK),
    "listings": ("subscription { loanListed { loan { name } } }", None, LONG),
    "my events": ("subscription { myEvents { __typename } }", None, LONG_IF_SIGNED_IN),  # anonymous: refused
    "deposit": ('mutation { deposit(input: {amount: "1.00", idempotencyKey: "fuzz"}) { __typename } }', None, QUICK),
    "syntax error": ("{ ", None, QUICK),
    "empty": ("", None, QUICK),
    "blank": (" \n\t", None, QUICK),
    "too many tokens": ("{ " + "__typename " * 2100 + "}", None, QUICK),
    "unknown field": ("{ nope }", None, QUICK),
    "unknown operation": ("query A { __typename }", "B", QUICK),
    "two operations, none named": (TWO_OPERATIONS, None, QUICK),
    "two operations, one named": (TWO_OPERATIONS, "B", LONG),
    "fragments only": ("fragment F on Query { __typename }", None, QUICK),
    "node of Loan:abc": ('{ node(id: "TG9hbjphYmM=") { id } }', None, QUICK),
    "loan progress of Loan:1e3": ('subscription { loanProgress(loanId: "TG9hbjoxZTM=") { eventId } }', None, QUICK),
    "too deep": ("{ " + "loans { edges { node { partner { " * 4 + "id" + " }" * 16 + " }", None, QUICK),
}  # fmt: skip
