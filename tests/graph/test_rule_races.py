"""A lender's rule written twice at the same moment, on PostgreSQL: both succeed, one rule remains."""

import asyncio

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
