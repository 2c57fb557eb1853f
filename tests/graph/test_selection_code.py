"""graph/selection_code.py: a selection sent again is written out once per process as one function (the
first time the executor's loop answers it). Any client may send new selections (every alias makes one),
so the code kept is bounded, and a selection whose code was let go is written again and answers the
same."""

import uuid

import pytest

from graph import selection_code
from tests.api import Api, partner_token


@pytest.fixture
async def three_loans(api: Api) -> tuple[str, list[str]]:
    """A lender's token, and the names of three listed loans, newest first (as `loans` lists them)."""
    partner = await partner_token()
    for name in ("Amina", "Baraka", "Chiku"):
        await api.loan_id(partner, name=name)
    _, token = await api.funded_lender("25.00")
    return token, ["Chiku", "Baraka", "Amina"]


def aliased(alias: str) -> str:
    return f"{{ loans(first: 3) {{ edges {{ node {{ {alias}: name id }} }} }} }}"


async def test_new_selections_beyond_the_limit_replace_the_oldest_and_every_answer_stays_right(
    api: Api, three_loans: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    token, names = three_loans
    monkeypatch.setattr(selection_code, "WRITTEN_LIMIT", 8)
    prefix = f"b{uuid.uuid4().hex[:8]}_"  # selections no run has sent before: each one written anew
    written = selection_code.written_selections()
    for number in range(30):
        alias = f"{prefix}{number}"
        for _ in ("answered by the loop", "written, and answered by its code"):
            data = await api.data(aliased(alias), token=token)
            assert [edge["node"][alias] for edge in data["loans"]["edges"]] == names
        assert selection_code.written_selections() <= max(written, 8)
    assert selection_code.written_selections() == 8
    # The first selection's code was let go long ago: written again, the same answer.
    for _ in range(2):
        data = await api.data(aliased(f"{prefix}0"), token=token)
        assert [edge["node"][f"{prefix}0"] for edge in data["loans"]["edges"]] == names
    assert selection_code.written_selections() == 8
    assert all(edge["node"]["id"] for edge in data["loans"]["edges"])


async def test_a_selection_whose_fields_are_all_skipped_answers_an_empty_object(
    api: Api, three_loans: tuple[str, list[str]]
) -> None:
    token, _ = three_loans
    document = "query($no: Boolean!) { loans(first: 2) { edges { node { name @include(if: $no) } } } }"
    data = await api.data(document, {"no": False}, token=token)
    assert data["loans"]["edges"] == [{"node": {}}, {"node": {}}]
    data = await api.data(document, {"no": True}, token=token)
    assert data["loans"]["edges"] == [{"node": {"name": "Chiku"}}, {"node": {"name": "Baraka"}}]
