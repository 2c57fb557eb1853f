"""OWASP GraphQL cheat sheet, "Batching Attacks": many operations or fields in one request.

A JSON array of operations is refused outright. Within one operation, aliases
are capped, and every aliased money field counts on its own against the
lender's money rate limit, so a request of many deposits or loans cannot
slip past the published rate.
"""

from tests.api import new_key
from tests.conftest import serve
from tests.security.calls import (
    assert_rate_limited,
    balance,
    bearer,
    codes,
    deposit,
    post_raw,
)


async def test_batched_requests_are_refused(api):
    _, token = await api.funded_lender("100.00")
    batch = [{"query": deposit()}, {"query": deposit()}]
    response = await post_raw(api, batch, token)
    assert response.status_code == 400 and "Batching is not enabled" in response.text
    assert await api.balance(token) == "100.00"


async def test_more_aliases_than_the_limit_are_refused_before_they_run(api):
    _, token = await api.funded_lender("100.00")
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    assert not (await api.post(deposit(fifteen), token=token)).get("errors")
    assert await api.balance(token) == "110.00"

    sixteen = " ".join(f"a{i}: __typename" for i in range(16))
    refused = await api.post(deposit(sixteen), token=token)
    assert codes(refused) == ["TOO_MANY_ALIASES"] and refused["data"] is None, refused
    assert await api.balance(token) == "110.00"

    # Aliases hidden in a fragment spread twice count twice.
    eight = " ".join(f"b{i}: __typename" for i in range(8))
    spread = (
        f'mutation {{ deposit(input: {{amount: "10.00", idempotencyKey: "{new_key()}"}}) '
        "{ ...A ... on DepositSuccess { ...B ...B } } }\n"
        "fragment A on DepositResult { t: __typename }\n"
        f"fragment B on DepositSuccess {{ {eight} }}"
    )
    assert codes(await api.post(spread, token=token)) == ["TOO_MANY_ALIASES"]  # 1 + 2 x 8 = 17
    assert await api.balance(token) == "110.00"


async def test_each_aliased_money_field_counts(database_url, clock):
    async with serve(database_url, clock, rate_limit_money_per_lender=3) as api:
        _, ada = await api.register("Ada")

        def many(count: int) -> dict:
            fields = " ".join(
                f'd{i}: deposit(input: {{amount: "10.00", idempotencyKey: "{new_key()}"}}) {{ __typename }}'
                for i in range(count)
            )
            return {"query": f"mutation {{ {fields} }}"}

        assert_rate_limited(await api.http.post("/graphql", json=many(4), headers=bearer(ada)), "LENDER_MONEY", 60)
        assert await balance(api, ada) == "0.00"
        clock.advance(seconds=60)
        assert (await api.http.post("/graphql", json=many(3), headers=bearer(ada))).status_code == 200
        assert await balance(api, ada) == "30.00"
