"""The loan lifecycle: listing, expiry and default.

FUNDRAISING -> FUNDED -> REPAYING -> REPAID, or -> DEFAULTED;
FUNDRAISING -> EXPIRED when not fully funded by its deadline.
Funding lives in lending.funding, repayments in lending.repayments.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from lending import autolend, ledger
from lending.countries import normalize_country
from lending.errors import Forbidden, InvalidInput, LoanNotRepaying, NotFound
from lending.money import LENDING_UNIT, Money, to_cents
from lending.outbox import Draft, emit, loan_and_lenders, progress
from lending.searches import alert_saved_searches
from lending.text import clean_text
from lending.tokens import Viewer
from lending.transactions import atomic
from models import (
    Account,
    AccountKind,
    CurrencyLossLiability,
    EventKind,
    Gender,
    Loan,
    LoanStatus,
    Partner,
    Role,
    Sector,
    Share,
    TransferKind,
)
from models.bulk import select_values

LISTING_DAYS = 30
MAX_LOAN_CENTS = 5_000_000  # 50,000.00
MAX_TERM_MONTHS = 120


@dataclass(frozen=True)
class Listing:
    name: str
    use: str
    country: str
    sector: Sector
    gender: Gender
    amount: Money
    term_months: int
    description: str = ""
    currency: str = "USD"
    currency_loss_liability: CurrencyLossLiability = CurrencyLossLiability.NONE
    expires_at: datetime | None = None


async def acting_partner(viewer: Viewer | None, partner_id: int | None) -> Partner:
    """The partner a partner token (or an admin naming one) acts for."""
    if viewer is None or viewer.role not in (Role.PARTNER, Role.ADMIN):
        raise Forbidden("Only a field partner or an admin may do this.")
    if viewer.role is Role.PARTNER:
        if partner_id is not None and partner_id != viewer.partner_id:
            raise Forbidden("A partner may act only for itself.")
        partner_id = viewer.partner_id
    if partner_id is None:
        raise InvalidInput("An admin must name the partner.", "partnerId")
    partner = await Partner.get_or_none(id=partner_id)
    if partner is None:
        raise NotFound("partner", partner_id)
    return partner


async def list_loan(partner: Partner, listing: Listing, now: datetime) -> Loan:
    """List a new loan for fundraising, with its ledger account."""
    amount = to_cents(listing.amount, unit=LENDING_UNIT, maximum=MAX_LOAN_CENTS)
    if not 1 <= listing.term_months <= MAX_TERM_MONTHS:
        raise InvalidInput(f"termMonths must be 1 to {MAX_TERM_MONTHS}.", "termMonths")
    country = normalize_country(listing.country)
    if country != partner.country_code:
        raise InvalidInput(f"This partner lists loans in {partner.country_code} only.", "countryIsoCode")
    currency = listing.currency.strip().upper()
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise InvalidInput("currency must be an ISO 4217 code such as KES.", "currency")
    if listing.expires_at is not None and listing.expires_at.utcoffset() is None:
        raise InvalidInput("expiresAt must include a timezone, e.g. 2026-04-01T12:00:00Z.", "expiresAt")
    expires_at = listing.expires_at or now + timedelta(days=LISTING_DAYS)
    if not now < expires_at <= now + timedelta(days=90):
        raise InvalidInput("expiresAt must be in the next 90 days.", "expiresAt")
    async with in_transaction():
        loan = await Loan.create(
            partner=partner,
            name=clean_text(listing.name, "name", 200),
            use=clean_text(listing.use, "use", 500),
            description=clean_text(listing.description, "description", 10_000, required=False, multiline=True),
            country_code=country,
            sector=listing.sector,
            gender=listing.gender,
            amount_cents=amount,
            term_months=listing.term_months,
            currency=currency,
            currency_loss_liability=listing.currency_loss_liability,
            listed_at=now,
            expires_at=expires_at,
        )
        await Account.create(kind=AccountKind.LOAN, loan=loan)
        alerts = await alert_saved_searches(loan, partner.risk_tenths, now)
        await emit([Draft(EventKind.LOAN_LISTED, loan_id=loan.id, payload=progress(loan)), *alerts], now)
    await autolend.after_listing(loan.id, now)
    return await Loan.get(id=loan.id)


async def expire_loans(now: datetime) -> list[int]:
    """Expire every fundraising loan past its deadline, refunding its lenders; return their ids."""
    due = await Loan.filter(status=LoanStatus.FUNDRAISING, expires_at__lte=now).values_list("id")
    expired: list[int] = [loan_id for (loan_id,) in due if await expire_loan(loan_id, now)]
    refunded = await Share.filter(loan_id__in=expired).values_list("lender_id") if expired else []
    await autolend.after_credit(sorted({lender_id for (lender_id,) in refunded}), now)
    return expired


async def expire_loan(loan_id: int, now: datetime) -> bool:
    """Expire one loan if it is still fundraising past its deadline; refund every share to credit.

    The same statements however many lenders it has: the refunds move in one
    batch (lending.ledger.transfer_many), and the loan's event and each
    lender's are written by one INSERT.
    """

    async def work() -> bool:
        # The lock order of lending.ledger: the loan row (a conditional update, as lending does), then accounts.
        changed = await Loan.filter(id=loan_id, status=LoanStatus.FUNDRAISING, expires_at__lte=now).update(
            status=LoanStatus.EXPIRED, ended_at=now
        )
        if not changed:
            return False
        [(loan_account,)] = await Account.filter(loan_id=loan_id).values_list("id")
        shares = await Share.filter(loan_id=loan_id).order_by("lender_id").values_list("lender_id", "amount_cents")
        accounts = dict(
            await Account.filter(lender_id__in=[lender for lender, _ in shares]).values_list("lender_id", "id")
        )
        await ledger.lock_accounts([loan_account, *accounts.values()])
        refunds = [
            ledger.Move(TransferKind.REFUND, loan_account, accounts[lender_id], amount, loan_id=loan_id)
            for lender_id, amount in shares
        ]
        await ledger.transfer_many(refunds, now)
        # As lending.outbox.loan_and_lenders, from the shares already read: the loan's stream, then each lender's.
        expired = await Loan.get(id=loan_id)
        drafts = [Draft(EventKind.LOAN_EXPIRED, loan_id=loan_id, payload=progress(expired))]
        drafts += [
            Draft(EventKind.LOAN_EXPIRED, loan_id=loan_id, lender_id=lender_id, payload={"refunded": amount})
            for lender_id, amount in shares
        ]
        await emit(drafts, now)
        return True

    return await atomic(work)


async def loan_exists(loan_id: int) -> bool:
    """Whether a loan has this id (a loanProgress subscription's loanId): one fixed statement, no ORM query
    built for each subscriber."""
    return bool(await select_values('SELECT 1 FROM "loan" WHERE "id" = $1', [loan_id]))


async def partners_loan(viewer: Viewer | None, loan_id: int) -> Loan:
    """A loan the viewer may manage: its own partner's, or any for an admin."""
    loan = await Loan.get_or_none(id=loan_id)
    if loan is None:
        raise NotFound("loan", loan_id)
    partner = await acting_partner(viewer, loan.partner_id if viewer and viewer.is_admin else None)
    if loan.partner_id != partner.id:
        raise Forbidden("This loan belongs to another partner.")
    return loan


async def mark_default(viewer: Viewer | None, loan_id: int, now: datetime) -> Loan:
    """Declare a disbursed loan defaulted and write off what is outstanding."""
    loan = await partners_loan(viewer, loan_id)
    partner_account = (await Account.get(partner_id=loan.partner_id)).id
    world = await ledger.world_account_for_loan(loan_id)

    async def work() -> Loan:
        # The lock order of lending.ledger: the loan row, then the accounts.
        changed = await Loan.filter(id=loan_id, status__in=(LoanStatus.FUNDED, LoanStatus.REPAYING)).update(
            status=LoanStatus.DEFAULTED, ended_at=now
        )
        if not changed:
            raise LoanNotRepaying((await Loan.get(id=loan_id)).status.value)
        defaulted = await Loan.get(id=loan_id)
        outstanding = defaulted.amount_cents - defaulted.repaid_cents
        if outstanding:
            await ledger.lock_accounts([partner_account, world])
            await ledger.transfer(TransferKind.WRITE_OFF, partner_account, world, outstanding, now, loan_id=loan_id)
        await emit(await loan_and_lenders(EventKind.LOAN_DEFAULTED, defaulted, None), now)
        return defaulted

    return await atomic(work)
