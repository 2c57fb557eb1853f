"""models.tortoise_internals.instance_from_row: a row read by our own SQL becomes the instance tortoise
would make of it, on every model, on SQLite and PostgreSQL alike.

The rows come from a world arranged through the API (a loan funded and repaid in part, one expired,
a saved search, an auto-lend rule, notifications, tokens), so that nullable columns are seen both
null and set; each is read with every column and compared, attribute by attribute, with
tortoise's own constructor for rows (`_init_from_db`).
"""

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tortoise import Tortoise

from lending.loans import expire_loans
from models import Lender, Loan, Partner, Share
from models.bulk import columns_as, select_every_column, select_values
from models.tortoise_internals import instance_from_row
from tests.api import Api, partner_token
from tests.clock import FakeClock

ROOT = Path(__file__).resolve().parents[1]
SET_RULE = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) { __typename } }"""


async def arrange(api: Api, clock: FakeClock) -> None:
    partner = await partner_token()
    _, ada = await api.funded_lender("500.00")
    _, grace = await api.funded_lender("500.00", name="Grace")
    funded = await api.loan_id(partner, amount="50.00")
    for token in (ada, grace):
        assert (await api.lend(token, funded))["__typename"] == "LendSuccess"
    assert (await api.repay(partner, funded, "20.00"))["__typename"] == "PostRepaymentSuccess"
    await api.save_search(ada, "Kenya", {"countries": ["KE"]})
    assert (await api.data(SET_RULE, token=grace))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
    expiring = await api.loan_id(partner, amount="100.00")
    assert (await api.lend(ada, expiring))["__typename"] == "LendSuccess"
    clock.advance(days=91)
    await expire_loans(clock.now)


def state(instance: object) -> dict[str, object]:
    """Each attribute with its type, and a time with its zone: a StrEnum member equals its text, and
    aware times in different zones equal each other, yet neither is the instance tortoise makes."""
    return {
        name: (type(value), value, value.tzinfo if isinstance(value, datetime) else None)
        for name, value in vars(instance).items()
    }


async def test_every_model_row_becomes_the_instance_tortoise_makes(api: Api, clock: FakeClock):
    await arrange(api, clock)
    compared = set()
    for model in Tortoise.apps["lendgraph"].values():
        for row in await select_values(select_every_column(model)):
            ours = instance_from_row(model, row)
            assert state(ours) == state(model._init_from_db(**row)), model.__name__
            assert type(ours) is model
            compared.add(model.__name__)
    # Every model the arranged world has rows of, the pages' own among them.
    assert {"Loan", "Share", "Partner", "Lender", "ApiToken", "Transfer", "Account"} <= compared, compared


async def test_a_joined_row_makes_each_model_from_its_prefixed_columns(api: Api, clock: FakeClock):
    await arrange(api, clock)
    rows = await select_values(
        f"SELECT {columns_as(Share, 's')}, {columns_as(Loan, 'l', 'loan.')}, {columns_as(Partner, 'p', 'partner.')}"
        ' FROM "share" s JOIN "loan" l ON l."id" = s."loan_id" JOIN "partner" p ON p."id" = l."partner_id"'
        ' ORDER BY s."id"'
    )
    assert len(rows) == 4  # Ada and Grace in each loan, Grace by her auto-lend rule in the second
    for row in rows:
        share = instance_from_row(Share, row)
        loan = instance_from_row(Loan, row, prefix="loan.")
        partner = instance_from_row(Partner, row, prefix="partner.")
        assert state(share) == state(await Share.get(id=share.id))
        assert state(loan) == state(await Loan.get(id=share.loan_id))
        assert state(partner) == state(await Partner.get(id=loan.partner_id))
    statuses = {instance_from_row(Loan, row, prefix="loan.").status.value for row in rows}
    assert statuses == {"REPAYING", "EXPIRED"}
    assert await Lender.all().count() == 2


async def test_instances_read_with_a_row_are_related_as_tortoise_relates_them(api: Api, clock: FakeClock):
    await arrange(api, clock)
    rows = await select_values(
        f"SELECT {columns_as(Share, 's')}, {columns_as(Loan, 'l', 'loan.')}, {columns_as(Partner, 'p', 'partner.')}"
        ' FROM "share" s JOIN "loan" l ON l."id" = s."loan_id" JOIN "partner" p ON p."id" = l."partner_id"'
    )
    for row in rows:
        partner = instance_from_row(Partner, row, prefix="partner.")
        loan = instance_from_row(Loan, row, prefix="loan.", related=(("partner", partner),))
        share = instance_from_row(Share, row, related=(("loan", loan),))
        assert share.loan is loan and loan.partner is partner
        # The same instances as tortoise's own foreign-key assignment makes.
        by_tortoise = instance_from_row(Loan, row, prefix="loan.")
        by_tortoise.partner = partner
        assert state(loan) == state(by_tortoise)
        other = instance_from_row(Share, row)
        other.loan = loan
        assert state(share) == state(other)


def test_a_models_columns_are_refused_before_the_orm_knows_its_foreign_keys():
    """Before Tortoise.init a model's foreign keys have no column: SQL made from its columns then (at import,
    say) would read no `loan_id`, and every instance made from it would miss it. That is refused, loudly."""
    script = "from models import Share; from models.bulk import columns_as; columns_as(Share, 's')"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 1
    assert "Share's columns are read before Tortoise.init" in run.stderr
