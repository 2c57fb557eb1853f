"""Live subscriptions over graphql-transport-ws: progress, listings and a lender's own events."""

import json

from lending.filters import LoanFilter
from models import Event, EventKind
from tests.api import partner_token
from tests.subscriptions.documents import LISTED, MINE, PROGRESS
from tests.ws import Socket


async def test_loan_progress_reports_every_share_and_the_funding(live):
    partner = await partner_token()
    loan_id = await live.loan_id(partner, amount="50.00")
    _, ada = await live.funded_lender("25.00", "Ada")
    _, bob = await live.funded_lender("25.00", "Bob")
    await live.caught_up()  # the listing's event read: the live stream below starts after it
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan_id})
        assert await ws.nothing_for("p", 0.3)  # subscribed; nothing has happened yet
        await live.lend(ada, loan_id, "25.00")
        first = (await ws.next("p"))["loanProgress"]
        fields = ("kind", "amountAdded", "fundedAmount", "remainingAmount", "lenderCount", "status")
        assert {k: first[k] for k in fields} == {
            "kind": "SHARE_ADDED", "amountAdded": "25.00", "fundedAmount": "25.00", "remainingAmount": "25.00",
            "lenderCount": 1, "status": "FUNDRAISING",
        }  # fmt: skip
        await live.lend(bob, loan_id, "25.00")
        second = (await ws.next("p"))["loanProgress"]
        funded = (await ws.next("p"))["loanProgress"]
        assert (second["kind"], second["fundedAmount"], second["lenderCount"]) == ("SHARE_ADDED", "50.00", 2)
        assert (funded["kind"], funded["status"], funded["remainingAmount"]) == ("LOAN_FUNDED", "FUNDED", "0.00")
        assert first["eventId"] < second["eventId"] < funded["eventId"]


async def test_replay_after_an_event_id_then_live_each_once(live):
    partner = await partner_token()
    loan_id = await live.loan_id(partner, amount="100.00")
    lenders = [(await live.funded_lender("25.00", name))[1] for name in ("A", "B", "C", "D")]
    await live.lend(lenders[0], loan_id)
    await live.lend(lenders[1], loan_id)
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan_id, "after": "0"})  # from the very start
        seen = [(await ws.next("p"))["loanProgress"] for _ in range(3)]
        assert [(e["kind"], e["fundedAmount"]) for e in seen] == [
            ("LOAN_LISTED", "0.00"),
            ("SHARE_ADDED", "25.00"),
            ("SHARE_ADDED", "50.00"),
        ]
        cursor = seen[1]["eventId"]
    # Reconnect with the first id seen: the second is replayed, then the live ones follow.
    await live.lend(lenders[2], loan_id)
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("p", PROGRESS, {"loanId": loan_id, "after": cursor})
        assert [(await ws.next("p"))["loanProgress"]["fundedAmount"] for _ in range(2)] == ["50.00", "75.00"]
        await live.lend(lenders[3], loan_id)
        tail = [(await ws.next("p"))["loanProgress"] for _ in range(2)]
        assert [(e["kind"], e["fundedAmount"]) for e in tail] == [("SHARE_ADDED", "100.00"), ("LOAN_FUNDED", "100.00")]
        assert await ws.nothing_for("p")


async def test_loan_listed_sends_only_matching_listings(live):
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    peru = await partner_token("Peru Partner", "PE", "2.0")
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("ke", LISTED, {"filter": {"countries": ["KE"], "sectors": ["FOOD"]}})
        await ws.subscribe("all", LISTED)
        await ws.subscribe("safe", LISTED, {"filter": {"riskRatingMin": "3.0"}})
        await live.loan_id(peru, name="Rosa", countryIsoCode="PE", sector="FOOD")
        await live.loan_id(kenya, name="Amina", sector="CLOTHING")
        await live.loan_id(kenya, name="Wanjiru", sector="FOOD")
        assert [(await ws.next("all"))["loanListed"]["loan"]["name"] for _ in range(3)] == ["Rosa", "Amina", "Wanjiru"]
        assert (await ws.next("ke"))["loanListed"]["loan"] == {
            "name": "Wanjiru",
            "country": {"isoCode": "KE"},
            "sector": "FOOD",
        }
        assert [(await ws.next("safe"))["loanListed"]["loan"]["name"] for _ in range(2)] == ["Amina", "Wanjiru"]
        assert await ws.nothing_for("ke") and await ws.nothing_for("safe")


