"""Access control of subscriptions: myEvents is the subscriber's own, and results of the public streams
shared among subscribers show each only their own private fields (tests/security/access_control/)."""

import contextlib
import json
from datetime import timedelta

from strawberry.relay import GlobalID

from lending.loans import expire_loans
from lending.tokens import PORTFOLIO_READ
from models import Event
from tests.security.access_control.audit import Audit, report, shared_loan_allocations
from tests.security.access_control.documents import (
    DEFAULT,
    MARK_READ,
    MY_EVENT_KINDS,
    MY_EVENTS,
    STREAM_SELECTIONS,
    listed_document,
    progress_document,
)
from tests.security.access_control.world import build_world
from tests.ws import Socket


async def take(ws: Socket, op: str, count: int, problems: list[str], who: str) -> list[dict]:
    """Up to `count` results of `op` (a short answer is noted in `problems`, not a bare timeout)."""
    taken: list[dict] = []
    try:
        while len(taken) < count:
            taken.append(next(iter((await ws.next(op)).values())))
    except TimeoutError:
        problems.append(f"[{op}] as {who}: {len(taken)} results of {count} expected: {json.dumps(taken)[:300]}")
    return taken


async def _errors_of(ws: Socket, op: str) -> str:
    reply = await ws.receive(op)
    if reply["type"] == "error":
        return json.dumps(reply["payload"])
    if reply["type"] == "next" and reply["payload"].get("errors"):
        return json.dumps(reply["payload"]["errors"])
    return f"not an error: {json.dumps(reply)[:300]}"


async def test_my_events_delivers_only_the_subscribers_own_events(live, clock):
    world = await build_world(live)
    partner, problems = world.token("partner"), []
    last = str((await Event.all().order_by("-id").first()).id)
    names = ("Ada", "Ada's read-only token", "Bob", "anonymous", "Ada's lend-only token", "partner")
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            name: await stack.enter_async_context(Socket.open(live.ws_url, token=world.token(name))) for name in names
        }
        for ws in opened.values():
            await ws.subscribe("me", MY_EVENTS, {"after": last})
        await opened["Bob"].subscribe("replay", MY_EVENTS, {"after": "0"})
        refused = {
            "anonymous": "Sign in",
            "Ada's lend-only token": "lacks the portfolio:read scope",
            "partner": "Only a lender",
        }
        for name, says in refused.items():
            errors = await _errors_of(opened[name], "me")
            if says not in errors:
                problems.append(f"[myEvents] as {name}: expected an error saying {says!r}, got {errors}")

        # Ada's events, of every kind, none of them Bob's business.
        amina = world.ids["Amina"]
        ada = world.token("Ada")
        assert (await live.repay(partner, amina, "40.00"))["__typename"] == "PostRepaymentSuccess"  # credit, repaid
        await live.loan_id(partner, name="Tomato stall", use="to sell tomatoes", sector="RETAIL")  # Ada's alert
        kito = await live.loan_id(partner, name="Kito", amount="25.00")
        assert (await live.lend(ada, kito, "25.00"))["__typename"] == "LendSuccess"  # funded
        assert (await live.data(DEFAULT, {"input": {"loanId": kito}}, partner))["result"][
            "__typename"
        ] == "MarkDefaultSuccess"
        late = await live.loan_id(
            partner, name="Late", amount="100.00", expiresAt=(clock() + timedelta(days=1)).isoformat()
        )
        assert (await live.lend(ada, late, "25.00"))["__typename"] == "LendSuccess"
        clock.advance(days=2)
        assert await expire_loans(clock())  # refunded: LoanExpired
        await live.app.state.graphql.hub.bus.announce()
        read = await live.data(MARK_READ, {"input": {"ids": [world.ids["Ada's notification"]]}}, ada)
        assert read["result"]["__typename"] == "MarkNotificationsReadSuccess", read
        # Then one event of Bob's own: it must be the first thing his stream shows.
        otieno = world.ids["Otieno"]
        assert (await live.repay(partner, otieno, "10.00"))["__typename"] == "PostRepaymentSuccess"

        await world.refresh()
        for name in ("Ada", "Ada's read-only token"):
            viewer, ws = world.who[name], opened[name]
            events = await take(ws, "me", 7, problems, name)
            kinds = {event["__typename"] for event in events}
            if kinds != MY_EVENT_KINDS:
                problems.append(f"[myEvents] as {name}: kinds {sorted(kinds)}, expected {sorted(MY_EVENT_KINDS)}")
            problems += Audit(world, viewer, "myEvents").walk(events).problems
            if not await ws.nothing_for("me", 0.3):
                problems.append(f"[myEvents] as {name}: more events than Ada's seven")
        bob_events = set(await Event.filter(lender_id=world.lender_id("Bob")).values_list("id", flat=True))
        bob, ws = world.who["Bob"], opened["Bob"]
        first = (await take(ws, "me", 1, problems, "Bob") or [{}])[0]
        if not (
            first.get("__typename") == "RepaymentCredited"
            and int(first["eventId"]) in bob_events
            and first["loan"]["name"] == "Otieno"
        ):
            problems.append(
                f"[myEvents] as Bob: LEAK: first event is {json.dumps(first)[:300]}, expected his Otieno credit"
            )
        problems += Audit(world, bob, "myEvents").walk(first).problems
        if not await ws.nothing_for("me", 0.3):
            problems.append("[myEvents] as Bob: more than his one event")
        # Bob's replay from the start: exactly his own events, in order.
        replayed = await take(ws, "replay", len(bob_events), problems, "Bob")
        ids = [int(event["eventId"]) for event in replayed]
        if ids != sorted(bob_events):
            problems.append(
                f'[myEvents(after: "0")] as Bob: LEAK or loss: event ids {ids}, his are {sorted(bob_events)}'
            )
        problems += Audit(world, bob, "myEvents(after: 0)").walk(replayed).problems
        if not await ws.nothing_for("replay", 0.3):
            problems.append('[myEvents(after: "0")] as Bob: replayed events that are not his')
    assert not problems, report(problems)


