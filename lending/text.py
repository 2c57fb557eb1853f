"""Free text from clients: trimmed, bounded, and free of control characters."""

import unicodedata

from lending.errors import InvalidInput

MULTILINE = frozenset("\n\t")


def clean_text(value: str, field: str, longest: int, *, required: bool = True, multiline: bool = False) -> str:
    """`value` stripped; InvalidInput if empty (when required), too long, or holding control characters."""
    value = value.strip()
    if (required and not value) or len(value) > longest:
        raise InvalidInput(f"{field} must be {1 if required else 0} to {longest} characters.", field)
    allowed = MULTILINE if multiline else frozenset()
    # NUL and friends, and unpaired surrogates: databases refuse them, and no client means to send them.
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in value):
        raise InvalidInput(f"{field} must not contain control characters or unpaired surrogates.", field)
    return value
