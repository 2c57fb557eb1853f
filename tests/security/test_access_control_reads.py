"""Access control over HTTP reads: every query path, node(id) of every type, and the auto-lend preview,
as every viewer (tests/security/access_control/ describes the world and how answers are judged)."""

import json
from typing import Any

from strawberry.relay import GlobalID

from lending.tokens import PORTFOLIO_READ
from tests.security.access_control.audit import Audit, report
from tests.security.access_control.cases import PROBES
from tests.security.access_control.documents import PREVIEWS, nodes_document
from tests.security.access_control.private import PRIVATE_NODE_TYPES, PUBLIC_NODE_TYPES
from tests.security.access_control.world import VIEWERS, build_world


async def test_no_query_path_shows_anyone_a_lenders_private_data(api):
    world = await build_world(api)
    variables = {name: world.ids[name] for name in ("Ada", "Bob", "Shared", "Amina", "Otieno", "Rosa")}
    variables = {key.lower(): value for key, value in variables.items()}
    problems: list[str] = []
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        for probe in PROBES:
            wanted = {k: v for k, v in variables.items() if f"${k}:" in probe.document}
            body = await api.post(probe.document, wanted, viewer.token)
            if body.get("errors") or body.get("data") is None:
                problems.append(f"[{probe.name}] as {viewer.name}: errors {body.get('errors')}")
                continue
            data = body["data"]
            audit = Audit(world, viewer, probe.name).walk(data)
            problems += audit.problems
            if hidden := sorted(probe.sees - audit.lenders_seen):
                problems.append(f"[{probe.name}] as {viewer.name}: public profiles of {hidden} not shown")
            if probe.facts is not None:
                problems += [f"[{probe.name}] as {viewer.name}: {fact}" for fact in probe.facts(data, viewer, world)]
    assert not problems, report(problems)


async def test_node_of_a_private_object_is_null_for_everyone_but_its_owner(api):
    world = await build_world(api)
    problems: list[str] = []
    # Ada's and Bob's objects of every private node type, and the public nodes.
    ids = []
    for lender in ("Ada", "Bob"):
        for type_name in PRIVATE_NODE_TYPES:
            owned = world.owned_by(lender, type_name)
            if not owned:
                problems.append(f"the world gives {lender} no {type_name}: that node type is untested")
            ids += owned
    ids += [world.ids[name] for name in ("Ada", "Bob", "Shared", "Amina", "Juhudi Kilimo", "Peru Partner")]
    assert {GlobalID.from_id(gid).type_name for gid in ids} == PUBLIC_NODE_TYPES | PRIVATE_NODE_TYPES.keys()
    chunks = [ids[start : start + 10] for start in range(0, len(ids), 10)]
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        data: dict[str, Any] = {}
        for chunk in chunks:
            body = await api.post(nodes_document(chunk), token=viewer.token)
            if body.get("errors"):
                problems.append(f"[node(id)] as {viewer.name}: errors {body['errors']}")
            data |= {chunk[int(alias[1:])]: found for alias, found in (body.get("data") or {}).items()}
        for gid in ids:
            type_name = GlobalID.from_id(gid).type_name
            found = data.get(gid)
            owner = world.owners.get(gid)
            owner_name = world.lenders.get(owner, "public")
            visible = type_name in PUBLIC_NODE_TYPES or viewer.may(owner, PRIVATE_NODE_TYPES[type_name])
            if visible and (found is None or found["id"] != gid):
                problems.append(
                    f"[node(id)] as {viewer.name}: {owner_name}'s {type_name} {gid} is {found}, expected it"
                )
            elif not visible and found is not None:
                problems.append(
                    f"[node(id)] as {viewer.name}: LEAK: node(id: {gid!r}) gives {owner_name}'s {type_name} "
                    f"{json.dumps(found)[:200]}"
                )
        # The private nodes are judged whole above; what the public ones reach is audited here.
        public = {gid: found for gid, found in data.items() if GlobalID.from_id(gid).type_name in PUBLIC_NODE_TYPES}
        problems += Audit(world, viewer, "node(id)").walk(public).problems
    assert not problems, report(problems)


async def test_auto_lend_preview_and_backtest_are_the_callers_own(api):
    world = await build_world(api)
    problems: list[str] = []
    balances = {name: await api.balance(world.token(name)) for name in ("Ada", "Bob")}
    assert balances == {"Ada": "410.00", "Bob": "285.00"}  # the world as arranged; they differ on purpose
    for viewer_name in VIEWERS:
        viewer = world.who[viewer_name]
        own = world.lenders.get(viewer.lender)
        allowed = viewer.lender is not None and PORTFOLIO_READ in viewer.scopes
        # Their own rule: Ada's lends 25.00 a loan, Bob's 50.00; the backtest finds the Shared loan for each.
        body = await api.post(PREVIEWS, {}, viewer.token)
        # A rule given inline, judged against the caller's own credit: the note names that credit.
        broke = await api.post(PREVIEWS, {"input": {"keepBalance": "100000.00"}}, viewer.token)
        for answer in (body, broke):
            if answer.get("errors"):
                problems.append(f"[autoLendPreview] as {viewer.name}: errors {answer['errors']}")
        if body.get("errors") or broke.get("errors"):
            continue
        for which in ("preview", "backtest"):
            result, inline = body["data"][which], broke["data"][which]
            where = f"[autoLend{which.title()}] as {viewer.name}"
            if not allowed:
                for got in (result, inline):
                    if got["__typename"] != "Forbidden":
                        problems.append(f"{where}: LEAK: expected Forbidden, got {json.dumps(got)[:200]}")
                continue
            problems += Audit(world, viewer, f"autoLend{which.title()}").walk([result, inline]).problems
            if result["__typename"] != "AutoLendPreview":
                problems.append(f"{where}: {result}")
                continue
            if which == "backtest":
                picks = [(p["loan"]["name"], p["amount"]) for p in result["loans"]]
                expected = [("Shared", {"Ada": "25.00", "Bob": "50.00"}[own])]
                if picks != expected:
                    problems.append(f"{where}: own rule gives {picks}, expected {expected} (from {own}'s rule)")
            else:
                expected_note = f"No credit to lend: {balances[own]} available, 100000.00 kept."
                if inline["note"] != expected_note:
                    problems.append(f"{where}: note {inline['note']!r}, expected {expected_note!r} ({own}'s credit)")
    assert not problems, report(problems)
