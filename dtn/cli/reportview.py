"""Rich rendering of a run report in the terminal (`dtn report`, `dtn simulate`, `dtn replay`, `dtn demo`).

rich stays here, in the CLI: `dtn.twin` computes the report and draws its plots without it."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from dtn.twin.report import Report, human_s as _fmt_s


def render_report(report: Report, console: Console | None = None, *, top_links: int = 10) -> None:
    console = console or Console()
    s = report.summary()
    names = {int(k): v for k, v in report.meta.get("nodes", {}).items()}
    t = Table(title=f"spacedtn {s.get('mode') or 'run'}: {s.get('scenario') or ''}", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    for label, key in (
        ("bundles sent", "sent"),
        ("delivered", "delivered"),
        ("expired", "expired"),
        ("deleted (other reasons)", "deleted"),
        ("still stored at end", "pending_at_end"),
        ("lost", "lost"),
        ("duplicates delivered", "duplicates_delivered"),
    ):
        t.add_row(label, str(s[key]))
    t.add_row("delivery ratio", f"{s['delivery_ratio']:.1%}")
    for q in ("p50", "p95", "max"):
        t.add_row(
            f"latency {q} (CGR predicted)", f"{_fmt_s(s[f'latency_{q}_s'])} ({_fmt_s(s[f'predicted_latency_{q}_s'])})"
        )
    console.print(t)
    if report.deleted_by_reason:
        d = Table(title="deletions by reason (all copies)")
        d.add_column("reason")
        d.add_column("count", justify="right")
        for reason, n in sorted(report.deleted_by_reason.items()):
            d.add_row(reason, str(n))
        console.print(d)
    flows: dict[str, list] = defaultdict(list)
    for b in report.bundles:
        flows[b.flow].append(b)
    if flows:
        f = Table(title="per flow")
        for col in ("flow", "sent", "delivered", "latency p50", "predicted p50"):
            f.add_column(col, justify="right" if col != "flow" else "left")
        from dtn.twin.report import percentile

        for name, items in sorted(flows.items()):
            lat = [b.latency_s for b in items if b.latency_s is not None]
            pred = [
                b.predicted_latency_s for b in items if b.latency_s is not None and b.predicted_latency_s is not None
            ]
            f.add_row(name, str(len(items)), str(len(lat)), _fmt_s(percentile(lat, 0.5)), _fmt_s(percentile(pred, 0.5)))
        console.print(f)
    if report.links:
        busiest = sorted(report.links, key=lambda r: -(r.get("bytes_ab", 0) + r.get("bytes_ba", 0)))[:top_links]
        busiest = [r for r in busiest if r.get("bytes_ab", 0) + r.get("bytes_ba", 0) > 0]
        if busiest:
            lt = Table(title=f"busiest contacts (bytes carried vs capacity), top {len(busiest)}")
            for col in ("link", "window (h)", "a->b", "cap a->b", "b->a", "cap b->a"):
                lt.add_column(col, justify="right" if col != "link" else "left")
            for r in busiest:
                lt.add_row(
                    f"{names.get(r['a'], r['a'])} - {names.get(r['b'], r['b'])}",
                    f"{r['start_s'] / 3600:.2f}-{r['end_s'] / 3600:.2f}",
                    _bytes(r.get("bytes_ab", 0)),
                    _bytes(r.get("capacity_ab_bytes", 0)),
                    _bytes(r.get("bytes_ba", 0)),
                    _bytes(r.get("capacity_ba_bytes", 0)),
                )
            console.print(lt)
    archive = report.meta.get("archive")
    if archive:
        a = Table(title=f"orbital archive ({archive.get('mode', 'archive')})", show_header=False)
        a.add_column("what")
        a.add_column("value", justify="right")
        acks = archive.get("acks") or []
        firsts = [x["first_replica_s"] - x["put_s"] for x in acks if x.get("first_replica_s") is not None]
        alls = [x["all_replicas_s"] - x["put_s"] for x in acks if x.get("all_replicas_s") is not None]
        a.add_row("objects put", str(len(acks)))
        a.add_row("first replica held after (max)", _fmt_s(max(firsts)) if firsts else "-")
        a.add_row("all replicas held after (max)", f"{_fmt_s(max(alls))} ({len(alls)} objects)" if alls else "-")
        a.add_row("GET requests / answered", f"{archive.get('requests', 0)} / {archive.get('answered', 0)}")
        for key, label in (("within_1h", "answered within 1 h"), ("within_6h", "answered within 6 h")):
            if archive.get(key) is not None:
                a.add_row(label, f"{archive[key]:.1%}")
        a.add_row("retrieval latency p50 / p95", f"{_fmt_s(archive.get('p50_s'))} / {_fmt_s(archive.get('p95_s'))}")
        console.print(a)
    console.print(report.one_line())


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
