"""A stored enumeration's member formats as the text stored: str() and f-strings give its value.

Messages, keys and logs may then write a status or a kind as it is, and never show
"LoanStatus.FUNDED" where "FUNDED" is meant.
"""

from enum import Enum

import pytest

import models.enums
from lending.filters import LoanSort

STORED = [
    value
    for value in vars(models.enums).values()
    if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == models.enums.__name__
]


@pytest.mark.parametrize("enum_type", [*STORED, LoanSort], ids=lambda enum_type: enum_type.__name__)
def test_a_member_formats_as_its_value(enum_type: type[Enum]) -> None:
    for member in enum_type:
        assert str(member) == f"{member}" == f"{member:>20}".strip() == member.value
        assert member == member.value and isinstance(member, str)


def test_the_stored_enumerations_are_found() -> None:
    assert {models.enums.LoanStatus, models.enums.EventKind, models.enums.Role} <= set(STORED)
