"""The Decimal scalar: money and star ratings as decimal strings, and nothing else.

It replaces strawberry's built-in Decimal (graph/schema.py, `scalar_overrides`) under the same
public name. The built-in parses with Python's Decimal(), which also reads "25_00" (2500),
25 in Arabic-Indic or fullwidth digits (U+0662 U+0665, U+FF12 U+FF15), exponents, signs,
surrounding whitespace, NaN and JSON numbers.
"""

from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode

from lending.errors import InvalidAmount
from lending.money import DECIMAL_FORMAT, LONG_NUMBER, parse_decimal, shown

DESCRIPTION = (
    f"A decimal number as {DECIMAL_FORMAT}: money in USD (two places in answers), a star rating, or in answers "
    "a rate from 0 to 1 (four places); only Transaction.amount answers with a sign. As input nothing else is read "
    "as one: no sign, exponent, spaces, separators, other digits or JSON number. Other values are refused before "
    f"anything runs, with extensions.code {InvalidAmount.code}."
)


# What a refused literal is, by its kind.
LITERAL_KINDS = {
    "int_value": "a number",
    "float_value": "a number",
    "boolean_value": "a boolean",
    "enum_value": "an enum value",
    "object_value": "an object",
    "list_value": "a list",
}


def _refusal(what: str, node: ValueNode | None = None) -> GraphQLError:
    # The code rides in `extensions`: graphql-core copies it onto the error that names the variable.
    return GraphQLError(
        f"Not a Decimal: {what}. A Decimal is {DECIMAL_FORMAT}.", node, extensions={"code": InvalidAmount.code}
    )


def _json_kind(value: object) -> str:
    if isinstance(value, bool):  # before int: True is an int to Python
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        text = shown(value)
        return text if text == LONG_NUMBER else f"{text} (a number)"
    kinds: dict[type, str] = {dict: "an object", list: "a list"}
    return kinds.get(type(value), "a value")


def parse_value(value: object) -> Decimal:
    """A variable's value: only a string in the format; floats and other JSON numbers are never money."""
    if not isinstance(value, str):
        raise _refusal(f"{_json_kind(value)} is not a string")
    parsed = parse_decimal(value)
    if parsed is None:
        raise _refusal(shown(value))
    return parsed


def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    """An inline value: a string literal in the format (`amount: "25.00"`, not `amount: 25`)."""
    if not isinstance(node, StringValueNode):
        raise _refusal(f"{LITERAL_KINDS.get(node.kind, 'a value')} is not a string", node)
    parsed = parse_decimal(node.value)
    if parsed is None:
        raise _refusal(shown(node.value), node)
    return parsed


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description=DESCRIPTION,
    serialize=str,  # as the built-in: money outputs are quantized to two places (lending.money.to_decimal)
    parse_value=parse_value,
    parse_literal=parse_literal,
)
