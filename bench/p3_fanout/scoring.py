"""P3's scoring: who must get which event, what each path delivered and how fast, and the report."""

from dataclasses import dataclass, field

from bench.common import Table, median, ms, percentile, ratio
from bench.p3_fanout.client import Received
from bench.p3_fanout.driver import OutboxEvent
from bench.p3_fanout.workload import Mutation, Spec


@dataclass
class Outcome:
    """One path's result: latencies per delivered message, delivered/expected, costs."""

    name: str
    subscribers: int
    connected: int = 0
    connect_seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)  # connections that failed, by reason
    expected: int = 0
    delivered: int = 0  # expected (subscriber, event) pairs that arrived
    unexpected: int = 0
    duplicates: int = 0
    low: list[float] = field(default_factory=list)  # receive - commit (its announce; a lower bound)
    high: list[float] = field(default_factory=list)  # receive - request sent (upper bound)
    last_delivery: float = 0.0  # seconds from the first mutation to the last message
    server_cpu: float = 0.0
    server_cpu_connect: float = 0.0
    server_rss_mb: float = 0.0
    server_sockets: list[int] = field(default_factory=list)
    client_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    drain_wait: float = 0.0


@dataclass
class Published:
    """One event as subscribers should see it: which mutation caused it and who must get it."""

    event_id: int
    mutation: Mutation
    recipients: frozenset[int]


@dataclass
class LendgraphRun:
    """lendgraph's run: its outcome, what it published (the baseline replays it), and notes on the server."""

    outcome: Outcome
    published: list[Published]
    samples: dict[int, bytes]  # one message as a subscriber got it, per event
    schedule: list[Mutation]
    hot_ids: list[str]
    workers: int
    announced: int  # mutations whose commit was stamped by exactly one announce
    restarted: list[int]  # uvicorn workers that replaced one killed during the run
    log_lines: int
    log_problems: list[str]


def expectations(
    events: list[OutboxEvent], schedule: list[Mutation], specs: list[Spec], hot_loan_ids: list[int]
) -> list[Published]:
    """Every subscriber whose filter matches a listing gets it; every loanProgress one every event of its loan."""
    listing_of = {m.loan_id: m for m in schedule if m.what == "list"}
    # The lends, by loan and the amount funded after them (which an event's payload may lack).
    lend_of: dict[tuple[int, int | None], Mutation] = {
        (hot_loan_ids[m.hot], m.funded_after): m for m in schedule if m.hot is not None
    }
    by_hot: dict[int, list[int]] = {}
    for index, spec in enumerate(specs):
        if spec.hot is not None:
            by_hot.setdefault(spec.hot, []).append(index)
    published: list[Published] = []
    for event_id, kind, loan_id, lender_id, payload in events:
        if lender_id is not None:
            continue  # a lender's own stream (myEvents): nobody here subscribes to it
        if kind == "LOAN_LISTED" and loan_id in listing_of:
            m = listing_of[loan_id]
            published.append(
                Published(
                    event_id, m, frozenset(i for i, s in enumerate(specs) if s.wants(m.country, m.sector, m.gender))
                )
            )
        elif loan_id in hot_loan_ids:
            lend = lend_of.get((loan_id, payload.get("funded")))
            if lend is None:
                raise RuntimeError(f"event {event_id} ({kind}) on a hot loan matches no lend: {payload}")
            published.append(Published(event_id, lend, frozenset(by_hot.get(hot_loan_ids.index(loan_id), ()))))
    return published


def score(outcome: Outcome, published: list[Published], collected: list[Received], start: float) -> None:
    """Fill in the outcome from what the clients received: delivered, unexpected and duplicate messages, latencies."""
    by_event = {p.event_id: p for p in published}
    outcome.expected = sum(len(p.recipients) for p in published)
    seen: set[tuple[int, int]] = set()
    last = start
    for part in collected:
        outcome.errors += part["errors"]
        outcome.lost += part["lost"]
        outcome.client_cpu += part["cpu"]
        for index, event_id, received in part["records"]:
            p = by_event.get(event_id)
            if p is None or index not in p.recipients:
                outcome.unexpected += 1
                continue
            if (index, event_id) in seen:
                outcome.duplicates += 1
                continue
            seen.add((index, event_id))
            outcome.low.append(received - p.mutation.committed)
            outcome.high.append(received - p.mutation.sent)
            last = max(last, received)
    outcome.delivered = len(seen)
    outcome.last_delivery = last - start