async def test_a_filtered_listing_stream_replays_and_follows_only_matching_listings(live):
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    peru = await partner_token("Peru Partner", "PE", "2.0")
    await live.loan_id(kenya, name="Amina")
    await live.loan_id(peru, name="Rosa", countryIsoCode="PE")
    await live.caught_up()  # "all" starts after Rosa, not at an earlier horizon the hub had not moved past yet
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("ke", LISTED, {"filter": {"countries": ["KE"]}, "after": "0"})
        await ws.subscribe("all", LISTED)
        await live.listening(2)
        assert (await ws.next("ke"))["loanListed"]["loan"]["name"] == "Amina"  # replayed; Rosa skipped
        await live.loan_id(peru, name="Pedro", countryIsoCode="PE")
        await live.loan_id(kenya, name="Wanjiru")
        assert [(await ws.next("all"))["loanListed"]["loan"]["name"] for _ in range(2)] == ["Pedro", "Wanjiru"]
        assert (await ws.next("ke"))["loanListed"]["loan"]["name"] == "Wanjiru"
        assert await ws.nothing_for("ke")


async def test_subscribers_with_the_same_filter_have_each_listing_judged_once(live, monkeypatch):
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    judged = []
    real = LoanFilter.matches

    def matches(self, *args):
        judged.append(self)
        return real(self, *args)

    monkeypatch.setattr(LoanFilter, "matches", matches)
    async with Socket.open(live.ws_url) as first, Socket.open(live.ws_url) as second:
        for socket in (first, second):
            await socket.subscribe("ke", LISTED, {"filter": {"countries": ["KE"], "sectors": ["FOOD"]}})
        await live.listening(2)
        await live.loan_id(kenya, name="Wanjiru", sector="FOOD")
        for socket in (first, second):
            assert (await socket.next("ke"))["loanListed"]["loan"]["name"] == "Wanjiru"
    assert len(judged) == 1


async def test_a_filter_that_fails_ends_its_subscription_and_no_other(live, monkeypatch):
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    real = LoanFilter.matches

    def matches(self, loan, *args):
        if loan.name == "Boom":
            raise RuntimeError("a filter that cannot judge this loan")
        return real(self, loan, *args)

    monkeypatch.setattr(LoanFilter, "matches", matches)
    async with Socket.open(live.ws_url) as ws:
        await ws.subscribe("ke", LISTED, {"filter": {"countries": ["KE"]}})
        await ws.subscribe("all", LISTED)
        await live.listening(2)
        await live.loan_id(kenya, name="Amina")
        await live.loan_id(kenya, name="Boom")
        await live.loan_id(kenya, name="Wanjiru")
        names = [(await ws.next("all"))["loanListed"]["loan"]["name"] for _ in range(3)]
        assert names == ["Amina", "Boom", "Wanjiru"]  # the hub's delivery to others goes on
        assert (await ws.next("ke"))["loanListed"]["loan"]["name"] == "Amina"
        ended = await ws.receive("ke")
        assert ended["type"] in ("next", "error") and "a filter that cannot" not in json.dumps(ended)
        errors = ended["payload"]["errors"] if ended["type"] == "next" else ended["payload"]
        assert errors[0]["extensions"]["code"] == "INTERNAL"


