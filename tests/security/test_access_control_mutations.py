"""Access control of mutations: someone else's things are typed errors that change nothing, and a payload
shows only the caller's own data (tests/security/access_control/ describes the world and the judging)."""

import json
import re

from graph.ids import encode_id
from models import SavedSearch
from tests.api import new_key
from tests.security.access_control.audit import Audit, report
from tests.security.access_control.cases import CROSS_OWNER, listing
from tests.security.access_control.documents import DELETE_SEARCH, OWN_PAYLOADS, REVOKE
from tests.security.access_control.world import build_world
from tests.snapshot import changes, snapshot


async def test_mutations_on_someone_elses_objects_are_typed_errors_that_change_nothing(api):
    world = await build_world(api)
    problems: list[str] = []
    for attempt in CROSS_OWNER:
        variables = {"input": attempt.input(world)}
        before = await snapshot()
        body = await api.post(attempt.document, variables, world.token(attempt.as_))
        after = await snapshot()
        result = ((body.get("data") or {}).get("result")) or {}
        if body.get("errors") or result.get("__typename") != attempt.expect:
            problems.append(f"[{attempt.name}]: expected {attempt.expect}, got {json.dumps(body)[:300]}")
        elif not result.get("message"):
            problems.append(f"[{attempt.name}]: {attempt.expect} without a message")
        if after != before:
            problems.append(f"[{attempt.name}]: {changes(before, after)}")
    # Bob cannot tell Ada's objects from ids that do not exist.
    for document, field, real in (
        (DELETE_SEARCH, "SavedSearch", "Ada's search"),
        (REVOKE, "ApiToken", "Ada's read-only token"),
    ):
        answers = []
        for gid in (world.ids[real], encode_id(field, 99_999)):
            result = (await api.data(document, {"input": {"id": gid}}, world.token("Bob")))["result"]
            answers.append((result["__typename"], result.get("code"), re.sub(r"\d+", "#", result.get("message", ""))))
        if answers[0] != answers[1]:
            problems.append(f"[{field}]: Bob can tell Ada's {field} from a missing one: {answers}")
    # And what Ada holds still works: her search is listed, her third-party token signs in.
    ada = await api.data("{ me { savedSearches { id } } }", token=world.token("Ada"))
    if [s["id"] for s in ada["me"]["savedSearches"]] != [world.ids["Ada's search"]]:
        problems.append(f"Ada's saved searches are now {ada}")
    reader = await api.data("{ me { balance } }", token=world.token("Ada's read-only token"))
    if reader["me"] is None:
        problems.append("Ada's read-only token was revoked")
    assert not problems, report(problems)


async def test_mutation_payloads_show_only_the_callers_own_data(api):
    world = await build_world(api)
    problems: list[str] = []
    ada_rule = await api.data(
        "{ me { autoLendRule { amountPerLoan keepBalance criteria { sectors } } } }", token=world.token("Ada")
    )
    ada_searches = await SavedSearch.filter(lender_id=world.lender_id("Ada")).values()

    calls = [  # (mutation, caller, input): each by its rightful caller, payload selected in full
        ("registerLender", "anonymous", {"displayName": "Dan", "email": "dan@example.org"}),
        ("deposit", "Bob", {"amount": "30.00", "idempotencyKey": new_key()}),
        ("withdraw", "Bob", {"amount": "5.00", "idempotencyKey": new_key()}),
        ("lend", "Bob", {"loanId": world.ids["Shared"], "amount": "25.00", "idempotencyKey": new_key()}),
        ("saveSearch", "Bob", {"name": "Ada's tomatoes", "filter": {"keywords": ["bob"]}, "alert": False}),
        ("setAutoLendRule", "Bob", {"criteria": {"sectors": ["ARTS"]}, "amountPerLoan": "75.00"}),
        ("createApiToken", "Bob", {"name": "bob's app", "scopes": ["portfolio:read"]}),
        ("revokeApiToken", "Bob", {"id": world.ids["Bob's read-only token"]}),
        ("listLoan", "partner", listing(name="Listed")),
        ("postRepayment", "partner", {"loanId": world.ids["Amina"], "amount": "5.00", "idempotencyKey": new_key()}),
        ("markDefault", "other partner", {"loanId": world.ids["Rosa"]}),
    ]
    assert {name for name, _, _ in calls} == set(OWN_PAYLOADS)
    for mutation, caller, input in calls:
        viewer = world.who[caller]
        body = await api.post(OWN_PAYLOADS[mutation], {"input": input}, viewer.token)
        result = ((body.get("data") or {}).get("result")) or {}
        if body.get("errors") or "code" in result or not result:
            problems.append(f"[{mutation}] as {viewer.name}: did not succeed: {json.dumps(body)[:300]}")
            continue
        await world.refresh()  # the objects it made
        audit = Audit(world, viewer, mutation).walk(result)
        problems += audit.problems
        if mutation in ("lend", "postRepayment", "markDefault") and not audit.lenders_seen & {"Ada", "Bob"}:
            problems.append(f"[{mutation}] as {viewer.name}: the loan's public lenders are not shown")
        if mutation in ("deposit", "withdraw", "lend") and result["lender"]["balance"] is None:
            problems.append(f"[{mutation}] as {viewer.name}: the caller's own balance is hidden")
    # Bob's search of the same name and his rule are his own: Ada's are as they were.
    if await SavedSearch.filter(lender_id=world.lender_id("Ada")).values() != ada_searches:
        problems.append("Bob's saveSearch under the name of Ada's search changed Ada's search")
    if (
        await api.data(
            "{ me { autoLendRule { amountPerLoan keepBalance criteria { sectors } } } }", token=world.token("Ada")
        )
        != ada_rule
    ):
        problems.append("Bob's setAutoLendRule changed Ada's rule")
    assert not problems, report(problems)
