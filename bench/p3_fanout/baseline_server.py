"""P3's baseline: a bare `websockets` broadcast server, one asyncio process, no GraphQL.

The bench starts it as `python -m bench.p3_fanout baseline-server PORT`; it imports nothing from
lendgraph. Subscribers speak graphql-transport-ws to it as they do to lendgraph; on /control the driver
publishes each message lendgraph sent, and the server sends it with `websockets.broadcast` to the
subscribers whose filter matches.
"""

import asyncio
import contextlib
import json

from bench.p3_fanout.client import reply


async def main(port: int) -> None:
    """A bare websockets server: graphql-transport-ws handshake, then broadcast what the driver publishes."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    Wanted = frozenset[str] | None  # one dimension of a loanListed filter; None: any value
    listed: list[tuple[ServerConnection, Wanted, Wanted, Wanted]] = []
    progress: dict[str, list[ServerConnection]] = {}

    def as_set(values: list[str] | None) -> Wanted:
        return frozenset(values) if values else None

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # clients leave without a close frame at the end
            await serve_one(ws)

    async def serve_one(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/control":  # the request is set once the handshake is done
            async for raw in ws:
                message = json.loads(raw)
                await ws.send("ok")  # acknowledged: the analogue of the committed mutation's response
                if message["topic"] == "listed":
                    country, sector, gender = message["country"], message["sector"], message["gender"]
                    to = [
                        c
                        for c, cs, ss, gs in listed
                        if (cs is None or country in cs)
                        and (ss is None or sector in ss)
                        and (gs is None or gender in gs)
                    ]
                else:
                    to = progress.get(message["loan"], [])
                broadcast(to, message["text"])
            return
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "connection_init":
                await ws.send('{"type": "connection_ack"}')
            elif message["type"] == "ping":
                await ws.send('{"type": "pong"}')
            elif message["type"] == "subscribe":
                payload = message["payload"]
                variables = payload.get("variables") or {}
                if "loanProgress" in payload["query"]:
                    progress.setdefault(variables["loanId"], []).append(ws)
                else:
                    wanted = variables.get("filter") or {}
                    listed.append(
                        (
                            ws,
                            as_set(wanted.get("countries")),
                            as_set(wanted.get("sectors")),
                            as_set(wanted.get("genders")),
                        )
                    )

    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        compression=None,
        max_size=2**20,
        backlog=2048,
    ):
        reply({"listening": port})
        await asyncio.Future()
