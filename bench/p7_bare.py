"""P7's baseline: a bare Starlette + asyncpg endpoint answering P7's `loans(first: 20)` with the same JSON.

Served by uvicorn as lendgraph is (one worker, the same log level), on the same
database: it reads the request body as JSON, runs one join of the page (and one
row more, to tell whether another page follows) and writes the JSON lendgraph
answers, global ids and cursors included. It imports nothing from lendgraph.
`P7_DSN` names the database, `P7_POOL` the pool size (lendgraph's, from its
DATABASE_URL).
"""

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE = 20
SQL = """SELECT l.id, l.name, l.use, l.sector, l.amount_cents, l.funded_cents, l.listed_at,
                p.name AS partner_name, p.risk_tenths
         FROM loan l JOIN partner p ON p.id = l.partner_id
         ORDER BY l.listed_at DESC, l.id DESC LIMIT $1"""


def _id(kind: str, ident: int) -> str:
    return base64.b64encode(f"{kind}:{ident}".encode()).decode()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cursor(row: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(json.dumps(["newest", [row["listed_at"].isoformat(), row["id"]]]).encode()).decode()


def _stars(tenths: int) -> str:
    return str(Decimal(tenths) / 10)  # as lendgraph writes it: "2.5", "1"


async def loans(request: Request) -> Response:
    json.loads(await request.body())  # read as an endpoint must, though it answers one query only
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(SQL, PAGE + 1)
    page = rows[:PAGE]
    edges = [
        {
            "cursor": _cursor(row),
            "node": {
                "id": _id("Loan", row["id"]),
                "name": row["name"],
                "use": row["use"],
                "sector": row["sector"],
                "amount": _money(row["amount_cents"]),
                "fundedAmount": _money(row["funded_cents"]),
                "partner": {"name": row["partner_name"], "riskRating": _stars(row["risk_tenths"])},
            },
        }
        for row in page
    ]
    page_info = {"hasNextPage": len(rows) > PAGE, "endCursor": edges[-1]["cursor"] if edges else None}
    body = {"data": {"loans": {"edges": edges, "pageInfo": page_info}}}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("P7_POOL", "10"))
    app.state.pool = await asyncpg.create_pool(os.environ["P7_DSN"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/graphql", loans, methods=["POST"])], lifespan=lifespan)
