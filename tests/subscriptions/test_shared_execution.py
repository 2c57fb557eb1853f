"""An event is executed once per distinct selection, not once per subscriber."""

from tests.api import partner_token
from tests.ws import Socket

BRIEF = "subscription($f: LoanFilter) { loanListed(filter: $f) { eventId loan { name amount partner { name } } } }"
FULL = "subscription { loanListed { eventId loan { name use sector country { name } } } }"
PRIVATE = (
    "subscription { loanListed { eventId loan { name lenders(first: 5) { edges { node { displayName balance } } } } } }"
)


async def test_subscribers_with_the_same_selection_share_one_execution(live):
    shared = live.app.state.graphql.shared
    partner = await partner_token()
    filters = [None, {"countries": ["KE"]}, {"sectors": ["CLOTHING", "FOOD"]}]
    async with Socket.open(live.ws_url) as a, Socket.open(live.ws_url) as b, Socket.open(live.ws_url) as c:
        for index, (ws, loan_filter) in enumerate(zip((a, b, c), filters, strict=True)):
            await ws.subscribe(f"brief{index}", BRIEF, {"f": loan_filter})
        await a.subscribe("full", FULL)
        before = shared.executions
        await live.loan_id(partner, name="Amina")
        await live.loan_id(partner, name="Wanjiru", sector="FOOD")

        brief = [[(await ws.next(f"brief{i}"))["loanListed"] for _ in range(2)] for i, ws in enumerate((a, b, c))]
        full = [(await a.next("full"))["loanListed"] for _ in range(2)]
        assert brief[0] == brief[1] == brief[2]
        assert [e["loan"]["name"] for e in brief[0]] == ["Amina", "Wanjiru"]
        assert [e["loan"]["use"] for e in full] == ["to buy fabric for her tailoring shop"] * 2
        # Two events, two distinct selections: four executions for eight messages.
        assert shared.executions - before == 4


async def test_a_selection_of_private_fields_is_executed_per_viewer(live):
    shared = live.app.state.graphql.shared
    partner = await partner_token()
    _, ada = await live.funded_lender("25.00", "Ada")
    _, bob = await live.funded_lender("25.00", "Bob")
    async with Socket.open(live.ws_url, token=ada) as a, Socket.open(live.ws_url, token=bob) as b:
        await a.subscribe("p", PRIVATE)
        await b.subscribe("p", PRIVATE)
        before = shared.executions
        await live.loan_id(partner, name="Amina")
        assert (await a.next("p"))["loanListed"]["loan"]["name"] == "Amina"
        assert (await b.next("p"))["loanListed"]["loan"]["name"] == "Amina"
        assert shared.executions - before == 2