def report(run: LendgraphRun, base: Outcome, subscribers: int) -> str:
    """Print both paths' table and notes; return the one-line summary."""
    ours, samples, schedule = run.outcome, run.samples, run.schedule
    sizes = sorted(len(s) for s in samples.values())
    table = Table(
        [
            "path",
            "subscribers",
            "connect s",
            "delivered/expected",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p50 ms (upper)",
            "p99 ms (upper)",
            "all in s",
            "server CPU s",
            "server MB",
        ]
    )
    for o in (ours, base):
        table.add(
            o.name,
            f"{o.connected}/{o.subscribers}",
            f"{o.connect_seconds:.1f}",
            f"{o.delivered}/{o.expected}",
            ms(median(o.low)) if o.low else "-",
            ms(percentile(o.low, 0.99)) if o.low else "-",
            ms(max(o.low)) if o.low else "-",
            ms(median(o.high)) if o.high else "-",
            ms(percentile(o.high, 0.99)) if o.high else "-",
            f"{o.last_delivery:.2f}",
            f"{o.server_cpu_connect:.1f}+{o.server_cpu:.1f}",
            f"{o.server_rss_mb:.0f}",
        )
    print(table.render())
    print(
        f"  latency = receive - commit, the commit stamped by the mutation's own Redis hint (graph/pipeline.py, "
        f"right after COMMIT; found for {run.announced}/{len(schedule)} mutations, else the HTTP response): "
        f"a lower bound; (upper) = receive - request sent. Baseline: from the server's acknowledgement of each "
        f"publish. Messages {sizes[0] if sizes else 0}-{sizes[-1] if sizes else 0} bytes. server CPU s = while "
        f"connecting + while fanning out (and serving the {len(schedule)} mutations)"
    )
    if ours.low and base.low:
        print(
            f"  minimum latency: lendgraph {ms(min(ours.low)):.2f} ms, baseline {ms(min(base.low)):.2f} ms; "
            f"client processes' CPU: lendgraph run {ours.client_cpu:.1f} s, baseline run {base.client_cpu:.1f} s"
        )
    per_delivery = ours.server_cpu / ours.delivered * 1000 if ours.delivered else float("nan")
    base_per = base.server_cpu / base.delivered * 1000 if base.delivered else float("nan")
    print(
        f"  server CPU per delivered message (mutations included): lendgraph {per_delivery:.3f} ms, "
        f"baseline {base_per:.3f} ms; "
        f"per connection set up: lendgraph {ours.server_cpu_connect / max(1, ours.connected) * 1000:.2f} ms, "
        f"baseline {base.server_cpu_connect / max(1, base.connected) * 1000:.2f} ms"
    )
    print(
        f"  lendgraph: {run.workers} workers, sockets per worker {ours.server_sockets}; "
        f"server log {run.log_lines} lines; mutation answers p50 "
        f"{ms(median([m.answered - m.sent for m in schedule])):.0f} ms, max "
        f"{ms(max(m.answered - m.sent for m in schedule)):.0f} ms"
    )
    for o in (ours, base):
        if o.failures:
            print(f"  {o.name}: connections that failed: {o.failures}")
        if o.unexpected or o.duplicates or o.lost or o.errors:
            print(
                f"  {o.name}: unexpected {o.unexpected}, duplicates {o.duplicates}, connections lost {o.lost}, "
                f"errors {len(o.errors)} {o.errors[:2]}"
            )
    if run.restarted:
        print(
            f"  WARNING: uvicorn replaced {len(run.restarted)} worker(s) during the run (a worker that misses "
            "the supervisor's health check is killed, and its subscribers are disconnected)"
        )
    for line in run.log_problems:
        print(f"  server log: {line[:200]}")
    if ours.low and base.low:
        p50 = ratio(median(ours.low), median(base.low))
        p99 = ratio(percentile(ours.low, 0.99), percentile(base.low, 0.99))
        print(f"  ratios lendgraph/baseline: p50 {p50}, p99 {p99}")
    else:
        p50 = p99 = "n/a"
    return (
        f"P3 fan-out: {ours.connected}/{subscribers} subscribers, delivered {ours.delivered}/{ours.expected}; "
        f"p50 {ms(median(ours.low)) if ours.low else float('nan'):.0f} ms, "
        f"p99 {ms(percentile(ours.low, 0.99)) if ours.low else float('nan'):.0f} ms vs websockets "
        f"{ms(median(base.low)) if base.low else float('nan'):.1f} / "
        f"{ms(percentile(base.low, 0.99)) if base.low else float('nan'):.1f} ms -> ratios p50 {p50}, p99 {p99}"
    )
