"""P3 - live fan-out: N WebSocket subscribers on a real `lendgraph serve --workers 2`.

lendgraph: the real server (uvicorn, 2 workers, PostgreSQL, Redis hints),
subscribers on graphql-transport-ws, a mix of `loanListed(filter:)` with
country/sector/gender filters and `loanProgress(loanId:)` on a few hot loans.
The driver lists loans and fills the hot loans through the HTTP API, one
mutation at a time at a fixed pace, and every delivered message is timed
from that mutation.

Baseline: a bare `websockets` broadcast server (one asyncio process) with
the same clients and the same subscriptions; the driver publishes the same
messages (the bytes lendgraph sent, so the same sizes) on the nominal
schedule (never slower than lendgraph got them), and the server sends each
to the subscribers whose filter matches.

Clients are a small asyncio.Protocol WebSocket client (no library) in a few
processes, so the client side costs little; each message is stamped with
time.monotonic() (CLOCK_MONOTONIC, one clock for every process) when its
bytes arrive.

Latency of a message: its receive time minus its mutation's commit. The
app publishes a hint on Redis right after each mutation commits
(graph/pipeline.py); the driver listens on that channel, so the commit is
stamped between COMMIT and the HTTP response: a lower bound on
commit-to-client (the HTTP response itself comes later still, and "receive
minus response" would be an even lower bound, not an upper one). Receive
time minus the time the request was sent is the upper bound, printed too.
For the baseline, "sent" is when the driver sends the publish command and
"commit" when the server acknowledges it (before it sends anything to
subscribers).

The modules:
- workload: the partners' countries, the subscriber mix, the mutations' schedule
- client: the subscriber client process (`python -m bench.p3_fanout client`)
- baseline_server: the bare websockets server (`python -m bench.p3_fanout baseline-server PORT`)
- processes: the client processes as the bench drives them, and what /proc says of the servers
- driver: the lendgraph server, its world, the mutations at a fixed pace, the commit stamps
- scoring: who must get which event, what arrived, the report
- runs: both runs on the same subscribers and schedule, and `run`, which does both

The client and the baseline server import nothing from lendgraph (and this
package's __init__ imports nothing at all), so those processes stay small.
"""
