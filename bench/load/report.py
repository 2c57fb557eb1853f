"""The load run's figures from what the clients recorded and the driver sampled: report.json and report.md.

Rates and latencies are over the steady part of the run, after the warm-up: offered/s counts the
operations scheduled in it, answered/s and ok/s those whose answer arrived in it. Latency runs from
the scheduled start to the answer (retries included). Outcomes and errors count the whole run; a
retried attempt's error counts too (as "retried"). RSS slope: least squares over each worker's
samples after the warm-up, in MB per minute; and over the second half of the run alone, the trend
once whatever fills as the run starts (pooled connections and their prepared statements, the
allocator's arenas at their high-water mark) has filled, however long that took.
"""

import math
from collections import Counter
from typing import Any

from bench.common import percentile
from bench.load.answers import outcome_class
from bench.load.mix import OPS
from bench.load.watch import Samples

BIN = 5.0  # seconds per point of the throughput curve
CPU_NAMES = {
    "server": "lendgraph serve (main process and workers)",
    "clients": "load client processes",
    "postgres": "PostgreSQL backends of the run's database",
    "machine": "the whole machine (other work included)",
}


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0


def figures(
    results: list[dict[str, Any]], samples: Samples, *, duration: float, warmup: float, rate: float
) -> dict[str, Any]:
    window = max(duration - warmup, 1e-9)
    per_op: dict[str, dict[str, Any]] = {op: {"outcomes": Counter()} for op in OPS}
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    offered_bins: Counter[int] = Counter()
    answered_bins: Counter[int] = Counter()
    totals: Counter[str] = Counter()
    for result in results:
        outcomes = result["outcomes"]
        for op_index, start, latency, outcome_index in zip(
            result["op"], result["start"], result["latency"], result["outcome"], strict=True
        ):
            op, outcome = OPS[op_index], outcomes[outcome_index]
            entry = per_op[op]
            entry["outcomes"][outcome] += 1
            end = start + latency
            offered_bins[int(start // BIN)] += 1
            if not math.isnan(end):
                answered_bins[int(end // BIN)] += 1
            steady_end = warmup <= end <= duration
            if start >= warmup and start <= duration:
                entry["offered"] = entry.get("offered", 0) + 1
                if not math.isnan(latency):
                    latencies[op].append(latency)
            if steady_end:
                entry["answered"] = entry.get("answered", 0) + 1
                if outcome == "ok":
                    entry["ok_in_window"] = entry.get("ok_in_window", 0) + 1
            totals[outcome_class(outcome)] += 1
    ops = {}
    for op in OPS:
        entry, lat = per_op[op], latencies[op]
        classes: Counter[str] = Counter()
        for outcome, n in entry["outcomes"].items():
            classes[outcome_class(outcome)] += n
        ops[op] = {
            "sent": sum(entry["outcomes"].values()),
            "offered_per_s": entry.get("offered", 0) / window,
            "answered_per_s": entry.get("answered", 0) / window,
            "ok_per_s": entry.get("ok_in_window", 0) / window,
            "classes": dict(classes),
            "outcomes": dict(entry["outcomes"]),
            "p50_ms": 1000 * percentile(lat, 0.5) if lat else None,
            "p99_ms": 1000 * percentile(lat, 0.99) if lat else None,
            "max_ms": 1000 * max(lat) if lat else None,
            "skipped": sum(r["skipped"].get(op, 0) for r in results),
        }
    errors: Counter[str] = Counter()
    for op in OPS:
        for outcome, n in per_op[op]["outcomes"].items():
            if outcome_class(outcome) not in ("ok", "refused"):
                errors[f"{op}: {outcome}"] += n
    retried: Counter[str] = Counter()
    for result in results:
        for (op, outcome), n in result["retried"].items():
            retried[f"{op}: {outcome}"] += n
    streams: dict[str, dict[str, Any]] = {}
    for result in results:
        for kind, stream in result["streams"].items():
            merged = streams.setdefault(kind, {"subscribers": 0, "events": Counter(), "errors": 0, "reconnects": 0})
            merged["subscribers"] += stream["subscribers"]
            merged["events"].update(stream["events"])
            merged["errors"] += stream["errors"]
            merged["reconnects"] += stream["reconnects"]
    rss = {}
    for pid in sorted(samples.workers_seen):
        mine = [(t, mb) for t, p, mb in samples.rss if p == pid]
        steady = [(t, mb) for t, mb in mine if t >= warmup] or mine
        second_half = [(t, mb) for t, mb in mine if t >= duration / 2] or mine
        rss[str(pid)] = {
            "samples": len(mine),
            "first_after_warmup_mb": steady[0][1],
            "last_mb": mine[-1][1],
            "max_mb": max(mb for _, mb in mine),
            "slope_mb_per_min": slope_per_minute(steady),
            "second_half_slope_mb_per_min": slope_per_minute(second_half),
        }
    ops_total = sum(o["sent"] for o in ops.values())
    seconds = samples.cpu.get("seconds", 0.0) or 1e-9
    cpu = {
        CPU_NAMES.get(name, name): {
            "seconds": value,
            "cores": value / seconds,
            "ms_per_op": 1000 * value / max(ops_total, 1),
        }
        for name, value in samples.cpu.items()
        if name != "seconds"
    }
    untyped = totals["untyped"] + sum(n for k, n in retried.items() if " untyped " in f" {k.split(': ', 1)[1]} ")
    return {
        "rate": rate,
        "duration_s": duration,
        "warmup_s": warmup,
        "offered_per_s": sum(o["offered_per_s"] for o in ops.values()),
        "answered_per_s": sum(o["answered_per_s"] for o in ops.values()),
        "ok_per_s": sum(o["ok_per_s"] for o in ops.values()),
        "operations": ops_total,
        "classes": dict(totals),
        "untyped_errors": untyped,
        "ops": ops,
        "errors": dict(errors.most_common()),
        "retried": dict(retried.most_common()),
        "streams": {k: {**v, "events": dict(v["events"])} for k, v in streams.items()},
        "rss": rss,
        "rss_samples": samples.rss,
        "throughput": {
            "bin_s": BIN,
            # whole bins inside the run, each at its middle
            "offered": [
                [(k + 0.5) * BIN, n / BIN] for k, n in sorted(offered_bins.items()) if (k + 1) * BIN <= duration
            ],
            "answered": [
                [(k + 0.5) * BIN, n / BIN] for k, n in sorted(answered_bins.items()) if (k + 1) * BIN <= duration
            ],
        },
        "cpu": cpu,
        "server_at_rest_cores": samples.server_at_rest,
        "client_connections": sum(r["connections"] for r in results),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(found: dict[str, Any], books: dict[str, Any], setup: dict[str, Any]) -> str:
    lines = [
        "# lendgraph load run",
        "",
        f"- server: {setup['server']}",
        f"- world: {setup['world']}",
        f"- mix (weights): {setup['mix']}",
        f"- {found['rate']:.0f} operations/s offered for {found['duration_s']:.0f} s "
        f"(warm-up {found['warmup_s']:.0f} s), {setup['clients']} client processes, "
        f"{setup['subscriptions']} subscriptions; load average {setup['load_before']} before, "
        f"{setup['load_after']} after",
        "",
        f"**Steady state: offered {found['offered_per_s']:.1f} ops/s, answered {found['answered_per_s']:.1f}/s, "
        f"ok {found['ok_per_s']:.1f}/s. Untyped errors: {found['untyped_errors']}. "
        f"Books: {'balanced' if books['ok'] else 'NOT balanced'}.**",
        "",
        "| operation | sent | offered/s | answered/s | ok/s | refused | rate-limited | errors "
        "| p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for op, o in found["ops"].items():
        c = o["classes"]
        lines.append(
            f"| {op} | {o['sent']} | {o['offered_per_s']:.1f} | {o['answered_per_s']:.1f} | {o['ok_per_s']:.1f} "
            f"| {c.get('refused', 0)} | {c.get('limited', 0)} | {c.get('typed', 0) + c.get('untyped', 0)} "
            f"| {_ms(o['p50_ms'])} | {_ms(o['p99_ms'])} | {_ms(o['max_ms'])} |"
        )
    lines += ["", "Outcomes other than ok, by kind (whole run):", ""]
    refusals = {f"{op}: {k}": n for op, o in found["ops"].items() for k, n in o["outcomes"].items() if k != "ok"}
    lines += [f"- {k}: {n}" for k, n in sorted(refusals.items(), key=lambda kv: -kv[1])] or ["- none"]
    lines += ["", "Attempts sent again (same key) after:", ""]
    lines += [f"- {k}: {n}" for k, n in found["retried"].items()] or ["- none"]
    skipped = {op: o["skipped"] for op, o in found["ops"].items() if o["skipped"]}
    if skipped:
        lines += ["", f"Drawn but not sent (nothing to act on yet): {skipped}"]
    lines += ["", "| subscription | subscribers | events received | by kind | errors | reconnects |"]
    lines += ["|---|---|---|---|---|---|"]
    for kind, s in found["streams"].items():
        by_kind = ", ".join(f"{k} {n}" for k, n in sorted(s["events"].items()))
        lines.append(
            f"| {kind} | {s['subscribers']} | {sum(s['events'].values())} | {by_kind} | {s['errors']} "
            f"| {s['reconnects']} |"
        )
    lines += [
        "",
        "| worker pid | samples | RSS after warm-up MB | last MB | max MB | slope MB/min | second half's MB/min |",
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for pid, r in found["rss"].items():
        lines.append(
            f"| {pid} | {r['samples']} | {r['first_after_warmup_mb']:.1f} | {r['last_mb']:.1f} | {r['max_mb']:.1f} "
            f"| {r['slope_mb_per_min']:+.3f} | {r['second_half_slope_mb_per_min']:+.3f} |"
        )
    lines += ["", "| CPU | seconds | cores (average) | ms per operation |", "|---|---|---|---|"]
    for name, c in found["cpu"].items():
        lines.append(f"| {name} | {c['seconds']:.1f} | {c['cores']:.2f} | {c['ms_per_op']:.2f} |")
    lines += ["", f"The server at rest, before the load: {found['server_at_rest_cores']:.3f} cores."]
    lines += [
        "",
        f"Books ({books['check']}): {'balanced' if books['ok'] else 'NOT balanced'}; "
        + "; ".join(f"{k} {v}" for k, v in books["figures"].items()),
    ]
    lines += [f"- {p}" for p in books["problems"][:20]]
    lines += ["", "![RSS per worker and throughput](rss.png)", ""]
    return "\n".join(lines)
