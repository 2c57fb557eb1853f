"""lending.tokens: a token grants only scopes it holds, and nothing is made when it asks for more."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.accounts import register_lender
from lending.errors import Forbidden
from lending.tokens import SCOPES, TOKENS_MANAGE, Viewer, authenticate, create_api_token
from models import ApiToken, Lender, Role

held_scopes = st.sets(st.sampled_from(SCOPES)).map(lambda scopes: frozenset(scopes | {TOKENS_MANAGE}))
asked_scopes = st.lists(st.sampled_from(SCOPES), min_size=1, max_size=8)
emails = iter(range(10**6))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(held=held_scopes, asked=asked_scopes)
async def test_a_token_grants_only_scopes_it_holds(api, held, asked):
    lender, _ = await register_lender("Ada", f"ada.{next(emails)}@example.org")
    viewer = Viewer(token_id=0, role=Role.LENDER, lender_id=lender.id, scopes=held)
    tokens = await ApiToken.filter(lender_id=lender.id).count()
    if set(asked) <= held:
        record, secret = await create_api_token(viewer, "third party", asked)
        assert record.scopes == [scope for scope in SCOPES if scope in asked]
        made = await authenticate(secret)
        assert made is not None and made.scopes == frozenset(asked) and made.lender_id == lender.id
        assert await ApiToken.filter(lender_id=lender.id).count() == tokens + 1
    else:
        with pytest.raises(Forbidden) as refused:
            await create_api_token(viewer, "third party", asked)
        lacking = [scope for scope in SCOPES if scope in asked and scope not in held]
        assert refused.value.message == f"A token may grant only scopes it holds; this one lacks {', '.join(lacking)}."
        assert await ApiToken.filter(lender_id=lender.id).count() == tokens


@pytest.mark.parametrize("role", [Role.PARTNER, Role.ADMIN])
async def test_only_a_lender_makes_tokens(api, role):
    viewer = Viewer(token_id=0, role=role, partner_id=None)  # partner and admin tokens carry every scope
    tokens = await ApiToken.all().count()
    with pytest.raises(Forbidden):
        await create_api_token(viewer, "third party", ["lend"])
    assert await ApiToken.all().count() == tokens


async def test_a_token_stands_for_its_holder_until_revoked(api):
    lender, secret = await register_lender("Ada", f"ada.{next(emails)}@example.org")
    seen = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    await Lender.filter(id=lender.id).update(last_seen_at=seen)
    viewer = await authenticate(secret)
    assert viewer is not None and viewer.role is Role.LENDER and viewer.lender_id == lender.id
    assert viewer.partner_id is None and viewer.scopes == frozenset(SCOPES)
    # Aware, on SQLite as on PostgreSQL: it is compared with the clock to decide whether to write it again.
    assert viewer.last_seen_at == seen and viewer.last_seen_at.utcoffset() == timedelta(0)
    await ApiToken.filter(id=viewer.token_id).update(revoked_at=seen)
    assert await authenticate(secret) is None
    assert await authenticate("lg_" + "x" * 43) is None
