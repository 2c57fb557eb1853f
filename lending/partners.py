"""Field partners and their public track record."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from lending.countries import normalize_country
from lending.errors import InvalidInput
from lending.money import DECIMAL_FORMAT, parse_decimal, shown
from lending.schedule import past_due_cents
from lending.text import clean_text
from models import Account, AccountKind, Loan, LoanStatus, Partner

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


async def partner_records(partner_ids: list[int], now: datetime) -> dict[int, PartnerRecord]:
    """Track records of many partners in one query."""
    totals = {pid: [0, 0, 0, 0, 0] for pid in partner_ids}
    rows = await Loan.filter(partner_id__in=partner_ids).values_list(
        "partner_id", "status", "amount_cents", "repaid_cents", "term_months", "funded_at"
    )
    for partner_id, status, amount, repaid, term, funded_at in rows:
        t = totals[partner_id]
        t[0] += 1
        if status in DISBURSED:
            t[1] += amount
        if status == LoanStatus.DEFAULTED:
            t[2] += amount - repaid
        if status in (LoanStatus.FUNDED, LoanStatus.REPAYING):
            t[3] += amount - repaid
            t[4] += past_due_cents(amount, term, funded_at, repaid, now)
    return {pid: PartnerRecord(*t) for pid, t in totals.items()}
