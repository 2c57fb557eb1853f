"""What expiring a loan costs the database: the same number of statements for 5 lenders as for 40.

An expiry refunds every share in one batch of transfers and writes the
loan's event and each lender's with one INSERT, so neither grows with the
number of lenders refunded. Counted on PostgreSQL, where the set-based
statements run.
"""

from lending.loans import expire_loan
from models import Event, EventKind, Loan, LoanStatus, Transfer, TransferKind
from tests.api import Api, partner_token
from tests.graph.test_repayment_statements import writes
from tests.querycount import count_queries


async def loan_of_lenders(api: Api, partner: str, group: str, count: int) -> tuple[int, list[str]]:
    """A fundraising loan with `count` shares of 25.00, one per lender, room left for one more."""
    loan_id = await api.loan_id(partner, name=f"{group} loan", amount=f"{25 * (count + 1)}.00")
    tokens = []
    for n in range(count):
        _, token = await api.funded_lender("25.00", f"{group}{n}")
        assert (await api.lend(token, loan_id))["__typename"] == "LendSuccess"
        tokens.append(token)
    return (await Loan.get(name=f"{group} loan")).id, tokens


async def test_an_expiry_costs_the_same_statements_for_5_lenders_as_for_40(pg_api, clock):
    partner = await partner_token()
    small, few = await loan_of_lenders(pg_api, partner, "Few", 5)
    large, many = await loan_of_lenders(pg_api, partner, "Many", 40)
    clock.advance(days=31)

    counts = {}
    for loan_id, lenders in ((small, 5), (large, 40)):
        with count_queries(this_task_only=True) as queries:
            assert await expire_loan(loan_id, clock()) is True
        counts[lenders] = queries

    assert len(counts[5]) == len(counts[40]), "\n\n".join(q.report() for q in counts.values())
    for queries in counts.values():  # the refunds' balances, the refunds, the events: one statement each
        assert writes(queries, "UPDATE account") == 1, queries.report()
        assert writes(queries, "INSERT INTO transfer") == writes(queries, "INSERT INTO event") == 1, queries.report()
    for token in few + many:
        assert await pg_api.balance(token) == "25.00"
    assert await Transfer.filter(kind=TransferKind.REFUND).count() == 45
    for loan_id, lenders in ((small, 5), (large, 40)):
        assert (await Loan.get(id=loan_id)).status is LoanStatus.EXPIRED
        events = await Event.filter(loan_id=loan_id, kind=EventKind.LOAN_EXPIRED).order_by("id")
        # The loan's stream first, then each lender's, by lender id, each with what it got back.
        assert events[0].lender_id is None and events[0].payload["status"] == "EXPIRED"
        assert [e.lender_id for e in events[1:]] == sorted(e.lender_id for e in events[1:])
        assert [e.payload for e in events[1:]] == [{"refunded": 2500}] * lenders
    assert await expire_loan(small, clock()) is False  # expired once: nothing more to refund
