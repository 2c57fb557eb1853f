"""`python -m bench.churn client`: the soak's client process (runs.py starts it).

The soak itself: `python -m bench --only churn`.
"""

import asyncio
import sys


def _main(argv: list[str]) -> None:
    if argv[:1] != ["client"]:
        sys.exit("usage: python -m bench.churn client (the soak itself: python -m bench --only churn)")
    from bench.churn import client
    from bench.p3_fanout.client import raise_fd_limit

    raise_fd_limit()
    asyncio.run(client.main())


if __name__ == "__main__":
    _main(sys.argv[1:])
