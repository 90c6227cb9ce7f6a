"""What the web page shows, as plain JSON-able dicts built from a running node (no I/O, no clock of its own).

Everything is read through the node's public surface: `status()`, `plan`, `plan_now_s()`, `events.recent`,
`config.neighbours`. Times are given three ways so that the page never has to guess: plan seconds, Unix
seconds (UTC) and seconds from now.
"""

from __future__ import annotations

import math
from typing import Any

# The timeline shows this much of the plan around now.
PAST_S = 30 * 60.0
AHEAD_S = 6 * 3600.0
MAX_CONTACTS = 400
MAX_EVENTS = 200


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def contacts(node: Any, now_s: float, *, past_s: float = PAST_S, ahead_s: float = AHEAD_S) -> dict[str, Any]:
    """This node's contacts (either direction) that overlap [now - past_s, now + ahead_s], each with its state."""
    me = node.node_number
    epoch = float(node.plan_epoch_unix_s)
    rows = []
    plan = node.plan
    for c in plan.contacts if plan is not None else ():
        if me not in (c.from_node, c.to_node):
            continue
        if c.end_s < now_s - past_s or c.start_s > now_s + ahead_s:
            continue
        state = "now" if c.start_s <= now_s < c.end_s else ("past" if c.end_s <= now_s else "next")
        rows.append(
            {
                "from": c.from_node,
                "to": c.to_node,
                "peer": c.to_node if c.from_node == me else c.from_node,
                "direction": "out" if c.from_node == me else "in",
                "start_s": _finite(c.start_s),
                "end_s": _finite(c.end_s),
                "start_unix_s": _finite(c.start_s + epoch),
                "end_unix_s": _finite(c.end_s + epoch),
                "rate_bytes_per_s": _finite(c.rate_bytes_per_s),
                "owlt_s": _finite(c.owlt_s),
                "state": state,
            }
        )
        if len(rows) >= MAX_CONTACTS:
            break
    rows.sort(key=lambda r: (r["start_s"] if r["start_s"] is not None else -math.inf, r["peer"]))
    upcoming = [r for r in rows if r["state"] == "next"]
    return {
        "window_start_s": round(now_s - past_s, 3),
        "window_end_s": round(now_s + ahead_s, 3),
        "contacts": rows,
        "now": [r for r in rows if r["state"] == "now"],
        "next": upcoming[0] if upcoming else None,
    }


def sessions(node: Any, status: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per neighbour: its convergence layer, session state, queue and next planned change."""
    out = []
    neighbours = getattr(node.config, "neighbours", {}) or {}
    for peer in status.get("peers", []):
        nb = neighbours.get(peer["node"])
        out.append(
            {
                "node": peer["node"],
                "cla": getattr(nb, "cla", None),
                "address": peer.get("address"),
                "session": "up" if peer.get("session") else "down",
                "planned_up": bool(peer.get("planned_up")),
                "override": peer.get("override"),
                "queued_bundles": peer.get("queued", 0),
                "sending": peer.get("sending"),
                "next_change_s": peer.get("next_change_s"),
            }
        )
    return out


def events(node: Any, *, last: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
    """The node's most recent events (newest last), optionally only one kind."""
    last = max(0, min(int(last), MAX_EVENTS))
    records = [e for e in list(node.events.recent) if kind is None or e.get("event") == kind]
    return records[-last:] if last else []


def snapshot(node: Any) -> dict[str, Any]:
    """Everything the page shows, in one dict."""
    status = node.status()
    now_s = float(status["plan_now_s"])
    store_max = status.get("store_max_bytes")
    return {
        "node_id": status["node_id"],
        "unix_s": status["unix_s"],
        "uptime_s": status["uptime_s"],
        "plan_now_s": now_s,
        "plan": status["plan"],
        "store": {
            "bundles": status["bundles"],
            "bytes": status["store_bytes"],
            "max_bytes": store_max,
            "max_bundles": status.get("store_max_bundles"),
            "used_fraction": (status["store_bytes"] / store_max) if store_max else None,
            "waiting_for_route": status["unassigned"],
        },
        "sessions": sessions(node, status),
        "contacts": contacts(node, now_s),
        "pending_delivery": status.get("pending_delivery", {}),
        "deliveries": events(node, last=20, kind="delivered"),
        "events": events(node, last=30),
        "event_counts": status.get("events", {}),
    }
