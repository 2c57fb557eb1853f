"""A lender's portfolio: what they lent, what is outstanding, what came back."""

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from lending.paging import Order, Page, SortKey, check_first, cursor_values, page_of
from lending.partners import ratio
from lending.schedule import past_due_cents
from models import Gender, Loan, LoanStatus, Partner, Sector, Share
from models.bulk import columns_as, select_values
from models.tortoise_internals import row_reader

OUTSTANDING = (LoanStatus.FUNDRAISING, LoanStatus.FUNDED, LoanStatus.REPAYING)
DISBURSED = (LoanStatus.FUNDED, LoanStatus.REPAYING, LoanStatus.REPAID, LoanStatus.DEFAULTED)


@dataclass
class Slice:
    """Totals of the part of a portfolio with one country, sector or gender."""

    key: str
    loan_count: int = 0
    lent_cents: int = 0
    outstanding_cents: int = 0


@dataclass
class PortfolioStats:
    loan_count: int = 0
    lent_cents: int = 0
    outstanding_cents: int = 0
    repaid_cents: int = 0  # credited back to the lender, after currency loss
    currency_loss_cents: int = 0
    defaulted_cents: int = 0
    disbursed_cents: int = 0
    past_due_cents: int = 0
    repaying_cents: int = 0  # outstanding in disbursed loans (FUNDED, REPAYING)
    by_country: dict[str, Slice] = field(default_factory=dict)
    by_sector: dict[str, Slice] = field(default_factory=dict)
    by_gender: dict[str, Slice] = field(default_factory=dict)

    @property
    def default_rate(self) -> Decimal:
        """Principal lost to default over principal disbursed, by amount."""
        return ratio(self.defaulted_cents, self.disbursed_cents)

    @property
    def arrears_rate(self) -> Decimal:
        """Principal past due over disbursed principal outstanding, by amount (as for partners)."""
        return ratio(self.past_due_cents, self.repaying_cents)


# Read for every portfolio page: fixed statements, not queries built by the ORM at each read. A portfolio
# leaves out the refunded shares of expired loans.
_SHARES_AND_LOANS = ' FROM "share" s JOIN "loan" l ON l."id" = s."loan_id"'
_OF_LENDER = ' WHERE s."lender_id" = $1 AND l."status" <> $2'
_IN_PORTFOLIO = _SHARES_AND_LOANS + _OF_LENDER
_SHARES = (
    'SELECT s."amount_cents", s."repaid_cents", s."loss_cents", l."status", l."amount_cents" AS "loan_amount",'
    ' l."repaid_cents" AS "loan_repaid", l."term_months", l."funded_at", l."country_code", l."sector", l."gender"'
    + _IN_PORTFOLIO
)
_COUNT = 'SELECT COUNT(*) AS "shares"' + _IN_PORTFOLIO
NEWEST = Order("shares", (SortKey("id", descending=True),))
LOAN_PREFIX, PARTNER_PREFIX = "loan.", "partner."
_PARTNER_ID = LOAN_PREFIX + "partner_id"


@functools.cache
def _page_sql(after: bool) -> str:
    """A page of shares with their loans and partners: all three in one row; one text for a first page and
    one for a page after a cursor, each prepared once per connection. Made at the first read, once the ORM
    knows every column (the foreign keys' among them)."""
    sql = (
        f"SELECT {columns_as(Share, 's')}, {columns_as(Loan, 'l', LOAN_PREFIX)}, "
        f"{columns_as(Partner, 'p', PARTNER_PREFIX)}"
        + _SHARES_AND_LOANS
        + ' JOIN "partner" p ON p."id" = l."partner_id"'
        + _OF_LENDER
    )
    return sql + (' AND s."id" < $3 ORDER BY s."id" DESC LIMIT $4' if after else ' ORDER BY s."id" DESC LIMIT $3')


async def share_page(lender_id: int, first: int | None, after: str | None) -> Page[Share]:
    """One page of the lender's shares, newest first, each with its loan and the loan's partner, in one query."""
    size = check_first(first)
    values: list[object] = [lender_id, LoanStatus.EXPIRED.value]
    if after is not None:
        values.append(cursor_values(NEWEST, after)[0])
    values.append(size + 1)
    shares = []
    partners: dict[int, Partner] = {}  # a lender's loans share a few partners: one instance each
    read_partner, read_loan = row_reader(Partner, PARTNER_PREFIX), row_reader(Loan, LOAN_PREFIX, related=("partner",))
    read_share = row_reader(Share, related=("loan",))
    for row in await select_values(_page_sql(after is not None), values):
        partner = partners.get(row[_PARTNER_ID])
        if partner is None:
            partner = partners[row[_PARTNER_ID]] = read_partner(row)
        shares.append(read_share(row, read_loan(row, partner)))
    return page_of(shares, NEWEST, size, has_previous=after is not None)


async def share_count(lender_id: int) -> int:
    """How many shares the lender's portfolio holds (refunded shares of expired loans left out)."""
    found = await select_values(_COUNT, [lender_id, LoanStatus.EXPIRED.value])
    return int(found[0]["shares"])


async def portfolio_stats(lender_id: int, now: datetime) -> PortfolioStats:
    """Totals and breakdowns of a lender's shares (refunded shares of expired loans excluded), in one query."""
    funded_at = Loan._meta.fields_map["funded_at"]  # SQLite hands the column back as text: converted as the ORM does
    rows = [
        (
            row["amount_cents"],
            row["repaid_cents"],
            row["loss_cents"],
            row["status"],
            row["loan_amount"],
            row["loan_repaid"],
            row["term_months"],
            funded_at.to_python_value(row["funded_at"]),
            row["country_code"],
            row["sector"],
            row["gender"],
        )
        for row in await select_values(_SHARES, [lender_id, LoanStatus.EXPIRED.value])
    ]
    stats = PortfolioStats()
    slices: dict[str, dict[str, Slice]] = defaultdict(dict)
    for amount, repaid, loss, status, loan_amount, loan_repaid, term, funded_at, country, sector, gender in rows:
        status = LoanStatus(status)
        outstanding = amount - repaid if status in OUTSTANDING else 0
        stats.loan_count += 1
        stats.lent_cents += amount
        stats.outstanding_cents += outstanding
        stats.repaid_cents += repaid - loss
        stats.currency_loss_cents += loss
        if status in DISBURSED:
            stats.disbursed_cents += amount
        if status is LoanStatus.DEFAULTED:
            stats.defaulted_cents += amount - repaid
        if status is LoanStatus.REPAYING or status is LoanStatus.FUNDED:
            stats.repaying_cents += outstanding
            # This share's part of the loan's overdue principal.
            stats.past_due_cents += (
                past_due_cents(loan_amount, term, funded_at, loan_repaid, now) * amount // loan_amount
            )
        for dimension, key in (
            ("country", country),
            ("sector", Sector(sector).value),
            ("gender", Gender(gender).value),
        ):
            part = slices[dimension].setdefault(key, Slice(key))
            part.loan_count += 1
            part.lent_cents += amount
            part.outstanding_cents += outstanding
    stats.by_country = slices["country"]
    stats.by_sector = slices["sector"]
    stats.by_gender = slices["gender"]
    return stats