async def test_my_events_follow_my_money(live):
    partner = await partner_token()
    loan_id = await live.loan_id(partner, amount="50.00", name="Amina")
    _, ada = await live.funded_lender("25.00", "Ada")
    _, bob = await live.funded_lender("25.00", "Bob")
    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("me", MINE)
        await live.lend(ada, loan_id)
        await live.lend(bob, loan_id)
        funded = (await ws.next("me"))["myEvents"]
        assert funded["__typename"] == "LoanFunded" and funded["loan"] == {"name": "Amina", "status": "FUNDED"}
        await live.repay(partner, loan_id, "10.01")
        credit = (await ws.next("me"))["myEvents"]
        assert credit["__typename"] == "RepaymentCredited"
        assert credit["amount"] in ("5.00", "5.01") and credit["currencyLoss"] == "0.00"
        await live.repay(partner, loan_id, "39.99")
        kinds = [(await ws.next("me"))["myEvents"]["__typename"] for _ in range(2)]
        assert kinds == ["RepaymentCredited", "LoanRepaid"]
        assert await ws.nothing_for("me")
    # Bob's stream holds his own events only.
    assert await Event.filter(lender__display_name="Bob").count() == 4


async def test_saved_search_alerts_arrive_as_notifications(live):
    _, ada = await live.register("Ada")
    saved = await live.data(
        """mutation { saveSearch(input: {
             name: "Kenyan food", filter: {countries: ["KE"], sectors: [FOOD]}, alert: true}) {
             __typename ... on SaveSearchSuccess { savedSearch { name alert filter { countries sectors } } } } }""",
        token=ada,
    )
    assert saved["saveSearch"]["savedSearch"] == {
        "name": "Kenyan food", "alert": True, "filter": {"countries": ["KE"], "sectors": ["FOOD"]}
    }  # fmt: skip
    kenya = await partner_token()
    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("me", MINE)
        await live.loan_id(kenya, name="Amina", sector="CLOTHING")
        await live.loan_id(kenya, name="Wanjiru", sector="FOOD", use="to buy maize flour")
        event = (await ws.next("me"))["myEvents"]
        assert event["__typename"] == "NotificationCreated"
        assert event["notification"]["loan"] == {"name": "Wanjiru"}
        assert "Kenyan food" in event["notification"]["message"] and "Wanjiru" in event["notification"]["message"]
        assert await ws.nothing_for("me")
    stored = await live.data("{ me { notifications(first: 10) { totalCount edges { node { message } } } } }", token=ada)
    assert stored["me"]["notifications"]["totalCount"] == 1


async def test_marking_notifications_read_reaches_the_lenders_other_clients(live):
    _, ada = await live.register("Ada")
    assert (await live.save_search(ada, "Kenya", {"countries": ["KE"]}))["__typename"] == "SaveSearchSuccess"
    kenya = await partner_token()
    async with Socket.open(live.ws_url, token=ada) as phone:
        await phone.subscribe("me", MINE)
        for name in ("Amina", "Baraka", "Chiku"):
            await live.loan_id(kenya, name=name)
        alerts = [(await phone.next("me"))["myEvents"]["notification"]["id"] for _ in range(3)]

        # Read on another client: first one notification, then the rest; a call that changes nothing is no event.
        assert await live.mark_read(ada, ids=[alerts[1]]) == {
            "__typename": "MarkNotificationsReadSuccess", "marked": 1, "unreadCount": 2
        }  # fmt: skip
        await live.mark_read(ada, ids=[alerts[1]])
        await live.mark_read(ada, all=True)
        read = [(await phone.next("me"))["myEvents"] for _ in range(2)]
        assert [{k: v for k, v in event.items() if k != "eventId"} for event in read] == [
            {"__typename": "NotificationsRead", "marked": 1, "unreadCount": 2, "notificationIds": [alerts[1]]},
            {"__typename": "NotificationsRead", "marked": 2, "unreadCount": 0, "notificationIds": None},
        ]
        assert await phone.nothing_for("me")
    # A client that was away replays them, as any event.
    async with Socket.open(live.ws_url, token=ada) as laptop:
        await laptop.subscribe("me", MINE, {"after": read[0]["eventId"]})
        assert (await laptop.next("me"))["myEvents"] == read[1]
    kinds = await Event.filter(kind=EventKind.NOTIFICATIONS_READ).values_list("payload", flat=True)
    assert [(p["marked"], p["unread"]) for p in kinds] == [(1, 2), (2, 0)]
