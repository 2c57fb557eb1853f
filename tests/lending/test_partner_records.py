"""lending.partners.partner_records: a partner's track record is the sum over its loans, whatever their mix.

The record is read in one grouped query (ended loans summed per status, loans being repaid one row each);
here it is checked against the definition written loan by loan, on generated loans of several partners,
on SQLite and on PostgreSQL.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.partners import DISBURSED, PartnerRecord, partner_records
from lending.schedule import past_due_cents
from models import Gender, Loan, LoanStatus, Partner, Sector, db
from tests import services

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


@st.composite
def loans(draw: st.DrawFn) -> dict:
    status = draw(st.sampled_from(list(LoanStatus)))
    amount = 2_500 * draw(st.integers(1, 40))
    term = draw(st.integers(1, 24))
    disbursed = status in DISBURSED
    repaid = draw(st.integers(0, amount // 2_500)) * 2_500 if status != LoanStatus.FUNDRAISING else 0
    if status == LoanStatus.REPAID:
        repaid = amount
    funded_at = NOW - timedelta(days=draw(st.integers(0, 800)), minutes=draw(st.integers(0, 1439)))
    return {
        "partner": draw(st.integers(0, 2)),
        "status": status,
        "amount_cents": amount,
        "funded_cents": amount if disbursed else 0,
        "repaid_cents": repaid if disbursed else 0,
        "term_months": term,
        "funded_at": funded_at if disbursed else None,
    }


def by_definition(rows: list[dict]) -> PartnerRecord:
    disbursed = [r for r in rows if r["status"] in DISBURSED]
    repaying = [r for r in rows if r["status"] in (LoanStatus.FUNDED, LoanStatus.REPAYING)]
    return PartnerRecord(
        loan_count=len(rows),
        disbursed_cents=sum(r["amount_cents"] for r in disbursed),
        defaulted_cents=sum(r["amount_cents"] - r["repaid_cents"] for r in rows if r["status"] == LoanStatus.DEFAULTED),
        outstanding_cents=sum(r["amount_cents"] - r["repaid_cents"] for r in repaying),
        past_due_cents=sum(
            past_due_cents(r["amount_cents"], r["term_months"], r["funded_at"], r["repaid_cents"], NOW)
            for r in repaying
        ),
    )


@pytest.fixture
async def partner_ids(database_url: str) -> AsyncIterator[list[int]]:
    """Connected to a database of our own, with three partners."""
    if database_url.startswith("postgres"):
        await services.reset_pg(database_url)
    await db.connect(database_url)
    try:
        yield [
            (await Partner.create(name=f"P{i}", country_code="KE", risk_tenths=25, created_at=NOW)).id for i in range(3)
        ]
    finally:
        await db.disconnect()


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(loans(), max_size=25))
async def test_the_record_of_each_partner_sums_its_loans(partner_ids: list[int], rows: list[dict]) -> None:
    await Loan.all().delete()
    await Loan.bulk_create(
        [
            Loan(
                partner_id=partner_ids[row["partner"]],
                name="Amina",
                use="to buy stock",
                country_code="KE",
                sector=Sector.RETAIL,
                gender=Gender.FEMALE,
                listed_at=NOW - timedelta(days=900),
                expires_at=NOW - timedelta(days=870),
                **{k: v for k, v in row.items() if k != "partner"},
            )
            for row in rows
        ]
    )
    # A partner with no loans, and one asked for twice, are answered too.
    asked = [*partner_ids, partner_ids[0]]
    records = await partner_records(asked, NOW)
    assert records == {pid: by_definition([r for r in rows if partner_ids[r["partner"]] == pid]) for pid in partner_ids}
