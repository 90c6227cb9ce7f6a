"""What a node reports about itself: `status` (the agent's `status` operation, `dtn node status`) and the
gauges the metrics endpoint exports. Read-only views of the node's parts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dtn.node.node import Node


def gauges(node: "Node") -> dict[str, float]:
    store = node.store
    return {
        "store_bundles": float(store.count()) if store is not None else 0.0,
        "store_bytes": float(store.total_bytes()) if store is not None else 0.0,
        "sessions_up": float(sum(1 for p in node.contacts.peers.values() if p.session is not None)),
        "pending_delivery": float(node.delivery.pending()),
    }


def status(node: "Node") -> dict[str, Any]:
    now = node.plan_now_s()
    store = node.store
    schedule = node.schedule
    peers = []
    for number in sorted(node.contacts.peers):
        state = node.contacts.peers[number]
        nb = node.config.neighbours.get(number)
        contact = schedule.outbound_contact(number, now)
        peers.append(
            {
                "node": number,
                "address": nb.address if nb else None,
                "session": state.session is not None,
                "planned_up": schedule.planned_up(number, now),
                "override": schedule.overrides.get(number),
                "contact_end_s": contact.end_s if contact else None,
                "next_change_s": _finite(schedule.next_change_s(number, now)),
                "queued": len(store.for_next_hop(number)) if store is not None else 0,
                "sending": state.sending,
            }
        )
    plan = node.plan
    unix_s = node.clock.unix_s()
    return {
        "node_id": node.node_id,
        "dtn_id": node.config.dtn_id,
        "uptime_s": round(unix_s - node.started_unix_s, 3),
        "unix_s": round(unix_s, 3),
        "plan_now_s": round(now, 3),
        "plan": {
            "name": plan.name if plan else None,
            "contacts": len(plan.contacts) if plan else 0,
            "epoch_unix_s": node.plan_epoch_unix_s,
        },
        "bundles": store.count() if store is not None else 0,
        "store_bytes": store.total_bytes() if store is not None else 0,
        "store_max_bytes": getattr(store, "max_bytes", None),
        "store_max_bundles": getattr(store, "max_bundles", None),
        "unassigned": len(store.unassigned()) if store is not None else 0,
        "pending_delivery": {ep: len(q) for ep, q in sorted(node.delivery.queues.items()) if q},
        "registered": sorted(node.delivery.registered),
        "peers": peers,
        "events": dict(sorted(node.events.counts.items())),
        "reports": len(node.reports),
    }


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 3)
