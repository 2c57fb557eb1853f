"""rss.png: each worker's RSS over the run, and operations per second offered and answered, one above the other."""

from pathlib import Path
from typing import Any


def draw(found: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    figure, (memory, throughput) = pyplot.subplots(2, 1, figsize=(10, 7), sharex=True)
    by_worker: dict[int, list[tuple[float, float]]] = {}
    for t, pid, mb in found["rss_samples"]:
        by_worker.setdefault(pid, []).append((t, mb))
    for pid, points in sorted(by_worker.items()):
        slope = found["rss"][str(pid)]["slope_mb_per_min"]
        memory.plot(
            [t for t, _ in points], [mb for _, mb in points], marker=".", label=f"worker {pid} ({slope:+.2f} MB/min)"
        )
    memory.axvline(found["warmup_s"], color="grey", linestyle=":", label="end of warm-up")
    memory.set_ylabel("RSS (MB)")
    memory.set_title(f"lendgraph serve --workers 2 under {found['rate']:.0f} operations/s offered")
    memory.legend(loc="lower right")
    memory.grid(alpha=0.3)
    for name, style in (("offered", "--"), ("answered", "-")):
        points = found["throughput"][name]
        throughput.plot([t for t, _ in points], [v for _, v in points], style, label=f"{name}")
    throughput.axvline(found["warmup_s"], color="grey", linestyle=":")
    throughput.set_xlabel(f"seconds since the load started ({found['throughput']['bin_s']:.0f} s bins)")
    throughput.set_ylabel("operations/s")
    throughput.set_ylim(bottom=0)
    throughput.legend(loc="lower right")
    throughput.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
