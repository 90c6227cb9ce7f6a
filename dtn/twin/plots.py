"""PNG plots and the self-contained HTML page of a run report (matplotlib, Agg backend)."""

from __future__ import annotations

import base64
import html
import json
import pathlib

from dtn.twin.report import Report, _fmt_s


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_timeline(report: Report, path: pathlib.Path, *, max_links: int = 40, max_paths: int = 12) -> pathlib.Path:
    """Contact timeline (the busiest links) with the paths of a few delivered bundles drawn over it."""
    plt = _plt()
    names = {int(k): v for k, v in report.meta.get("nodes", {}).items()}
    busy = sorted(report.links, key=lambda r: -(r.get("bytes_ab", 0) + r.get("bytes_ba", 0)))
    pairs = []
    for r in busy:
        p = (r["a"], r["b"])
        if p not in pairs:
            pairs.append(p)
        if len(pairs) >= max_links:
            break
    pairs.sort()
    row = {p: i for i, p in enumerate(pairs)}
    fig, ax = plt.subplots(figsize=(12, max(3, 0.28 * len(pairs) + 1.5)))
    for r in report.links:
        p = (r["a"], r["b"])
        if p not in row:
            continue
        used = (r.get("bytes_ab", 0) + r.get("bytes_ba", 0)) > 0
        ax.barh(row[p], (r["end_s"] - r["start_s"]) / 3600, left=r["start_s"] / 3600, height=0.6,
                color="#4c72b0" if used else "#c7d3e6")
    colours = plt.get_cmap("tab10")
    delivered = [b for b in report.bundles if b.delivered_s is not None and len(b.path) > 1][:max_paths]
    for i, b in enumerate(delivered):
        xs, ys = [], []
        for (x, y), t_s in zip(zip(b.path, b.path[1:]), b.hop_times_s[1:]):
            p = (min(x, y), max(x, y))
            if p in row:  # each hop drawn on its link's row at the time the next node got the bundle
                xs.append(t_s / 3600)
                ys.append(row[p])
        if xs:
            ax.plot(xs, ys, "o-", color=colours(i % 10), ms=3, lw=1)
    ax.set_yticks(range(len(pairs)))
    ax.set_yticklabels([f"{names.get(a, a)} - {names.get(b, b)}" for a, b in pairs], fontsize=6)
    ax.set_xlabel("plan time (h)")
    ax.set_title("Contact windows (dark: carried data) and bundle paths")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency_cdf(report: Report, path: pathlib.Path) -> pathlib.Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for values, label in ((report.latencies_s(), "measured"), (report.predicted_latencies_s(), "CGR predicted")):
        if values:
            xs = sorted(v / 60 for v in values)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=label)
    ax.set_xlabel("latency (min)")
    ax.set_ylabel("fraction of delivered bundles")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Delivery latency CDF")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_occupancy(report: Report, path: pathlib.Path, *, max_nodes: int = 12) -> pathlib.Path:
    plt = _plt()
    names = {int(k): v for k, v in report.meta.get("nodes", {}).items()}
    top = sorted(report.occupancy.items(), key=lambda kv: -max((x[2] for x in kv[1]), default=0))[:max_nodes]
    fig, ax = plt.subplots(figsize=(10, 4))
    for node, series in top:
        xs = [t / 3600 for t, _, _ in series]
        ys = [b / 1e6 for _, _, b in series]
        ax.step(xs, ys, where="post", label=str(names.get(node, node)), lw=1)
    ax.set_xlabel("plan time (h)")
    ax.set_ylabel("stored (MB)")
    ax.set_title("Store occupancy per node (busiest)")
    ax.grid(alpha=0.3)
    if top:
        ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(report: Report, out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "timeline": plot_timeline(report, out_dir / "timeline.png"),
        "latency": plot_latency_cdf(report, out_dir / "latency_cdf.png"),
        "occupancy": plot_occupancy(report, out_dir / "store_occupancy.png"),
    }


def write_html(report: Report, out_dir: pathlib.Path, plots: dict[str, pathlib.Path]) -> pathlib.Path:
    """index.html with the summary, per-reason deletions, per-bundle fates and the plots inlined."""
    s = report.summary()
    names = {int(k): v for k, v in report.meta.get("nodes", {}).items()}
    archive = {f"archive {k}": v for k, v in (report.meta.get("archive") or {}).items() if k != "acks"}
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in {**s, **archive}.items())
    imgs = "".join(
        f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}">'
        for name, p in plots.items()
    )
    bundle_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in (
            b.key, b.flow, names.get(b.src, b.src), names.get(b.dst, b.dst), b.size_bytes, _fmt_s(b.sent_s),
            _fmt_s(b.latency_s), _fmt_s(b.predicted_latency_s), b.deleted_reason or "",
            " > ".join(str(names.get(n, n)) for n in b.path),
        )) + "</tr>"
        for b in report.bundles[:500]
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>spacedtn report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>spacedtn: {html.escape(str(s.get('scenario')))} ({html.escape(str(s.get('mode')))})</h1>
<p>{html.escape(report.one_line())}</p>
<table>{rows}</table>{imgs}
<h2>Bundles (first 500)</h2><table><tr><th>bundle</th><th>flow</th><th>from</th><th>to</th><th>bytes</th><th>sent</th>
<th>latency</th><th>predicted</th><th>deleted</th><th>path</th></tr>{bundle_rows}</table></body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
