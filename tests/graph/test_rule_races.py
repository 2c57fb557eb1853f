"""A lender's rule written twice at the same moment, on PostgreSQL: both succeed, one rule remains,
and each call answers the rule it wrote."""

import asyncio

from lending import autolend
from models import AutoLendRule

SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) {
  __typename ... on UserError { code message } ... on AutoLendRuleSuccess { rule { amountPerLoan } } } }"""


async def test_two_first_rules_at_once_both_succeed_and_the_lender_has_one_rule(pg_api):
    for round_number in range(10):
        _, token = await pg_api.register(f"Ada{round_number}")
        amounts = ["25.00", "50.00"]

        answers = await asyncio.gather(
            *(pg_api.data(SET_RULE, {"input": {"amountPerLoan": amount}}, token) for amount in amounts)
        )

        assert [a["setAutoLendRule"]["__typename"] for a in answers] == ["AutoLendRuleSuccess"] * 2
        rules = await AutoLendRule.filter(lender__display_name=f"Ada{round_number}").values_list(
            "amount_cents", flat=True
        )
        assert len(rules) == 1 and rules[0] in (2500, 5000)


async def test_each_of_two_rules_written_at_once_answers_the_rule_it_wrote(pg_api, monkeypatch):
    """The first call's rule commits, then its first run waits while the second call writes its own rule."""
    _, token = await pg_api.register("Ada")
    first_committed, second_done = asyncio.Event(), asyncio.Event()
    real_after_credit = autolend.after_credit

    async def after_credit(lender_ids, now):
        if not first_committed.is_set():
            first_committed.set()
            await second_done.wait()
        await real_after_credit(lender_ids, now)

    monkeypatch.setattr(autolend, "after_credit", after_credit)
    first = asyncio.create_task(pg_api.data(SET_RULE, {"input": {"amountPerLoan": "25.00"}}, token))
    await first_committed.wait()
    second = await pg_api.data(SET_RULE, {"input": {"amountPerLoan": "50.00"}}, token)
    second_done.set()

    assert (await first)["setAutoLendRule"]["rule"] == {"amountPerLoan": "25.00"}
    assert second["setAutoLendRule"]["rule"] == {"amountPerLoan": "50.00"}
    assert await AutoLendRule.filter(lender__display_name="Ada").values_list("amount_cents", flat=True) == [5000]
