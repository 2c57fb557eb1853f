"""The world a load run starts from, made through lending/ before the server starts, and each client's share.

Partners (two per country, each with a token), lenders with 500.00 of credit each, fundraising loans
to lend to, and some loans already funded (by those lenders) so that partners have repayments to
make from the first second. The calls are the ones the resolvers make, so the books are real.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bench.common import gather_limited
from bench.load import documents
from bench.load.mix import SHARE, money
from bench.p3_fanout.workload import COUNTRIES, GENDERS, SECTORS
from graph.ids import encode_id
from lending.accounts import deposit, register_lender
from lending.funding import lend
from lending.loans import Listing, list_loan
from lending.partners import create_partner
from lending.tokens import issue_token
from models import Gender, Partner, Role, Sector

CREDIT = 50_000  # cents each lender starts with
FUNDED_LOAN = 10 * SHARE  # the loans funded before the run: 250.00, ten shares each
TERM = 10


@dataclass
class World:
    partners: list[dict[str, str]]  # id, token, country
    lenders: list[tuple[str, int]]  # token, balance in cents
    fundraising: list[tuple[str, int, str]]  # loan id, remaining cents, partner id
    repayable: list[tuple[str, str, int, int, int]]  # loan id, partner id, amount, outstanding, term
    funders: list[str]  # tokens of lenders with a share in a funded loan (their myEvents will have events)


async def arrange(rng: random.Random, lenders: int, loans: int, funded: int) -> World:
    now = datetime.now(UTC)
    partner_rows: list[tuple[Partner, str]] = []
    for code, risk in COUNTRIES.items():
        for n in range(2):
            partner = await create_partner(f"{code} Partner {n}", code, risk)
            partner_rows.append((partner, await issue_token(Role.PARTNER, partner_id=partner.id, name="load")))
    partners = [
        {"id": encode_id("Partner", p.id), "token": token, "country": p.country_code} for p, token in partner_rows
    ]

    async def lender(i: int) -> tuple[int, str]:
        row, token = await register_lender(f"Lender {i}", f"lender{i}@example.org", now)
        await deposit(row.id, money(CREDIT), f"arrange-{i}", now)
        return row.id, token

    made = await gather_limited(8, [partial(lender, i) for i in range(lenders)])
    balances = [CREDIT] * lenders

    def listing(i: int, amount: int, country: str) -> Listing:
        return Listing(
            name=f"Borrower {i}",
            use="to buy seed and fertiliser for the coming season",
            country=country,
            sector=Sector(rng.choice(SECTORS)),
            gender=Gender(rng.choice(GENDERS[:2])),
            amount=money(amount),
            term_months=TERM,
        )

    async def listed(i: int, amount: int) -> tuple[Any, Partner]:
        partner = partner_rows[i % len(partner_rows)][0]
        return await list_loan(partner, listing(i, amount, partner.country_code), now), partner

    open_loans = await gather_limited(8, [partial(listed, i, SHARE * rng.randint(4, 20)) for i in range(loans)])
    fundraising = [
        (encode_id("Loan", loan.id), loan.amount_cents, encode_id("Partner", partner.id))
        for loan, partner in open_loans
    ]
    to_fund = await gather_limited(8, [partial(listed, loans + i, FUNDED_LOAN) for i in range(funded)])
    funders: set[int] = set()
    for k, (loan, _) in enumerate(to_fund):
        for share in range(FUNDED_LOAN // SHARE):
            who = (k * 7 + share) % lenders
            await lend(made[who][0], loan.id, money(SHARE), f"arrange-lend-{k}-{share}", now)
            balances[who] -= SHARE
            funders.add(who)
    repayable = [
        (encode_id("Loan", loan.id), encode_id("Partner", partner.id), FUNDED_LOAN, FUNDED_LOAN, TERM)
        for loan, partner in to_fund
    ]
    return World(
        partners=partners,
        lenders=[(token, balances[i]) for i, (_, token) in enumerate(made)],
        fundraising=fundraising,
        repayable=repayable,
        funders=[made[i][1] for i in sorted(funders)],
    )


def subscriptions(world: World, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` subscriptions: 40% loanListed (a tenth unfiltered), 30% loanProgress, 30% myEvents."""
    followed = sorted(world.fundraising, key=lambda loan: loan[1])[:8]  # the fullest: lends go there first
    countries = list(COUNTRIES)
    found: list[dict[str, Any]] = []
    for i in range(count):
        slot = i % 10
        if slot < 4:
            wanted: dict[str, Any] = {}
            if i % 40:
                wanted = {"countries": rng.sample(countries, 2)} if i % 2 else {"sectors": rng.sample(SECTORS, 3)}
            variables = {"filter": wanted or None}
            found.append(
                {"kind": "loanListed", "field": "loanListed", "query": documents.LISTED, "variables": variables}
            )
        elif slot < 7 and followed:
            loan_id = followed[i % len(followed)][0]
            found.append(
                {"kind": "loanProgress", "field": "loanProgress", "query": documents.PROGRESS,
                 "variables": {"loanId": loan_id}}
            )  # fmt: skip
        else:
            followers = world.funders or [token for token, _ in world.lenders]
            token = followers[i % len(followers)]
            found.append(
                {"kind": "myEvents", "field": "myEvents", "query": documents.MY_EVENTS, "variables": {}, "token": token}
            )
    return found


def client_configs(
    world: World, subscribed: list[dict[str, Any]], processes: int, common: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each client process's config: its lenders, repayable loans and subscriptions; every partner and open loan."""
    return [
        {
            **common,
            "rate": common["rate"] / processes,
            "seed": common["seed"] * 1000 + n,
            "tag": f"{common['tag']}-{n}",
            "partners": world.partners,
            "lenders": world.lenders[n::processes],
            "fundraising": world.fundraising,
            "repayable": world.repayable[n::processes],
            "subscriptions": subscribed[n::processes],
        }
        for n in range(processes)
    ]