async def test_shared_stream_results_show_each_subscriber_only_their_own_private_fields(live):
    """loanProgress and loanListed are public, but a selection may reach lenders' private fields through
    `loan.lenders` and `loan.allocations`; the server executes each event once per distinct selection and
    shares the result among subscribers. Each subscriber must still see only their own values."""
    world = await build_world(live)
    shared_loan, problems = world.ids["Shared"], []
    last = str((await Event.all().order_by("-id").first()).id)
    viewers = ("Ada", "Bob", "anonymous", "Ada's read-only token")
    progress = {"loan": shared_loan, "after": last}
    documents = {
        **{f"loanProgress {name}": (progress_document(sel), progress) for name, sel in STREAM_SELECTIONS.items()},
        **{f"loanListed {name}": (listed_document(sel), {}) for name, sel in STREAM_SELECTIONS.items()},
    }  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            name: await stack.enter_async_context(Socket.open(live.ws_url, token=world.token(name))) for name in viewers
        }
        for ws in opened.values():
            for op, (document, variables) in documents.items():
                await ws.subscribe(op, document, variables)
        # Carol lends to the Shared loan (already lent to by Ada's and Bob's rules): one loanProgress event;
        # loanListed replays the Shared loan's listing (after: "0").
        assert (await live.lend(world.token("Carol"), shared_loan, "25.00"))["__typename"] == "LendSuccess"
        balances = {name: await live.balance(world.token(name)) for name in ("Ada", "Bob")}
        for name in viewers:
            viewer, ws = world.who[name], opened[name]
            for op in documents:
                message = await ws.receive(op)
                if message["type"] != "next" or message["payload"].get("errors"):
                    problems.append(f"[{op}] as {name}: {json.dumps(message)[:300]}")
                    continue
                event = next(iter(message["payload"]["data"].values()))
                audit = Audit(world, viewer, op).walk(event)
                problems += audit.problems
                loan = event["loan"]
                if op.startswith("loanProgress"):
                    facts = {k: event[k] for k in ("kind", "amountAdded", "fundedAmount", "lenderCount", "status")}
                    if facts != {
                        "kind": "SHARE_ADDED",
                        "amountAdded": "25.00",
                        "fundedAmount": "100.00",
                        "lenderCount": 3,
                        "status": "FUNDRAISING",
                    }:
                        problems.append(f"[{op}] as {name}: public progress {facts}")
                if "allocations" in loan:
                    problems += shared_loan_allocations(loan["allocations"], viewer, world, op)
                    continue
                if not {"Ada", "Bob"} <= audit.lenders_seen:
                    problems.append(
                        f"[{op}] as {name}: the public profiles of Ada and Bob are not shown ({audit.lenders_seen})"
                    )
                for edge in loan["lenders"]["edges"]:
                    node = edge["node"]
                    owner = world.lenders[int(GlobalID.from_id(node["id"]).node_id)]
                    if (
                        "balance" in node
                        and viewer.may(world.lender_id(owner), PORTFOLIO_READ)
                        and node["balance"] != balances[owner]
                    ):
                        problems.append(f"[{op}] as {name}: own balance {node['balance']}, expected {balances[owner]}")
    assert not problems, report(problems)
