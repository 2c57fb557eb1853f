"""A lender's rule written twice at the same moment, on PostgreSQL: both succeed, one rule remains,
and each call answers the rule it wrote."""

import asyncio
from datetime import timedelta

from lending import autolend
from models import AutoLendRule, Share
from tests.api import partner_token

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


async def test_a_rule_replaced_while_its_first_run_picks_loans_lends_by_the_new_rule_alone(pg_api, monkeypatch, clock):
    """The first rule's run picks its loans, then waits while a second rule replaces the first and
    commits; the run then lends as the second rule would on its own: to the loan that expires first,
    not to one the replaced rule had picked."""
    partner = await partner_token()
    soon = (clock() + timedelta(days=10)).isoformat()
    later = (clock() + timedelta(days=20)).isoformat()
    await pg_api.loan_id(partner, name="Otieno", sector="FOOD", gender="MALE", expiresAt=soon)
    await pg_api.loan_id(partner, name="Amina", sector="AGRICULTURE", gender="FEMALE", expiresAt=later)
    _, token = await pg_api.funded_lender("100.00", "Ada")
    picked, second_committed, first_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_candidates, real_after_credit = autolend._candidates_of, autolend.after_credit

    async def candidates_of(criteria, now):
        found = await real_candidates(criteria, now)
        if not picked.is_set():
            picked.set()
            await second_committed.wait()
        return found

    async def after_credit(lender_ids, now):
        if picked.is_set() and not second_committed.is_set():  # the second rule has committed
            second_committed.set()
            await first_done.wait()
            await real_after_credit(lender_ids, now)
            return
        await real_after_credit(lender_ids, now)
        first_done.set()

    monkeypatch.setattr(autolend, "_candidates_of", candidates_of)
    monkeypatch.setattr(autolend, "after_credit", after_credit)
    first = asyncio.create_task(
        pg_api.data(SET_RULE, {"input": {"criteria": {"sectors": ["AGRICULTURE"]}, "amountPerLoan": "25.00"}}, token)
    )
    await picked.wait()
    second = {"criteria": {"genders": ["FEMALE", "MALE"]}, "amountPerLoan": "75.00", "keepBalance": "25.00"}
    await pg_api.data(SET_RULE, {"input": second}, token)
    await first

    # In the order first rule, second rule, then their runs: the second rule lends 75.00 to the
    # loan that expires first, and keeps 25.00.
    assert dict(await Share.filter(lender__display_name="Ada").values_list("loan__name", "amount_cents")) == {
        "Otieno": 7500
    }
    assert await pg_api.balance(token) == "25.00"


async def test_a_lender_back_while_a_run_reads_the_rules_is_not_lent_for_as_if_away(pg_api, monkeypatch, clock):
    """Ada's rule lends only while she is away. A run reads her rule as ready, then she comes back
    before it locks her account: in no serial order does the run lend her credit (her visit either
    came first, and the rule waits, or after the run, which it did not)."""
    partner = await partner_token()
    _, ada = await pg_api.funded_lender("50.00", "Ada")
    await pg_api.data(SET_RULE, {"input": {"amountPerLoan": "25.00", "trigger": "AFTER_IDLE_DAYS", "idleDays": 7}}, ada)
    clock.advance(days=8)  # away long enough
    read, visited = pause_after_the_first_rules_read(monkeypatch)
    listing = asyncio.create_task(pg_api.loan_id(partner, name="Amina", amount="500.00"))
    await read.wait()
    assert (await pg_api.data("{ me { displayName } }", token=ada))["me"] == {"displayName": "Ada"}  # back
    visited.set()
    await listing

    assert await Share.filter(lender__display_name="Ada").count() == 0
    assert await pg_api.balance(ada) == "50.00"


async def test_a_run_serves_the_rules_in_their_places_as_committed_when_it_locks_their_credit(
    pg_api, monkeypatch, clock
):
    """A listing's run reads the rules, then another run lends for Bea (moving her rule to the back
    of the queue) and commits before the first one locks the lenders' credit. The first run must
    follow that commit in everything it reads under the lock, her place as well as her credit: in
    the one serial order that explains the shares (the other run first), Ada is ahead of Bea after
    both runs, so the next loan with room for one share goes to Ada."""
    partner = await partner_token()
    _, bea = await pg_api.funded_lender("75.00", "Bea")
    await pg_api.data(SET_RULE, {"input": {"amountPerLoan": "50.00"}}, bea)  # first in the queue
    clock.advance(minutes=1)
    _, ada = await pg_api.funded_lender("50.00", "Ada")
    await pg_api.data(SET_RULE, {"input": {"criteria": {"sectors": ["FOOD"]}, "amountPerLoan": "25.00"}}, ada)
    read, other_run_done = pause_after_the_first_rules_read(monkeypatch)
    # Room for 75.00 of auto-lending; its run reads Ada's rule and Bea's, then waits.
    first = asyncio.create_task(pg_api.loan_id(partner, name="Wanjiru", sector="FOOD", amount="150.00"))
    await read.wait()
    await pg_api.loan_id(partner, name="Kamau", sector="RETAIL", amount="500.00")  # Bea's rule lends 50.00
    other_run_done.set()
    await first
    await pg_api.deposit(bea, "25.00")  # credit again for Bea, and no loan left that she may lend to
    await pg_api.loan_id(partner, name="Achieng", sector="FOOD", amount="50.00")  # room for one share

    shares = await Share.filter(loan__name__in=["Wanjiru", "Kamau", "Achieng"]).values_list(
        "loan__name", "lender__display_name", "amount_cents"
    )
    assert sorted(shares) == [
        ("Achieng", "Ada", 2500),
        ("Kamau", "Bea", 5000),
        ("Wanjiru", "Ada", 2500),
        ("Wanjiru", "Bea", 2500),
    ]
    assert (await pg_api.balance(ada), await pg_api.balance(bea)) == ("0.00", "25.00")


def pause_after_the_first_rules_read(monkeypatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The next auto-lending run reads its rules, sets the first event, and waits for the second."""
    read, resume = asyncio.Event(), asyncio.Event()
    real_rules_of = autolend._rules_of

    async def rules_of(ids, lender_ids, now):
        found = await real_rules_of(ids, lender_ids, now)
        if not read.is_set():
            read.set()
            await resume.wait()
        return found

    monkeypatch.setattr(autolend, "_rules_of", rules_of)
    return read, resume
