"""The report of a replay or a simulation, computed from its run directory.

A run directory holds:
- `meta.json`: scenario name, mode (`simulate` | `replay`), plan epoch (Unix s), start/end plan seconds, nodes
  ({number: name}), seed.
- `events.jsonl` (or `events-*.jsonl`, one per node process): the nodes' event logs (see dtn.node.events).
- `sends.jsonl`: one line per bundle the traffic driver sent: `t_s` (plan s), `bundle` (store key), `flow`, `src`,
  `dst` (node numbers), `size_bytes`, `predicted_arrival_s` (CGR's prediction at send time, plan s, or null).
- `links.jsonl`: one line per link window the emulator carried: `a`, `b`, `start_s`, `end_s`, `bytes_ab`,
  `bytes_ba`, `capacity_ab_bytes`, `capacity_ba_bytes`, `sessions`.
- `faults.json` (optional): the faults the run injected, as in faults.toml (`kind`, `node`, `a`, `b`, `at_s`,
  `from_s`, `to_s`, `restart_after_s`), node numbers resolved.
- `geometry.json` (optional): station positions and satellite sub-points (`dtn.twin.geometry`), for the map.

Pure: reads files, computes numbers; plotting is in `dtn.twin.plots`.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from dtn.errors import ScenarioError


def _read_jsonl(path: pathlib.Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a killed process
            if isinstance(record, dict):
                out.append(record)
    return out


def node_number(node_id: Any) -> int | None:
    """'ipn:5.0' -> 5; 5 -> 5; anything else -> None."""
    if isinstance(node_id, int):
        return node_id
    if isinstance(node_id, str) and node_id.startswith("ipn:"):
        head = node_id[4:].split(".")
        if len(head) >= 2 and head[-2].isdigit():
            return int(head[-2])
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class BundleFate:
    key: str
    flow: str
    src: int
    dst: int
    size_bytes: int
    sent_s: float
    predicted_arrival_s: float | None
    delivered_s: float | None = None
    deleted_reason: str | None = None
    path: list[int] = field(default_factory=list)
    hop_times_s: list[float] = field(default_factory=list)  # when the bundle reached each node of `path`
    deliveries: int = 0

    @property
    def latency_s(self) -> float | None:
        return None if self.delivered_s is None else self.delivered_s - self.sent_s

    @property
    def predicted_latency_s(self) -> float | None:
        return None if self.predicted_arrival_s is None else self.predicted_arrival_s - self.sent_s


@dataclass
class Report:
    meta: dict
    bundles: list[BundleFate]
    deleted_by_reason: dict[str, int]
    pending_at_end: int
    occupancy: dict[int, list[tuple[float, int, int]]]  # node -> [(plan s, bundles, bytes)]
    links: list[dict]
    events_total: int
    faults: list[dict] = field(default_factory=list)

    # -- headline numbers ------------------------------------------------------------------------------------
    @property
    def sent(self) -> int:
        return len(self.bundles)

    @property
    def delivered(self) -> int:
        return sum(1 for b in self.bundles if b.delivered_s is not None)

    @property
    def expired(self) -> int:
        return sum(1 for b in self.bundles if b.delivered_s is None and b.deleted_reason == "LIFETIME_EXPIRED")

    @property
    def deleted(self) -> int:
        return sum(
            1 for b in self.bundles if b.delivered_s is None and b.deleted_reason not in (None, "LIFETIME_EXPIRED")
        )

    @property
    def duplicates_delivered(self) -> int:
        return sum(max(0, b.deliveries - 1) for b in self.bundles)

    @property
    def lost(self) -> int:
        """Sent, never delivered, never deleted with a reason, and not held in any store at the end."""
        return max(0, self.sent - self.delivered - self.expired - self.deleted - self.pending_at_end)

    @property
    def delivery_ratio(self) -> float:
        return self.delivered / self.sent if self.sent else 1.0

    def latencies_s(self) -> list[float]:
        return [b.latency_s for b in self.bundles if b.latency_s is not None]

    def predicted_latencies_s(self) -> list[float]:
        return [
            b.predicted_latency_s for b in self.bundles if b.latency_s is not None and b.predicted_latency_s is not None
        ]

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_s()
        pred = self.predicted_latencies_s()
        return {
            "scenario": self.meta.get("scenario"),
            "mode": self.meta.get("mode"),
            "sent": self.sent,
            "delivered": self.delivered,
            "expired": self.expired,
            "deleted": self.deleted,
            "deleted_by_reason": dict(self.deleted_by_reason),
            "pending_at_end": self.pending_at_end,
            "lost": self.lost,
            "duplicates_delivered": self.duplicates_delivered,
            "delivery_ratio": round(self.delivery_ratio, 4),
            "latency_p50_s": _r(percentile(lat, 0.5)),
            "latency_p95_s": _r(percentile(lat, 0.95)),
            "latency_max_s": _r(max(lat) if lat else None),
            "predicted_latency_p50_s": _r(percentile(pred, 0.5)),
            "predicted_latency_p95_s": _r(percentile(pred, 0.95)),
            "predicted_latency_max_s": _r(max(pred) if pred else None),
            "events": self.events_total,
        }

    def names(self) -> dict[int, str]:
        return {int(k): v for k, v in self.meta.get("nodes", {}).items()}

    def outages(self) -> list[dict]:
        """Node-down faults (a station or satellite off for a while)."""
        return [f for f in self.faults if f.get("kind") == "node_down" and f.get("node") is not None]

    def losses(self) -> list[dict]:
        """Nodes killed and never restarted (lost satellites)."""
        return [
            f
            for f in self.faults
            if f.get("kind") == "kill_node" and f.get("restart_after_s") is None and f.get("node") is not None
        ]

    def story(self) -> str:
        """A first paragraph in plain words: what was sent where, what went wrong, what arrived, how fast."""
        names = self.names()
        s = self.summary()
        duration_s = float(self.meta.get("end_s", 0.0)) - float(self.meta.get("start_s", 0.0))
        how = (
            "in the digital twin (every node runs the real node code in virtual time)"
            if self.meta.get("mode") == "simulate"
            else "with real node processes over loopback"
        )
        sources = sorted({names.get(b.src, str(b.src)) for b in self.bundles})
        users = sorted({names.get(b.dst, str(b.dst)) for b in self.bundles})
        parts = [f"This run played {human_s(duration_s)} of the {self.meta.get('scenario') or 'plan'} scenario {how}."]
        if self.bundles:
            parts.append(
                f"{_list(sources)} sent {self.sent} bundles ({human_bytes(sum(b.size_bytes for b in self.bundles))}) "
                f"to {len(users)} user station{'s' if len(users) != 1 else ''} ({_list(users, 6)})."
            )
        outages = self.outages()
        if outages:
            down = _list(sorted({names.get(f["node"], str(f["node"])) for f in outages}))
            start_s = min(f["from_s"] for f in outages)
            end_s = max(f["to_s"] for f in outages)
            during = sum(1 for b in self.bundles if b.delivered_s is not None and start_s <= b.delivered_s < end_s)
            parts.append(
                f"{down} {'were' if len({f['node'] for f in outages}) > 1 else 'was'} down from "
                f"{human_s(start_s)} to {human_s(end_s)} into the run ({human_s(end_s - start_s)})"
                + (
                    f"; {during} bundles still reached their users in that time from stores in orbit."
                    if during
                    else "."
                )
            )
        losses = self.losses()
        if losses:
            lost_names = _list([names.get(f["node"], str(f["node"])) for f in losses], 4)
            parts.append(
                f"{len(losses)} satellite{'s' if len(losses) != 1 else ''} ({lost_names}) "
                f"{'were' if len(losses) != 1 else 'was'} lost for good during the run."
            )
        archive = self.meta.get("archive")
        if archive:
            acks = archive.get("acks") or []
            held = sum(1 for a in acks if a.get("all_replicas_s") is not None)
            p95 = f" (95 % within {human_s(archive['p95_s'])})" if archive.get("p95_s") is not None else ""
            parts.append(
                f"The orbital archive kept {len(acks)} product{'s' if len(acks) != 1 else ''} on satellites "
                f"({held} on every replica); "
                f"users asked for them {archive.get('requests', 0)} times while the ground was down and "
                f"got {archive.get('answered', 0)} answers{p95}."
            )
        if self.bundles:
            tail = (
                f"{s['delivered']} of {s['sent']} bundles arrived ({s['delivery_ratio']:.1%})"
                + (
                    f", {s['pending_at_end']} were still on their way in a store at the end"
                    if s["pending_at_end"]
                    else ""
                )
                + (f", {s['expired']} expired" if s["expired"] else "")
                + (f", {s['deleted']} were deleted" if s["deleted"] else "")
                + f"; {'none' if s['lost'] == 0 else s['lost']} {'was' if s['lost'] == 1 else 'were'} lost."
            )
            parts.append(tail)
            if s["latency_p50_s"] is not None:
                pred = (
                    f" (contact graph routing predicted {human_s(s['predicted_latency_p50_s'])})"
                    if s["predicted_latency_p50_s"] is not None
                    else ""
                )
                parts.append(
                    f"Half of the bundles arrived within {human_s(s['latency_p50_s'])}{pred}, 95 % within "
                    f"{human_s(s['latency_p95_s'])}, the slowest after {human_s(s['latency_max_s'])}."
                )
        return " ".join(parts)

    def one_line(self) -> str:
        s = self.summary()
        lat = (
            f", latency p50 {_fmt_s(s['latency_p50_s'])} (CGR predicted {_fmt_s(s['predicted_latency_p50_s'])})"
            if s["latency_p50_s"] is not None
            else ""
        )
        return (
            f"{s['delivered']} of {s['sent']} bundles delivered, {s['expired']} expired, {s['deleted']} deleted, "
            f"{s['pending_at_end']} still stored, {s['lost']} lost{lat}."
        )


def human_s(x: float | None) -> str:
    """A duration for people: 450 ms, 35 s, 4.2 min, 6 h, 1.5 d."""
    if x is None or not math.isfinite(x):
        return "-"
    a = abs(x)
    if a < 1:
        return f"{x * 1000:.0f} ms"
    if a < 120:
        return f"{x:.1f} s" if a < 10 else f"{x:.0f} s"
    if a < 3600:
        return f"{x / 60:.1f} min" if a < 600 else f"{x / 60:.0f} min"
    if a < 172800:
        return f"{x / 3600:g} h" if float(x / 3600).is_integer() else f"{x / 3600:.1f} h"
    return f"{x / 86400:.1f} d"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    v = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(v) < 1000 or unit == "TB":
            break
        v /= 1000
    return f"{v:.0f} {unit}" if unit == "bytes" else f"{v:.1f} {unit}"


def _list(items: list[str], most: int = 8) -> str:
    items = list(items)
    if len(items) > most:
        return ", ".join(items[:most]) + f" and {len(items) - most} more"
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 120:
        return f"{x:.1f} s"
    if x < 7200:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.2f} h"


# Events after which a node no longer holds the bundle.
_RELEASES = {"forwarded", "delivered", "deleted"}


def build_report(events: list[dict], sends: list[dict], links: list[dict], meta: dict) -> Report:
    epoch = float(meta.get("plan_epoch_unix_s", 0.0))
    fates: dict[str, BundleFate] = {}
    for s in sends:
        key = s.get("bundle")
        if not key:
            continue
        fates[key] = BundleFate(
            key=key,
            flow=str(s.get("flow", "")),
            src=int(s["src"]),
            dst=int(s["dst"]),
            size_bytes=int(s.get("size_bytes", 0)),
            sent_s=float(s["t_s"]),
            predicted_arrival_s=s.get("predicted_arrival_s"),
        )
    events = sorted(events, key=lambda e: e.get("t_unix_s", 0.0))
    held: dict[int, dict[str, int]] = defaultdict(dict)
    occupancy: dict[int, list[tuple[float, int, int]]] = defaultdict(list)
    deleted_by_reason: Counter = Counter()

    def record_occupancy(node: int, t_s: float) -> None:
        store = held[node]
        occupancy[node].append((t_s, len(store), sum(store.values())))

    for e in events:
        node = node_number(e.get("node"))
        kind = e.get("event")
        key = e.get("bundle")
        t_s = float(e.get("t_unix_s", epoch)) - epoch
        fate = fates.get(key) if key else None
        if node is None or not key:
            continue
        if kind == "stored":
            held[node][key] = int(e.get("size_bytes") or (fate.size_bytes if fate else 0))
            record_occupancy(node, t_s)
            if fate is not None and (not fate.path or fate.path[-1] != node):
                fate.path.append(node)
                fate.hop_times_s.append(t_s)
        elif kind in _RELEASES:
            if key in held[node]:
                del held[node][key]
                record_occupancy(node, t_s)
            if fate is None:
                continue
            if kind == "delivered" and node == fate.dst:
                fate.deliveries += 1
                if fate.delivered_s is None:
                    fate.delivered_s = t_s
                if not fate.path or fate.path[-1] != node:
                    fate.path.append(node)
                    fate.hop_times_s.append(t_s)
            elif kind == "deleted":
                reason = str(e.get("reason") or "UNKNOWN")
                deleted_by_reason[reason] += 1
                if fate.delivered_s is None and not _still_held(held, key, node):
                    fate.deleted_reason = reason
    pending = sum(
        1
        for f in fates.values()
        if f.delivered_s is None and f.deleted_reason is None and any(f.key in h for h in held.values())
    )
    return Report(
        meta=meta,
        bundles=sorted(fates.values(), key=lambda f: (f.sent_s, f.key)),
        deleted_by_reason=dict(deleted_by_reason),
        pending_at_end=pending,
        occupancy=dict(occupancy),
        links=links,
        events_total=len(events),
    )


def _still_held(held: dict[int, dict[str, int]], key: str, except_node: int) -> bool:
    return any(key in store for node, store in held.items() if node != except_node)


def load_report(run_dir: str | pathlib.Path) -> Report:
    """Read a run directory written by `dtn simulate` or `dtn replay`."""
    run = pathlib.Path(run_dir)
    meta_path = run / "meta.json"
    if not meta_path.is_file():
        raise ScenarioError(f"{run}: not a run directory (no meta.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{meta_path}: invalid JSON: {exc}") from None
    events: list[dict] = []
    for path in sorted(run.glob("events*.jsonl")):
        events.extend(_read_jsonl(path))
    sends = _read_jsonl(run / "sends.jsonl") if (run / "sends.jsonl").exists() else []
    links = _read_jsonl(run / "links.jsonl") if (run / "links.jsonl").exists() else []
    report = build_report(events, sends, links, meta)
    faults_path = run / "faults.json"
    if faults_path.is_file():
        try:
            faults = json.loads(faults_path.read_text())
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{faults_path}: invalid JSON: {exc}") from None
        report.faults = [f for f in faults if isinstance(f, dict)] if isinstance(faults, list) else []
    return report
