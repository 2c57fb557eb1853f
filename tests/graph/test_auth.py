"""Bearer tokens: who the caller is, and when a lender was last seen."""

from models import ApiToken, Lender


async def test_a_request_marks_the_lender_seen_at_most_once_a_minute(api, clock):
    _, token = await api.register()
    assert (await Lender.get()).last_seen_at is None  # registering is not a visit
    await api.data("{ me { id } }", token=token)
    first = (await Lender.get()).last_seen_at
    assert first == clock()
    clock.advance(seconds=30)
    await api.data("{ me { id } }", token=token)
    assert (await Lender.get()).last_seen_at == first
    clock.advance(seconds=31)
    await api.data("{ me { id } }", token=token)
    assert (await Lender.get()).last_seen_at == clock()


async def test_unknown_malformed_and_revoked_tokens_are_anonymous(api, clock):
    _, token = await api.register()
    for header in ("lg_unknown", "garbage", f"Basic {token}", ""):
        body = await api.http.post("/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": header})
        assert body.json() == {"data": {"me": None}}
    await ApiToken.all().update(revoked_at=clock())
    assert (await api.data("{ me { id } }", token=token))["me"] is None


async def test_tokens_are_stored_hashed(api):
    _, token = await api.register()
    stored = await ApiToken.all().values_list("token_hash", flat=True)
    assert token not in stored and len(stored[0]) == 64
