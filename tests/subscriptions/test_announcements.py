"""A mutation wakes every process's hub (one hint on the bus) only when it wrote events: a deposit of a lender
without an auto-lend rule, a withdrawal or a refused lend writes none, so no hub reads the outbox for it.
Over HTTP and over a WebSocket alike; subscribers still hear every event at once."""

import pytest

from graph.ids import decode_id
from models import Event, Loan, LoanStatus
from tests.api import Api, partner_token
from tests.ws import Socket

RULE = """mutation { setAutoLendRule(input: {amountPerLoan: "25.00"}) { __typename } }"""
PROGRESS = """subscription($loan: ID!) { loanProgress(loanId: $loan) { kind loan { fundedAmount } } }"""


@pytest.fixture
def announced(api_app, monkeypatch) -> list[int]:
    """Every hint the app's bus sends, as the number of events in the outbox at that moment."""
    bus = api_app.state.graphql.hub.bus
    sent: list[int] = []
    announce = bus.announce

    async def counted() -> None:
        sent.append(await Event.all().count())
        await announce()

    monkeypatch.setattr(bus, "announce", counted)
    return sent


@pytest.fixture
def api_app(live: Api):
    return live.app


async def test_only_mutations_that_wrote_events_announce_them(live: Api, announced: list[int]):
    _, ada = await live.funded_lender("100.00")
    assert announced == []  # registering and depositing wrote no event
    partner = await partner_token()
    loan = await live.loan_id(partner, amount="50.00")
    assert len(announced) == 1  # the listing
    assert (await live.deposit(ada, "25.00"))["__typename"] == "DepositSuccess"
    withdrawn = """mutation { withdraw(input: {amount: "5.00", idempotencyKey: "w"}) { __typename } }"""
    assert (await live.data(withdrawn, token=ada))["withdraw"]["__typename"] == "WithdrawSuccess"
    assert len(announced) == 1
    assert (await live.lend(ada, loan, key="first"))["__typename"] == "LendSuccess"
    assert (await live.lend(ada, loan, key="first"))["__typename"] == "LendSuccess"  # a replay writes nothing
    assert (await live.lend(ada, loan, "50.00"))["__typename"] == "ExceedsRemaining"
    assert len(announced) == 2 and announced[-1] == await Event.all().count()
    _, grace = await live.register("Grace")
    assert (await live.data(RULE, token=grace))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
    before = len(announced)
    assert (await live.deposit(grace, "25.00"))["__typename"] == "DepositSuccess"  # her rule lends it: events
    assert len(announced) == before + 1
    assert (await Loan.get(id=decode_id(loan, "Loan"))).status is LoanStatus.FUNDED  # Grace's rule filled it


async def test_a_subscriber_hears_a_lend_made_over_a_websocket_at_once(live: Api, announced: list[int]):
    _, ada = await live.funded_lender("100.00")
    loan = await live.loan_id(await partner_token(), amount="50.00")
    lend = """mutation($loan: ID!) { lend(input: {loanId: $loan, amount: "25.00", idempotencyKey: "ws"}) {
      __typename } }"""
    deposit = """mutation { deposit(input: {amount: "5.00", idempotencyKey: "ws-d"}) { __typename } }"""
    await live.caught_up()  # the listing's event read: the live stream below starts after it
    async with Socket.open(live.ws_url, token=ada) as listener, Socket.open(live.ws_url, token=ada) as writer:
        await listener.subscribe("p", PROGRESS, {"loan": loan})
        await live.listening(1)
        await writer.subscribe("d", deposit)
        assert (await writer.next("d"))["deposit"]["__typename"] == "DepositSuccess"
        count = len(announced)
        await writer.subscribe("l", lend, {"loan": loan})
        assert (await writer.next("l"))["lend"]["__typename"] == "LendSuccess"
        event = await listener.next("p")
        assert event["loanProgress"] == {"kind": "SHARE_ADDED", "loan": {"fundedAmount": "25.00"}}
    assert len(announced) == count + 1
