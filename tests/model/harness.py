"""The app under test, on an event loop the machine owns, and the state read back from it.

Hypothesis runs a state machine synchronously, so each machine run starts the app once with
tests.conftest `serve` (in-process ASGI over httpx) in a host task of its own `asyncio.Runner`;
every step is one `run(...)` on that loop, and `close()` always stops the app, after a failed step
too. `observe` reads everything the model predicts: each lender's `me`, every loan, every partner,
the ledger's non-lender accounts (which the API does not show) and `check_books`.
"""

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from graph.ids import encode_id
from lending.ledger import check_books
from models import Account, AccountKind
from tests.api import Api
from tests.clock import FakeClock
from tests.conftest import serve
from tests.model.world import World

T = TypeVar("T")
# No rate limits: the model is about money, and one lender makes many calls in one clock window.
SETTINGS = {"rate_limit_per_token": 0, "rate_limit_money_per_lender": 0}


class App:
    def __init__(self, url: str, clock: FakeClock) -> None:
        self._runner = asyncio.Runner()
        try:
            self.api: Api = self._runner.run(self._start(url, clock))
        except BaseException:
            self._runner.close()
            raise

    async def _start(self, url: str, clock: FakeClock) -> Api:
        self._stop = asyncio.Event()
        ready: asyncio.Future[Api] = asyncio.get_running_loop().create_future()
        self._host = asyncio.create_task(self._serve(url, clock, ready))
        await asyncio.wait([ready, self._host], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        if not ready.done():
            self._host.result()  # the start-up failure
            raise RuntimeError("the app stopped before it started")
        return ready.result()

    async def _serve(self, url: str, clock: FakeClock, ready: "asyncio.Future[Api]") -> None:
        async with serve(url, clock, **SETTINGS) as api:  # type: ignore[arg-type]
            ready.set_result(api)
            await self._stop.wait()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(work)

    def close(self) -> None:
        """Stop the app (shutdown, and the books check of `serve`), then the loop, whatever happens."""
        try:
            self._runner.run(self._finish())
        finally:
            self._runner.close()

    async def _finish(self) -> None:
        self._stop.set()
        await self._host

    async def post(self, query: str, variables: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.api.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"errors": [{"message": response.text}]}

    async def data(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        status, body = await self.post(query, variables, token)
        assert status == 200 and not body.get("errors"), (status, body)
        data: dict[str, Any] = body["data"]
        return data


SLICE = "{ key loanCount lent outstanding }"
ME = f"""query($after: String) {{ me {{ balance loanCount
  autoLendRule {{ enabled amountPerLoan keepBalance waitingSince }}
  portfolio {{
    stats {{ loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate
             byCountry {SLICE} bySector {SLICE} byGender {SLICE} }}
    shares(first: 100, after: $after) {{ pageInfo {{ hasNextPage endCursor }}
      edges {{ node {{ amount repaidAmount currencyLoss loan {{ id }} }} }} }} }} }} }}"""
LOANS = """query($after: String) { loans(first: 100, after: $after) { pageInfo { hasNextPage endCursor }
  edges { node { id status amount fundedAmount remainingAmount repaidAmount lenderCount fundedAt daysPastDue
                 allocations { amount } } } } }"""
PARTNERS = "{ partners(first: 100) { edges { node { name loanCount defaultRate arrearsRate } } } }"


MONEY_STATS = (
    ("lent", "lent"),
    ("outstanding", "outstanding"),
    ("repaid", "repaid"),
    ("currency_loss", "currencyLoss"),
    ("defaulted", "defaulted"),
)


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def observe(app: App, world: World) -> dict[str, Any]:
    """Everything the model predicts, as the API (and the ledger's own accounts) report it."""
    books = await check_books()
    assert books.ok, f"the books do not balance: {books.problems}"
    lenders = {name: await _lender(app, lender.token) for name, lender in world.lenders.items()}
    loans: dict[str, Any] = {}
    after = None
    while True:
        page = (await app.data(LOANS, {"after": after}))["loans"]
        for edge in page["edges"]:
            node = edge["node"]
            loans[node["id"]] = {
                "status": node["status"],
                "amount": cents(node["amount"]),
                "funded": cents(node["fundedAmount"]),
                "remaining": cents(node["remainingAmount"]),
                "repaid": cents(node["repaidAmount"]),
                "lender_count": node["lenderCount"],
                "funded_at": when(node["fundedAt"]),
                "days_past_due": node["daysPastDue"],
                "auto": sum(cents(a["amount"]) for a in node["allocations"]),
                "allocations": len(node["allocations"]),
            }
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    partners = {
        edge["node"]["name"]: {
            "loan_count": edge["node"]["loanCount"],
            "default_rate": Decimal(edge["node"]["defaultRate"]),
            "arrears_rate": Decimal(edge["node"]["arrearsRate"]),
        }
        for edge in (await app.data(PARTNERS, {}))["partners"]["edges"]
    }
    names = {partner.db_id: name for name, partner in world.partners.items()}
    accounts = {}
    for kind, partner_id, loan_id, balance in await Account.exclude(kind=AccountKind.LENDER).values_list(
        "kind", "partner_id", "loan_id", "balance_cents"
    ):
        label = {
            AccountKind.WORLD: "world",
            AccountKind.PARTNER: f"partner:{names.get(partner_id, partner_id)}",
            AccountKind.LOAN: f"loan:{encode_id('Loan', loan_id) if loan_id else None}",
        }[AccountKind(kind)]
        # The world is one balance spread over its shards (lending/ledger.py).
        accounts[label] = accounts.get(label, 0) + balance
    return {"lenders": lenders, "loans": loans, "partners": partners, "accounts": accounts}


async def _lender(app: App, token: str) -> dict[str, Any]:
    shares: dict[str, tuple[int, int, int]] = {}
    after = None
    while True:
        me = (await app.data(ME, {"after": after}, token))["me"]
        page = me["portfolio"]["shares"]
        for edge in page["edges"]:
            node = edge["node"]
            shares[node["loan"]["id"]] = (
                cents(node["amount"]),
                cents(node["repaidAmount"]),
                cents(node["currencyLoss"]),
            )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rule, stats = me["autoLendRule"], me["portfolio"]["stats"]
    return {
        "balance": cents(me["balance"]),
        "loan_count": me["loanCount"],
        "rule": (
            (rule["enabled"], cents(rule["amountPerLoan"]), cents(rule["keepBalance"]), when(rule["waitingSince"]))
            if rule
            else None
        ),
        "shares": shares,
        "stats": {
            "loan_count": stats["loanCount"],
            **{key: cents(stats[name]) for key, name in MONEY_STATS},
            "default_rate": Decimal(stats["defaultRate"]),
            "arrears_rate": Decimal(stats["arrearsRate"]),
            **{
                f"by_{dimension}": tuple(
                    (s["key"], s["loanCount"], cents(s["lent"]), cents(s["outstanding"])) for s in stats[field]
                )
                for dimension, field in (("country", "byCountry"), ("sector", "bySector"), ("gender", "byGender"))
            },
        },
    }


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two observations differ, as `path: got != want` lines."""
    if isinstance(got, dict) and isinstance(want, dict):
        found = []
        for key in sorted(set(got) | set(want), key=str):
            if key not in got or key not in want:
                found.append(f"{path}/{key}: {'missing from the API' if key not in got else 'not in the model'}")
            else:
                found += differences(got[key], want[key], f"{path}/{key}")
        return found
    return [] if got == want else [f"{path}: API {got!r} != model {want!r}"]
