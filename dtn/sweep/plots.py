"""The sweep's plots: delivery ratio, latency and archive availability against the number of failed satellites
(one dot per run, a line through the means)."""

from __future__ import annotations

import pathlib
from statistics import mean


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _against_failures(rows: list[dict], key: str, ylabel: str, title: str, path: pathlib.Path) -> pathlib.Path | None:
    points = [(r["failed_satellites"], r[key]) for r in rows if r.get(key) is not None]
    if not points:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter([x for x, _ in points], [y for _, y in points], s=14, alpha=0.5, label="runs")
    xs = sorted({x for x, _ in points})
    ax.plot(xs, [mean(y for x2, y in points if x2 == x) for x in xs], marker="o", label="mean")
    ax.set_xlabel("failed satellites")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(rows: list[dict], out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Write the PNGs that have data; returns name -> path."""
    out = {}
    for name, key, ylabel, title in (
        ("delivery", "delivery_ratio", "delivery ratio", "Bundles delivered against failed satellites"),
        ("latency", "latency_p50_s", "latency p50 (s)", "Median delivery latency against failed satellites"),
        ("archive", "archive_within_6h", "GETs answered within 6 h", "Archive availability against failed satellites"),
    ):
        path = _against_failures(rows, key, ylabel, title, out_dir / f"sweep_{name}.png")
        if path is not None:
            out[name] = path
    return out
