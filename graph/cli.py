"""The `lendgraph` command line."""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from graph.settings import Settings
from models import db

T = TypeVar("T")


def _with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        await db.connect(settings.database_url)
        try:
            return await work()
        finally:
            await db.disconnect()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from graph.runtime import tune_garbage_collector
    from graph.uvicorn_internals import SOCKET_PROTOCOL

    tune_garbage_collector(settings.gc_threshold)  # workers (graph.asgi) tune their own
    # Let uvicorn refuse oversized frames itself too (the app closes them with 1009 as well).
    ws_max_size = settings.max_ws_message_bytes or 16 * 1024 * 1024
    if args.workers > 1:
        uvicorn.run(
            "graph.asgi:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            ws=SOCKET_PROTOCOL,
            ws_max_size=ws_max_size,
            ws_per_message_deflate=settings.ws_per_message_deflate,
        )
    else:
        from graph.app import create_app

        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level="info",
            ws=SOCKET_PROTOCOL,
            ws_max_size=ws_max_size,
            ws_per_message_deflate=settings.ws_per_message_deflate,
        )


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    from lending.ledger import prepare_database

    asyncio.run(prepare_database(settings.database_url))
    print("database is up to date")


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> None:
    from graph.demo import seed_demo

    summary = _with_db(settings, seed_demo)
    print(summary)


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from graph.schema import schema

    sys.stdout.write(schema.as_str() + "\n")


def cmd_create_partner(args: argparse.Namespace, settings: Settings) -> None:
    from lending.partners import create_partner
    from lending.tokens import issue_token
    from models import Role

    async def run() -> tuple[int, str]:
        partner = await create_partner(args.name, args.country, args.risk_rating)
        return partner.id, await issue_token(Role.PARTNER, partner_id=partner.id, name="cli")

    partner_id, token = _with_db(settings, run)
    print(f"partner {partner_id} created; its token (shown once):")
    print(token)


def cmd_create_token(args: argparse.Namespace, settings: Settings) -> None:
    from lending.tokens import issue_token
    from models import Role

    token = _with_db(settings, lambda: issue_token(Role(args.role.upper()), name="cli"))
    print(f"{args.role} token (shown once):")
    print(token)


def cmd_expire_loans(args: argparse.Namespace, settings: Settings) -> None:
    from graph.app import utc_now
    from lending.loans import expire_loans

    expired = _with_db(settings, lambda: expire_loans(utc_now()))
    print(f"expired {len(expired)} loans")


def cmd_autolend_sweep(args: argparse.Namespace, settings: Settings) -> None:
    from graph.app import utc_now
    from lending.autolend import sweep

    lent = _with_db(settings, lambda: sweep(utc_now()))
    print("another process is sweeping" if lent == -1 else f"auto-lent to {lent} loans")


def cmd_check_ledger(args: argparse.Namespace, settings: Settings) -> None:
    from lending.ledger import check_books

    found = _with_db(settings, check_books)
    print("books balance" if found.ok else "\n".join(found.problems))
    sys.exit(0 if found.ok else 1)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lendgraph", description="The lendgraph microlending API.")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (GraphiQL at /graphql)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    commands.add_parser("seed-demo", help="fill an empty database with demo data").set_defaults(run=cmd_seed_demo)
    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(run=cmd_export_schema)
    commands.add_parser("expire-loans", help="expire loans past their deadline").set_defaults(run=cmd_expire_loans)
    commands.add_parser("autolend-sweep", help="run auto-lend rules that are due").set_defaults(run=cmd_autolend_sweep)
    commands.add_parser("check-ledger", help="verify the books balance").set_defaults(run=cmd_check_ledger)
    partner = commands.add_parser("create-partner", help="create a field partner and print its token")
    partner.add_argument("--name", required=True)
    partner.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 code")
    partner.add_argument("--risk-rating", required=True, help="0.5 to 5.0 stars")
    partner.set_defaults(run=cmd_create_partner)
    token = commands.add_parser("create-token", help="create a token and print it")
    token.add_argument("--role", required=True, choices=["admin"])
    token.set_defaults(run=cmd_create_token)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args, Settings.from_env())
    except Exception as error:  # a clear message, not a traceback, for expected failures
        from lending.errors import LendingError

        if isinstance(error, LendingError):
            sys.exit(f"lendgraph: {error.message}")
        raise
