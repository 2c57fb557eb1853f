"""The domain core of lendgraph: ledger, lending, repayments, loan lifecycle.

Knows nothing of GraphQL. Functions take the current time as `now` so that
callers (and tests) control the clock.
"""
