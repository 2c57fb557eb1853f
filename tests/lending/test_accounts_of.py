"""lending.ledger.accounts_of: the accounts of many lenders, loans and partners, read by one statement."""

from datetime import UTC, datetime

from lending.accounts import register_lender
from lending.ledger import Owned, accounts_of
from lending.loans import Listing, list_loan
from lending.partners import create_partner
from models import Account, Gender, Sector
from tests.querycount import count_queries

NOW = datetime(2026, 3, 2, tzinfo=UTC)


async def test_the_accounts_of_lenders_loans_and_partners_come_from_one_statement(api):
    partner = await create_partner("Juhudi Kilimo", "KE", "3.5", NOW)
    listing = Listing("Amina", "to buy fabric", "KE", Sector.CLOTHING, Gender.FEMALE, "100.00", 12)
    loan = await list_loan(partner, listing, NOW)
    lenders = [(await register_lender(f"Lender {n}", f"lender{n}@example.org", NOW))[0].id for n in range(40)]
    wanted = lenders[::3]

    with count_queries() as queries:
        found = await accounts_of(lenders=wanted, loans=[loan.id], partners=[partner.id])

    assert len(queries) == 1, queries.report()
    expected = [Owned(a.id, a.lender_id, a.loan_id, a.partner_id) for a in await Account.filter(lender_id__in=wanted)]
    expected += [Owned((await Account.get(loan_id=loan.id)).id, None, loan.id, None)]
    expected += [Owned((await Account.get(partner_id=partner.id)).id, None, None, partner.id)]
    assert sorted(found) == sorted(expected)
    assert await accounts_of() == []
    assert await accounts_of(lenders=[max(lenders) + 1000]) == []
