"""Judging a response: every private value a viewer should not see, or did not see."""

import json
from typing import Any

from strawberry.relay import GlobalID

from tests.security.access_control.private import PRIVATE_LENDER_FIELDS, PRIVATE_NODE_TYPES
from tests.security.access_control.world import Who, World


class Audit:
    """Walk a response as `viewer` saw it; note every private value they should not see, or did not see."""

    def __init__(self, world: World, viewer: Who, where: str) -> None:
        self.world = world
        self.viewer = viewer
        self.where = where
        self.problems: list[str] = []
        self.lenders_seen: set[str] = set()

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"[{self.where}] as {self.viewer.name} at {path or '<root>'}: {text}")

    def walk(self, value: Any, path: str = "") -> "Audit":
        if isinstance(value, list):
            for index, item in enumerate(value):
                self.walk(item, f"{path}[{index}]")
        elif isinstance(value, dict):
            typename = value.get("__typename")
            if typename == "Lender":
                self._lender(value, path)
            elif typename in PRIVATE_NODE_TYPES and "id" in value:
                self._owned(typename, value, path)
            elif typename == "Allocation":
                self._allocation(value, path)
            for key, item in value.items():
                self.walk(item, f"{path}.{key}" if path else key)
        return self

    def _lender(self, node: dict, path: str) -> None:
        owner = int(GlobalID.from_id(node["id"]).node_id)
        name = self.world.lenders.get(owner)
        self.lenders_seen.add(name)
        if "displayName" in node and node["displayName"] != name:
            self.problem(path, f"public displayName of lender {name} is {node['displayName']!r}")
        if "loanCount" in node and node["loanCount"] is None:
            self.problem(path, f"public loanCount of lender {name} is hidden")
        for field, (scope, _) in PRIVATE_LENDER_FIELDS.items():
            if field not in node:
                continue
            shown = node[field] not in (None, [])
            if self.viewer.may(owner, scope):
                if node[field] is None:
                    self.problem(path, f"{name}'s own {field} is hidden from them")
                elif field in self.world.listed.get(owner, {}):
                    shown_names = sorted(item.get("name") for item in node[field])
                    theirs = sorted(self.world.listed[owner][field])
                    if shown_names != theirs:
                        self.problem(path, f"{name}'s own {field} show {shown_names}, not theirs: {theirs}")
            elif shown:
                self.problem(path, f"LEAK: {name}'s {field} = {json.dumps(node[field])[:160]}")

    def _owned(self, typename: str, node: dict, path: str) -> None:
        owner = self.world.owners.get(node["id"], "unknown")
        if not self.viewer.may(owner, PRIVATE_NODE_TYPES[typename]):
            owner_name = self.world.lenders.get(owner, owner)
            self.problem(path, f"LEAK: {owner_name}'s {typename} {json.dumps(node)[:160]}")

    def _allocation(self, allocation: dict, path: str) -> None:
        lender = allocation.get("lender")
        if lender is not None and int(GlobalID.from_id(lender["id"]).node_id) != self.viewer.lender:
            self.problem(path, f"LEAK: the allocation names its lender {lender.get('displayName')}")


def shared_loan_allocations(allocations: list[dict], viewer: Who, world: World, where: str) -> list[str]:
    """The Shared loan's allocations: Ada's rule lent 25.00, Bob's 50.00; each sees only their own name."""
    owners = {"25.00": "Ada", "50.00": "Bob"}
    problems = []
    if sorted(a["amount"] for a in allocations) != sorted(owners):
        problems.append(f"[{where}] as {viewer.name}: the Shared loan's allocations are {allocations}")
    for allocation in allocations:
        owner = owners.get(allocation["amount"])
        expected = owner if owner and world.lenders.get(viewer.lender) == owner else None
        shown = (allocation.get("lender") or {}).get("displayName")
        if shown != expected:
            problems.append(
                f"[{where}] as {viewer.name}: allocation of {allocation['amount']} by {owner} shows lender {shown!r}, "
                f"expected {expected!r}"
            )
        if not allocation.get("matched", ["-"]):
            problems.append(f"[{where}] as {viewer.name}: allocation of {allocation['amount']} hides what matched")
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)
