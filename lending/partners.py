"""Field partners and their public track record."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from lending.countries import normalize_country
from lending.errors import InvalidInput
from lending.money import DECIMAL_FORMAT, parse_decimal, shown
from lending.schedule import past_due_cents
from lending.text import clean_text
from models import Account, AccountKind, Loan, LoanStatus, Partner
from models.bulk import one_of

DISBURSED = (LoanStatus.FUNDED, LoanStatus.REPAYING, LoanStatus.REPAID, LoanStatus.DEFAULTED)
RATE_PLACES = Decimal("0.0001")


def parse_risk_rating(rating: Decimal | str, field: str = "riskRating") -> int:
    """A star rating (0.5 to 5.0, in half stars), a decimal string (DECIMAL_FORMAT), as tenths of a star.

    `field`: the input named in the InvalidInput that refuses it.
    """
    stars = parse_decimal(rating)
    if stars is None:
        raise InvalidInput(f"The risk rating {shown(rating)} is not {DECIMAL_FORMAT}.", field)
    tenths = stars * 10
    # The range first: a long string of digits is a valid Decimal but no rating.
    if not 5 <= tenths <= 50 or tenths != tenths.to_integral_value() or int(tenths) % 5:
        raise InvalidInput(f"{field} must be 0.5 to 5.0 stars in half stars.", field)
    return int(tenths)


async def create_partner(name: str, country: str, risk_rating: Decimal | str, now: datetime | None = None) -> Partner:
    """Create a field partner with its ledger account."""
    name = clean_text(name, "name", 200)
    tenths = parse_risk_rating(risk_rating)
    code = normalize_country(country, "country")
    async with in_transaction():
        partner = await Partner.create(
            name=name, country_code=code, risk_tenths=tenths, created_at=now or datetime.now(UTC)
        )
        await Account.create(kind=AccountKind.PARTNER, partner=partner)
    return partner


@dataclass(frozen=True)
class PartnerRecord:
    """A partner's track record, derived from its loans.

    default_rate: principal lost to default / principal disbursed.
    arrears_rate: principal past due / principal outstanding.
    """

    loan_count: int
    disbursed_cents: int
    defaulted_cents: int
    outstanding_cents: int
    past_due_cents: int

    @property
    def default_rate(self) -> Decimal:
        return ratio(self.defaulted_cents, self.disbursed_cents)

    @property
    def arrears_rate(self) -> Decimal:
        return ratio(self.past_due_cents, self.outstanding_cents)


def ratio(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES) if whole else Decimal("0.0000")


# One row per status of each partner's loans, except the loans still being repaid: one row each, since
# their arrears need their own schedule (lending.schedule.past_due_cents). So a read costs the partner's
# active loans, not its whole history. SUM is cast back to an integer (PostgreSQL sums bigints as numeric).
BEING_REPAID = (LoanStatus.FUNDED, LoanStatus.REPAYING)
_RECORDS = (
    'SELECT "partner_id", "status", COUNT(*) AS "loans", CAST(SUM("amount_cents") AS BIGINT) AS "amount", '
    'CAST(SUM("repaid_cents") AS BIGINT) AS "repaid", MIN("term_months") AS "term", MIN("funded_at") AS "funded_at" '
    'FROM "loan" WHERE {condition} GROUP BY "partner_id", "status", '
    f'CASE WHEN "status" IN ({", ".join(repr(status.value) for status in BEING_REPAID)}) THEN "id" END'
)


async def partner_records(partner_ids: list[int], now: datetime) -> dict[int, PartnerRecord]:
    """Track records of many partners in one query."""
    totals = {pid: [0, 0, 0, 0, 0] for pid in partner_ids}
    condition, values = one_of("partner_id", partner_ids, 1)
    rows = await Tortoise.get_connection("default").execute_query_dict(_RECORDS.format(condition=condition), values)
    funded_at = Loan._meta.fields_map["funded_at"]
    for row in rows:
        t, status, amount, repaid = totals[row["partner_id"]], LoanStatus(row["status"]), row["amount"], row["repaid"]
        t[0] += row["loans"]
        if status in DISBURSED:
            t[1] += amount
        if status == LoanStatus.DEFAULTED:
            t[2] += amount - repaid
        if status in BEING_REPAID:
            t[3] += amount - repaid
            t[4] += past_due_cents(amount, row["term"], funded_at.to_python_value(row["funded_at"]), repaid, now)
    return {pid: PartnerRecord(*t) for pid, t in totals.items()}
