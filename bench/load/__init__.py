"""The load run (`make load`): a realistic mix at a set rate against `lendgraph serve --workers 2`.

The modules:
- mix: the operations' weights, and what a client process knows of the world to pick their input
- documents: the GraphQL documents the mix sends
- answers: what each answer was (ok, a typed refusal, rate-limited, a typed error, an untyped error)
- subscriptions: a subscriber that resumes with `after` (the fault tests use it too)
- client: the client process (`python -m bench.load client`): open-loop arrivals, retries by key
- arrange: the world made through lending/ before the server starts, and each client's share
- watch: what the driver samples (each worker's RSS, CPU by who spent it)
- report: the figures, report.json and report.md
- plot: rss.png
- run: the driver (database, server, clients, samples, books)

This package's __init__ imports nothing, so a client process loads only what it uses.
"""
