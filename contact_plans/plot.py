"""A contact plan's timeline as a Gantt chart (matplotlib): one row per undirected link, bars for its
contacts, coloured by link type. Each link type gets a share of the rows."""

from __future__ import annotations

import os
from typing import Sequence

from contact_plans.model import ContactPlan, link_type_of
from dtn.errors import PlanError


def plot_gantt(
    plan: ContactPlan, path: str | os.PathLike, *, max_links: int = 60, nodes: Sequence[str | int] | None = None
) -> tuple[int, int]:
    """Write the chart to `path` (format from the extension). Links are ordered by link type, then first
    contact; at most `max_links` rows are drawn. `nodes` (names or numbers) keeps links touching them.
    Returns (links drawn, links in the plan after filtering)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    by_number = {n.number: n for n in plan.nodes}
    wanted: set[int] | None = None
    if nodes:
        wanted = set()
        for ref in nodes:
            text = str(ref)
            if text.isdigit() and int(text) in by_number:
                wanted.add(int(text))
            else:
                wanted.add(plan.node_by_name(text).number)
    links: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for c in plan.contacts:
        if wanted is not None and c.from_node not in wanted and c.to_node not in wanted:
            continue
        key = (min(c.from_node, c.to_node), max(c.from_node, c.to_node))
        links.setdefault(key, []).append((c.start_s, c.end_s))
    if not links:
        raise PlanError("nothing to plot: the plan (or the node selection) has no contacts")

    def kind(n: int):
        return by_number[n].kind if n in by_number else None

    def label(n: int) -> str:
        node = by_number.get(n)
        return node.name if node and node.name else str(n)

    ordered = sorted(links, key=lambda k: (link_type_of(kind(k[0]), kind(k[1])), min(s for s, _ in links[k]), k))
    # every link type gets its share of the rows (round robin), then rows are grouped by type again
    by_type: dict[str, list[tuple[int, int]]] = {}
    for key in ordered:
        by_type.setdefault(link_type_of(kind(key[0]), kind(key[1])), []).append(key)
    picked: list[tuple[int, int]] = []
    queues = [list(v) for v in by_type.values()]
    while len(picked) < max_links and any(queues):
        for q in queues:
            if q and len(picked) < max_links:
                picked.append(q.pop(0))
    rank = {key: i for i, key in enumerate(ordered)}
    shown = sorted(picked, key=rank.__getitem__)
    types = sorted({link_type_of(kind(a), kind(b)) for a, b in shown})
    cmap = plt.get_cmap("tab10")
    colours = {t: cmap(i % 10) for i, t in enumerate(types)}
    height_in = max(2.5, 0.22 * len(shown) + 1.2)
    fig, ax = plt.subplots(figsize=(12, height_in))
    for row, (a, b) in enumerate(shown):
        spans = sorted(set(links[(a, b)]))
        merged: list[list[float]] = []
        for s, e in spans:  # both directions usually share a window: draw it once
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        colour = colours[link_type_of(kind(a), kind(b))]
        ax.broken_barh([(s / 3600.0, (e - s) / 3600.0) for s, e in merged], (row - 0.4, 0.8), color=colour)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([f"{label(a)} - {label(b)}" for a, b in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"hours after {plan.epoch:%Y-%m-%d %H:%M:%S} UTC")
    ax.set_title(f"{plan.name or 'contact plan'}: {len(shown)} of {len(ordered)} links")
    ax.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in types]
    ax.legend(handles, types, loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(shown), len(ordered)
