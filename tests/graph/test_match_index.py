"""The match index through the API: saved-search alerts and auto-lending follow every save, delete and rule change.

Each change is an event (SEARCH_SAVED, SEARCH_DELETED, RULE_SET) that every process's index applies;
the process that made it applies it at commit, so its very next listing sees it. A change made by
another process reaches this one through the outbox, and an index built at start-up reads what is stored.
"""

from tortoise.transactions import in_transaction

from graph.ids import decode_id
from lending import matchers
from lending.filters import LoanFilter
from lending.outbox import emit
from models import Event, EventKind, Lender, Notification, SavedSearch, Sector, Share
from tests.api import partner_token
from tests.conftest import serve
from tests.polling import until
from tests.subscriptions.documents import MINE
from tests.ws import Socket

DELETE = """mutation($input: DeleteSavedSearchInput!) { deleteSavedSearch(input: $input) { __typename } }"""
SET_RULE = """mutation($input: AutoLendRuleInput!) { setAutoLendRule(input: $input) { __typename } }"""


async def alerts_for(lender: str) -> list[tuple[str, str]]:
    """(loan name, message) of the lender's saved-search notifications, oldest first."""
    rows = Notification.filter(lender__display_name=lender, kind="SAVED_SEARCH_MATCH").order_by("id")
    return list(await rows.values_list("loan__name", "message"))


async def index_events() -> list[tuple[str, dict]]:
    kinds = (EventKind.SEARCH_SAVED, EventKind.SEARCH_DELETED, EventKind.RULE_SET)
    rows = await Event.filter(kind__in=kinds).order_by("id").values_list("kind", "payload", "loan_id", "lender_id")
    assert all(loan is None and lender is None for _, _, loan, lender in rows)  # on no subscriber's stream
    return [(kind, payload) for kind, payload, _, _ in rows]


async def test_a_saved_search_alerts_at_once_and_a_deleted_one_never_again(live):
    _, ada = await live.register("Ada")
    kenya = await partner_token()
    async with Socket.open(live.ws_url, token=ada) as ws:
        await ws.subscribe("me", MINE)
        saved = await live.save_search(ada, "Kenyan food", {"countries": ["KE"], "sectors": ["FOOD"]})
        search_id = decode_id(saved["savedSearch"]["id"], "SavedSearch")
        await live.loan_id(kenya, name="Amina", sector="CLOTHING")
        await live.loan_id(kenya, name="Wanjiru", sector="FOOD")
        alert = (await ws.next("me"))["myEvents"]
        assert (alert["__typename"], alert["notification"]["loan"]) == ("NotificationCreated", {"name": "Wanjiru"})
        assert await alerts_for("Ada") == [
            ("Wanjiru", "New loan for your search \u201cKenyan food\u201d: Wanjiru in Kenya, Food, 500.00 USD: "
             "to buy fabric for her tailoring shop")
        ]  # fmt: skip

        deleted = await live.data(DELETE, {"input": {"id": saved["savedSearch"]["id"]}}, ada)
        assert deleted["deleteSavedSearch"]["__typename"] == "DeleteSavedSearchSuccess"
        await live.loan_id(kenya, name="Zawadi", sector="FOOD")
        assert await ws.nothing_for("me", 0.5)
    assert [name for name, _ in await alerts_for("Ada")] == ["Wanjiru"]
    assert await SavedSearch.all().count() == 0
    criteria = LoanFilter.build(countries=["KE"], sectors=[Sector.FOOD]).to_json()
    assert await index_events() == [
        ("SEARCH_SAVED", {"search_id": search_id, "criteria": criteria, "alert": True}),
        ("SEARCH_DELETED", {"search_id": search_id}),
    ]


async def test_a_replaced_search_alerts_by_its_new_filter_and_a_silenced_one_not_at_all(api):
    _, ada = await api.register("Ada")
    kenya = await partner_token()
    await api.save_search(ada, "mine", {"sectors": ["FOOD"]})
    await api.save_search(ada, "mine", {"sectors": ["RETAIL"]})  # the same name: replaced
    await api.loan_id(kenya, name="Amina", sector="FOOD")
    await api.loan_id(kenya, name="Baraka", sector="RETAIL")
    await api.save_search(ada, "mine", {"sectors": ["RETAIL"]}, alert=False)
    await api.loan_id(kenya, name="Chiku", sector="RETAIL")
    assert [name for name, _ in await alerts_for("Ada")] == ["Baraka"]
    assert [payload["alert"] for _, payload in await index_events()] == [True, True, False]


async def test_a_change_made_by_another_process_arrives_through_the_outbox(live, clock):
    """A search stored and announced by another process: this process's hub applies it, then listings alert."""
    await live.register("Ada")
    kenya = await partner_token()
    await live.loan_id(kenya, name="Amina")  # the index is in use before the change
    lender = await Lender.get(display_name="Ada")
    async with in_transaction():  # as another process's save_search commits it: nothing applied here
        search = await SavedSearch.create(
            lender=lender, name="Kenya", criteria=LoanFilter.build(countries=["KE"]).to_json(), created_at=clock.now
        )
        [event_id] = await emit([matchers.search_saved(search)], clock.now)
    hub = live.app.state.graphql.hub
    await hub.bus.announce()
    await until(lambda: hub.last_id >= event_id, "the hub to read the other process's change")
    await live.loan_id(kenya, name="Baraka")
    assert [name for name, _ in await alerts_for("Ada")] == ["Baraka"]


async def test_an_index_built_at_start_up_holds_every_stored_search(database_url, clock):
    async with serve(database_url, clock) as first:
        _, ada = await first.register("Ada")
        await first.save_search(ada, "Kenya", {"countries": ["KE"]})
        kenya = await partner_token()
    # A new app connects anew (db.connections_opened): what it held in memory before is not used.
    async with serve(database_url, clock, fresh=False) as second:
        await second.loan_id(kenya, name="Amina")
        assert [name for name, _ in await alerts_for("Ada")] == ["Amina"]


async def test_a_rule_lends_by_its_criteria_as_set_and_not_once_disabled(api):
    _, ada = await api.funded_lender("100.00", "Ada")
    kenya = await partner_token()
    rule = {"criteria": {"sectors": ["FOOD"]}, "amountPerLoan": "25.00"}
    assert (await api.data(SET_RULE, {"input": rule}, ada))["setAutoLendRule"]["__typename"] == "AutoLendRuleSuccess"
    await api.loan_id(kenya, name="Amina", sector="CLOTHING")
    await api.loan_id(kenya, name="Wanjiru", sector="FOOD")
    rule["criteria"] = {"sectors": ["CLOTHING"]}
    await api.data(SET_RULE, {"input": rule}, ada)  # replaced: lends to Amina now, from its own run
    await api.loan_id(kenya, name="Baraka", sector="FOOD")
    await api.loan_id(kenya, name="Chiku", sector="CLOTHING")
    await api.data(SET_RULE, {"input": {**rule, "enabled": False}}, ada)
    await api.loan_id(kenya, name="Dalia", sector="CLOTHING")
    shares = await Share.filter(lender__display_name="Ada").order_by("id").values_list("loan__name", flat=True)
    assert shares == ["Wanjiru", "Amina", "Chiku"]
    assert await api.balance(ada) == "25.00"
    events = await index_events()
    assert [(p["criteria"]["sectors"], p["enabled"]) for _, p in events] == [
        (["FOOD"], True), (["CLOTHING"], True), (["CLOTHING"], False)
    ]  # fmt: skip
