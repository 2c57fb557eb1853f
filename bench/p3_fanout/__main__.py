"""`python -m bench.p3_fanout client | baseline-server PORT`: P3's other processes (runs.py starts them)."""

import asyncio
import contextlib
import sys


def _main(argv: list[str]) -> None:
    # Each mode imports only its own module: a client process never loads websockets.
    if argv[:1] == ["client"]:
        from bench.p3_fanout import client

        client.raise_fd_limit()
        _use_uvloop()
        asyncio.run(client.main())
    elif argv[:1] == ["baseline-server"]:
        from bench.p3_fanout import baseline_server, client

        client.raise_fd_limit()
        _use_uvloop()
        asyncio.run(baseline_server.main(int(argv[1])))
    else:
        sys.exit(
            "usage: python -m bench.p3_fanout client | baseline-server PORT (P3 itself: python -m bench --only P3)"
        )


def _use_uvloop() -> None:
    """uvicorn runs on uvloop when it is installed; the clients and the baseline server do too."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    _main(sys.argv[1:])
