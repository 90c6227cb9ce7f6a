"""PNG plots and the self-contained HTML page of a run report (matplotlib, Agg backend; basemap coastlines).

The page tells the story first (a paragraph in plain words, `Report.story()`), then shows: a world map of the
stations, satellite ground tracks and the links open at one instant; a timeline with one row per node that
matters (the ground centres, the user stations, the satellites that carried the sampled bundles), outages and
lost satellites marked, and each sampled bundle's path drawn at the times it moved; latency CDFs (measured and
CGR-predicted) on axes that cover all the data; store occupancy. Every number carries its unit.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import pathlib
from typing import Any

from dtn.twin.report import Report, human_bytes, human_s, percentile

DOWN_COLOUR = "#d62728"
MEASURED_COLOUR = "#1f4e9c"
PREDICTED_COLOUR = "#f28e2b"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _utc(report: Report, t_s: float) -> str:
    epoch = float(report.meta.get("plan_epoch_unix_s", 0.0))
    return dt.datetime.fromtimestamp(epoch + t_s, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _span_s(report: Report) -> tuple[float, float]:
    start = float(report.meta.get("start_s", 0.0))
    end = float(report.meta.get("end_s", 0.0))
    if end <= start:
        end = max([start + 1.0] + [r["end_s"] for r in report.links] + [b.sent_s for b in report.bundles])
    return start, end


def sample_bundles(report: Report, most: int = 8) -> list:
    """Delivered bundles that moved over more than one hop, spread over the run (not the first few sent):
    one per equal slice of sending time, preferring the slowest in each slice (the interesting ones)."""
    moved = [b for b in report.bundles if b.delivered_s is not None and len(b.path) > 1]
    if len(moved) <= most:
        return moved
    moved.sort(key=lambda b: b.sent_s)
    picked = []
    for i in range(most):
        chunk = moved[i * len(moved) // most : (i + 1) * len(moved) // most]
        if chunk:
            picked.append(max(chunk, key=lambda b: (b.latency_s or 0.0, b.key)))
    return picked


def plot_timeline(report: Report, path: pathlib.Path, *, max_paths: int = 6, max_rows: int = 30) -> pathlib.Path:
    """One row per node that matters; contact windows, outages, lost satellites and bundle paths over time."""
    plt = _plt()
    names = report.names()
    start_s, end_s = _span_s(report)
    sampled = sample_bundles(report, max_paths)
    sources = sorted({b.src for b in report.bundles})
    users = sorted({b.dst for b in report.bundles} - set(sources))
    down_nodes = sorted({f["node"] for f in report.outages()})
    lost_nodes = [f["node"] for f in report.losses()]
    carriers: list[int] = []
    for b in sampled:
        for n in b.path:
            if n not in carriers and n not in sources and n not in users:
                carriers.append(n)
    rows: list[int] = []
    for group in (sources, down_nodes, users, lost_nodes, carriers):
        for n in group:
            if n not in rows and len(rows) < max_rows:
                rows.append(n)
    row = {n: i for i, n in enumerate(rows)}
    hours = 1 / 3600.0
    fig, ax = plt.subplots(figsize=(13, max(4.0, 0.3 * len(rows) + 2.2)))
    for r in report.links:
        for n in (r["a"], r["b"]):
            if n in row:
                used = (r.get("bytes_ab", 0) + r.get("bytes_ba", 0)) > 0
                ax.barh(
                    row[n],
                    (r["end_s"] - r["start_s"]) * hours,
                    left=r["start_s"] * hours,
                    height=0.55,
                    color="#7f9cc9" if used else "#d5deeb",
                    linewidth=0,
                )
    labelled = False
    for f in report.outages():
        if f["node"] in row:
            ax.barh(
                row[f["node"]],
                (f["to_s"] - f["from_s"]) * hours,
                left=f["from_s"] * hours,
                height=0.85,
                color=DOWN_COLOUR,
                alpha=0.35,
                hatch="//",
                edgecolor=DOWN_COLOUR,
                linewidth=0,
                label=None if labelled else "node down (outage)",
            )
            labelled = True
    if report.outages():
        outage_row = report.outages()[0]["node"]
        a = min(f["from_s"] for f in report.outages())
        b = max(f["to_s"] for f in report.outages())
        ax.axvspan(a * hours, b * hours, color=DOWN_COLOUR, alpha=0.06, zorder=0)
        down_names = " and ".join(sorted({names.get(f["node"], str(f["node"])) for f in report.outages()}))
        ax.text(
            (a + b) / 2 * hours,
            row.get(outage_row, 0),
            f"{down_names} down ({human_s(b - a)})",
            ha="center",
            va="center",
            color="#8b0000",
            fontsize=9,
            fontweight="bold",
            zorder=6,
        )
    labelled = False
    for f in report.losses():
        if f["node"] in row:
            ax.barh(
                row[f["node"]],
                (end_s - f["at_s"]) * hours,
                left=f["at_s"] * hours,
                height=0.85,
                color="#333333",
                alpha=0.55,
                linewidth=0,
                label=None if labelled else "satellite lost",
            )
            ax.plot(f["at_s"] * hours, row[f["node"]], marker="X", color="black", ms=9, zorder=5)
            labelled = True
    colours = plt.get_cmap("tab10")
    for i, b in enumerate(sampled):
        xs = [t * hours for n, t in zip(b.path, b.hop_times_s) if n in row]
        ys = [row[n] for n in b.path if n in row]
        xs = [b.sent_s * hours] + xs if b.path and b.path[0] in row else xs
        ys = [row[b.path[0]]] + ys if b.path and b.path[0] in row else ys
        ax.plot(
            xs,
            ys,
            "o-",
            color=colours(i % 10),
            ms=4,
            lw=1.6,
            zorder=4,
            label=f"bundle {i + 1}: {names.get(b.src, b.src)} to {names.get(b.dst, b.dst)}, {human_s(b.latency_s)}",
        )
    ax.set_yticks(range(len(rows)))
    labels = []
    for n in rows:
        role = "source" if n in sources else ("user" if n in users else ("lost" if n in lost_nodes else ""))
        labels.append(f"{names.get(n, n)}" + (f" ({role})" if role else ""))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_xlim(start_s * hours, end_s * hours)
    ax.set_xlabel(f"hours since {_utc(report, start_s)}")
    ax.set_title(
        "Who could talk when (bars: contact windows, dark: carried data), outages, and where sampled bundles went",
        fontsize=11,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _seconds_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: human_s(x))


def plot_latency_cdf(report: Report, path: pathlib.Path) -> pathlib.Path:
    """Measured and CGR-predicted delivery latency CDFs, log time axis covering every value."""
    plt = _plt()
    measured = sorted(report.latencies_s())
    predicted = sorted(report.predicted_latencies_s())
    fig, ax = plt.subplots(figsize=(9, 4.6))
    values = [v for v in measured + predicted if v > 0]
    if values:
        lo, hi = min(values), max(values)
        ax.set_xscale("log")
        ax.set_xlim(lo / 1.5, hi * 1.5)
        # The measured curve is drawn wide and the prediction dashed on top, so both stay visible where
        # they coincide (in the twin they often do, to the millisecond).
        for data, label, colour, style, width, z in (
            (measured, "measured", MEASURED_COLOUR, "-", 4.0, 2),
            (predicted, "CGR predicted at send time", PREDICTED_COLOUR, (0, (4, 3)), 1.8, 3),
        ):
            data = [max(v, lo) for v in data]
            if data:
                ys = [(i + 1) / len(data) for i in range(len(data))]
                ax.step(
                    data,
                    ys,
                    where="post",
                    color=colour,
                    ls=style,
                    lw=width,
                    zorder=z,
                    label=f"{label} ({len(data)} bundles, median {human_s(percentile(data, 0.5))}, "
                    f"max {human_s(max(data))})",
                )
        pairs = [
            (b.latency_s, b.predicted_latency_s)
            for b in report.bundles
            if b.latency_s is not None and b.predicted_latency_s is not None
        ]
        if pairs:
            close = sum(1 for m_s, p_s in pairs if abs(m_s - p_s) <= max(0.001, 0.01 * p_s))
            ax.text(
                0.01,
                0.97,
                f"{close} of {len(pairs)} bundles arrived within 1 % (or 1 ms) of the prediction",
                transform=ax.transAxes,
                va="top",
                fontsize=8.5,
                color="#333333",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9},
            )
        if measured:
            ax.plot([max(measured)], [1.0], "o", color=MEASURED_COLOUR, ms=6, zorder=4)
            ax.annotate(
                f"slowest {human_s(max(measured))}",
                (max(measured), 1.0),
                xytext=(-6, -14),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=MEASURED_COLOUR,
            )
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            v = percentile(measured, q)
            if v:
                ax.axvline(v, color=MEASURED_COLOUR, lw=0.8, alpha=0.5)
                ax.text(v, 0.03 if q == 0.5 else 0.12, f" {name} {human_s(v)}", color=MEASURED_COLOUR, fontsize=8)
        ax.xaxis.set_major_formatter(_seconds_formatter())
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no bundle was delivered", ha="center", transform=ax.transAxes)
    ax.set_xlabel("delivery latency (log scale)")
    ax.set_ylabel("share of delivered bundles")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _p: f"{y:.0%}"))
    ax.grid(alpha=0.3, which="both")
    ax.set_title("How long bundles took: measured vs predicted by contact graph routing")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_occupancy(report: Report, path: pathlib.Path, *, max_nodes: int = 10) -> pathlib.Path:
    """Bytes held per node over time (the busiest stores)."""
    plt = _plt()
    names = report.names()
    top = sorted(report.occupancy.items(), key=lambda kv: -max((x[2] for x in kv[1]), default=0))[:max_nodes]
    peak = max([max((x[2] for x in series), default=0) for _, series in top] + [1])
    unit, scale = next(((u, f) for u, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if peak >= f), ("bytes", 1.0))
    start_s, end_s = _span_s(report)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for node, series in top:
        xs = [t / 3600 for t, _, _ in series] + [end_s / 3600]
        ys = [b / scale for _, _, b in series] + [series[-1][2] / scale if series else 0]
        ax.step(xs, ys, where="post", label=str(names.get(node, node)), lw=1.2)
    for f in report.outages():
        ax.axvspan(f["from_s"] / 3600, f["to_s"] / 3600, color=DOWN_COLOUR, alpha=0.05)
    ax.set_xlim(start_s / 3600, end_s / 3600)
    ax.set_xlabel(f"hours since {_utc(report, start_s)}")
    ax.set_ylabel(f"bundles held ({unit})")
    ax.set_title("What each store held (busiest nodes; shaded: outage)")
    ax.grid(alpha=0.3)
    if top:
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def map_instant_s(report: Report) -> float:
    """The instant the map shows by default: the middle of the outage, else the median delivery time."""
    if report.outages():
        a = min(f["from_s"] for f in report.outages())
        b = max(f["to_s"] for f in report.outages())
        return (a + b) / 2
    done = [b.delivered_s for b in report.bundles if b.delivered_s is not None]
    if done:
        return float(percentile(done, 0.5))
    start_s, end_s = _span_s(report)
    return (start_s + end_s) / 2


def _segments(lons: list[float], lats: list[float]) -> list[tuple[list[float], list[float]]]:
    """Split a track where it crosses the date line (so no line runs across the whole map)."""
    out: list[tuple[list[float], list[float]]] = [([], [])]
    prev = None
    for lon, lat in zip(lons, lats):
        if lon is None or lat is None:
            prev = None
            out.append(([], []))
            continue
        if prev is not None and abs(lon - prev) > 180:
            out.append(([], []))
        out[-1][0].append(lon)
        out[-1][1].append(lat)
        prev = lon
    return [s for s in out if len(s[0]) > 1]


def plot_map(
    report: Report,
    geometry: dict[str, Any],
    path: pathlib.Path,
    *,
    at_s: float | None = None,
    track_s: float = 50 * 60.0,
) -> pathlib.Path:
    """World map (coastlines from basemap's bundled data): stations, ground tracks of the last `track_s`
    before `at_s`, satellites at `at_s`, and the links open at `at_s`."""
    plt = _plt()
    import warnings

    with warnings.catch_warnings():
        # basemap 2.0's compiled _geoslib was built against an older numpy header and says so at import
        # ("numpy.ndarray size changed"); the check is Cython's and harmless here (no ndarray subclassing).
        warnings.filterwarnings("ignore", message="numpy.ndarray size changed", category=RuntimeWarning)
        from mpl_toolkits.basemap import Basemap

    from dtn.twin.geometry import position_at

    at_s = map_instant_s(report) if at_s is None else at_s
    sources = {b.src for b in report.bundles}
    users = {b.dst for b in report.bundles}
    down = {f["node"] for f in report.outages() if f["from_s"] <= at_s < f["to_s"]}
    lost = {f["node"] for f in report.losses() if f["at_s"] <= at_s}
    fig, ax = plt.subplots(figsize=(13, 6.8))
    m = Basemap(projection="robin", lon_0=0, resolution="c", ax=ax)
    m.drawmapboundary(fill_color="#eef4fa", linewidth=0.5)
    m.fillcontinents(color="#e8e4d8", lake_color="#eef4fa", zorder=0)
    m.drawcoastlines(linewidth=0.4, color="#8a8a8a")
    m.drawparallels(range(-60, 91, 30), linewidth=0.2, color="#b0b0b0")
    m.drawmeridians(range(-180, 181, 60), linewidth=0.2, color="#b0b0b0")
    times = geometry.get("t_s") or []
    step_s = float(geometry.get("step_s", 60.0))
    k_end = min(len(times) - 1, max(0, int(round((at_s - (times[0] if times else 0)) / step_s)))) if times else 0
    k_start = max(0, k_end - int(track_s / step_s))
    for number, sat in geometry.get("satellites", {}).items():
        if int(number) in lost:
            continue
        for lons, lats in _segments(sat["lon_deg"][k_start : k_end + 1], sat["lat_deg"][k_start : k_end + 1]):
            x, y = m(lons, lats)
            ax.plot(x, y, color="#9bb3d6", lw=0.6, zorder=2)
    open_links = [r for r in report.links if r["start_s"] <= at_s < r["end_s"]]
    drawn_data = drawn_idle = False
    for r in open_links:
        pa, pb = position_at(geometry, r["a"], at_s), position_at(geometry, r["b"], at_s)
        if pa is None or pb is None or abs(pa[1] - pb[1]) > 180 or r["a"] in lost or r["b"] in lost:
            continue
        used = (r.get("bytes_ab", 0) + r.get("bytes_ba", 0)) > 0
        x, y = m([pa[1], pb[1]], [pa[0], pb[0]])
        label = None
        if used and not drawn_data:
            label, drawn_data = "link open now that carried data in its window", True
        elif not used and not drawn_idle:
            label, drawn_idle = "link open now (idle)", True
        ax.plot(x, y, color="#2b8a3e" if used else "#a9c7a9", lw=1.6 if used else 0.7, zorder=3, label=label)
    sat_x, sat_y = [], []
    for number in geometry.get("satellites", {}):
        pos = position_at(geometry, int(number), at_s)
        if pos is not None and int(number) not in lost:
            x, y = m(pos[1], pos[0])
            sat_x.append(x)
            sat_y.append(y)
    ax.scatter(sat_x, sat_y, s=14, color="#1f4e9c", zorder=4, label="satellite")
    for number in lost:
        pos = position_at(geometry, number, at_s)
        if pos is not None:
            x, y = m(pos[1], pos[0])
            ax.plot(x, y, marker="X", color="black", ms=9, zorder=5)
    labels_done: set[str] = set()
    for number, st in geometry.get("stations", {}).items():
        n = int(number)
        x, y = m(st["lon_deg"], st["lat_deg"])
        if n in down:
            colour, kind = DOWN_COLOUR, "station down now"
        elif n in sources:
            colour, kind = "#6a3d9a", "ground centre (source)"
        elif n in users:
            colour, kind = "#e07b00", "user station"
        else:
            colour, kind = "#777777", "other station"
        ax.scatter(
            [x],
            [y],
            marker="^",
            s=70 if n in sources or n in users else 30,
            color=colour,
            edgecolor="white",
            linewidth=0.6,
            zorder=6,
            label=None if kind in labels_done else kind,
        )
        labels_done.add(kind)
        if n in sources or n in users or n in down:
            ax.annotate(
                st["name"], (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7.5, color=colour, zorder=7
            )
    if lost:
        ax.plot([], [], marker="X", color="black", ls="", ms=8, label="satellite lost")
    ax.set_title(
        f"The network at {human_s(at_s)} into the run ({_utc(report, at_s)}): "
        f"{len(open_links)} links open; ground tracks of the previous {human_s(track_s)}",
        fontsize=11,
    )
    ax.legend(loc="lower left", fontsize=7.5, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def has_map_support() -> bool:
    """Whether basemap (the `maps` extra: `pip install -e ".[maps]"`) is installed; without it the report has
    every plot but the world map."""
    import importlib.util

    try:
        return importlib.util.find_spec("mpl_toolkits.basemap") is not None
    except (ImportError, ValueError):
        return False


def write_plots(report: Report, out_dir: pathlib.Path, *, map_at_s: float | None = None) -> dict[str, pathlib.Path]:
    from dtn.twin.geometry import read_geometry

    out_dir.mkdir(parents=True, exist_ok=True)
    plots: dict[str, pathlib.Path] = {}
    geometry = read_geometry(out_dir)
    if geometry is not None and geometry.get("stations") and has_map_support():
        plots["map"] = plot_map(report, geometry, out_dir / "map.png", at_s=map_at_s)
    plots["timeline"] = plot_timeline(report, out_dir / "timeline.png")
    plots["latency"] = plot_latency_cdf(report, out_dir / "latency_cdf.png")
    plots["occupancy"] = plot_occupancy(report, out_dir / "store_occupancy.png")
    return plots


_CAPTIONS = {
    "map": "Where everything was at one instant: stations (triangles), satellites (dots) with their recent ground "
    "tracks, and the links open at that instant.",
    "timeline": "One row per node that matters. Bars are contact windows (dark ones carried data); red hatching "
    "is an outage; a black cross is a satellite lost for good. Each coloured line is one bundle, drawn "
    "through the nodes that held it at the times it reached them.",
    "latency": "Cumulative distribution of delivery latency: the measured times (blue) against what contact "
    "graph routing predicted when each bundle was sent (orange, dashed).",
    "occupancy": "How much each of the busiest stores held over time.",
}
_TITLES = {"map": "The network", "timeline": "Timeline", "latency": "Latency", "occupancy": "Stores"}


def write_html(report: Report, out_dir: pathlib.Path, plots: dict[str, pathlib.Path]) -> pathlib.Path:
    """index.html: the story, the headline numbers, the plots (inlined) and the per-flow and per-bundle tables."""
    s = report.summary()
    names = report.names()
    esc = html.escape
    cards = [
        ("delivered", f"{s['delivered']} of {s['sent']}", f"{s['delivery_ratio']:.1%} of the bundles sent"),
        ("lost", str(s["lost"]), "sent, never delivered, not deleted, not stored"),
        ("still in a store", str(s["pending_at_end"]), "on their way when the run ended"),
        ("latency, median", human_s(s["latency_p50_s"]), f"CGR predicted {human_s(s['predicted_latency_p50_s'])}"),
        ("latency, 95 %", human_s(s["latency_p95_s"]), f"CGR predicted {human_s(s['predicted_latency_p95_s'])}"),
        ("latency, slowest", human_s(s["latency_max_s"]), f"CGR predicted {human_s(s['predicted_latency_max_s'])}"),
    ]
    if s["expired"] or s["deleted"]:
        cards.append(("expired / deleted", f"{s['expired']} / {s['deleted']}", "before delivery"))
    archive = report.meta.get("archive")
    if archive:
        cards.append(
            (
                "archive GETs answered",
                f"{archive.get('answered', 0)} of {archive.get('requests', 0)}",
                f"95 % within {human_s(archive.get('p95_s'))}",
            )
        )
    card_html = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div>'
        f'<div class="n">{esc(n)}</div></div>'
        for k, v, n in cards
    )
    figures = "".join(
        f'<figure id="plot-{esc(name)}"><h2>{esc(_TITLES.get(name, name))}</h2><img alt="{esc(name)} plot" '
        f'src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{esc(_CAPTIONS.get(name, ''))}</figcaption></figure>"
        for name, p in plots.items()
    )
    flows: dict[str, list] = {}
    for b in report.bundles:
        flows.setdefault(b.flow, []).append(b)
    flow_rows = "".join(
        f"<tr><td>{esc(name)}</td><td class=r>{len(items)}</td>"
        f"<td class=r>{sum(1 for b in items if b.delivered_s is not None)}</td>"
        f"<td class=r>{esc(human_s(percentile([b.latency_s for b in items if b.latency_s is not None], 0.5)))}</td>"
        f"<td class=r>{esc(human_s(percentile([b.predicted_latency_s for b in items if b.latency_s is not None and b.predicted_latency_s is not None], 0.5)))}</td></tr>"
        for name, items in sorted(flows.items())
    )
    deletions = "".join(
        f"<tr><td>{esc(r)}</td><td class=r>{n}</td></tr>" for r, n in sorted(report.deleted_by_reason.items())
    )
    bundle_rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(x))}</td>"
            for x in (
                b.key,
                b.flow,
                names.get(b.src, b.src),
                names.get(b.dst, b.dst),
                human_bytes(b.size_bytes),
                _utc(report, b.sent_s)[11:],
                human_s(b.latency_s),
                human_s(b.predicted_latency_s),
                b.deleted_reason or "",
                " → ".join(str(names.get(n, n)) for n in b.path),
            )
        )
        + "</tr>"
        for b in report.bundles[:500]
    )
    start_s, end_s = _span_s(report)
    title = f"{report.meta.get('scenario') or 'run'}: {'digital twin' if report.meta.get('mode') == 'simulate' else 'replay'}"
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>spacedtn report: {esc(title)}</title>
<style>
body{{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}}
header{{background:#101828;color:#fff;padding:16px 28px}} header h1{{margin:0;font-size:21px}}
header .sub{{color:#cbd5e1;font-size:13px}} main{{max-width:1280px;margin:0 auto;padding:18px 28px}}
p.story{{font-size:16.5px;background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:14px 18px;margin:0 0 16px}}
.cards{{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:8px}}
.card{{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:10px 14px;min-width:150px}}
.card .k{{color:#667085;font-size:12px;text-transform:uppercase;letter-spacing:.04em}}
.card .v{{font-size:24px;font-weight:600}} .card .n{{color:#667085;font-size:12px}}
figure{{background:#fff;border:1px solid #e3e6eb;border-radius:8px;margin:16px 0;padding:10px 16px}}
figure h2,section h2{{font-size:15px;margin:4px 0 8px}} figure img{{max-width:100%;display:block}}
figcaption{{color:#475467;font-size:13px}}
table{{border-collapse:collapse;font-size:12.5px;background:#fff}} td,th{{border:1px solid #e3e6eb;padding:3px 8px;text-align:left}}
td.r{{text-align:right;font-variant-numeric:tabular-nums}} section{{margin:16px 0}}
</style></head><body>
<header><h1>spacedtn report: {esc(title)}</h1><div class="sub">{esc(_utc(report, start_s))} to {esc(_utc(report, end_s))}
({esc(human_s(end_s - start_s))}), {len(names)} nodes, {report.events_total} node events</div></header>
<main>
<p class="story" id="story">{esc(report.story())}</p>
<div class="cards">{card_html}</div>
{figures}
<section><h2>Flows</h2><table><tr><th>flow</th><th>sent</th><th>delivered</th><th>latency, median</th>
<th>CGR predicted, median</th></tr>{flow_rows}</table></section>
{f"<section><h2>Copies deleted, by reason</h2><table><tr><th>reason</th><th>copies</th></tr>{deletions}</table></section>" if deletions else ""}
<section><h2>Bundles (first 500)</h2><table><tr><th>bundle</th><th>flow</th><th>from</th><th>to</th><th>size</th>
<th>sent (UTC)</th><th>latency</th><th>predicted</th><th>deleted</th><th>path</th></tr>{bundle_rows}</table></section>
</main></body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
