"""The node's use of static and default routes (`[[routes]]`, pure matching in `routing.static`), and the
one-line routing note `dtn send` prints.

Rule: CGR first. Only when the contact plan gives no route (and proactive fragmentation does not make one) does
the node look at its static routes; the most specific matching pattern wins (see routing/static.py). A
bundle assigned by a static route goes to that neighbour when the neighbour's link is up (always, without a
plan; in its planned contacts, with one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dtn.node import bundles as bp
from dtn.store import StoredBundle

if TYPE_CHECKING:
    from dtn.node.node import Node


def static_routes(node: "Node") -> Any:
    """The node's `routing.static.StaticRoutes` (built once from the config)."""
    routes = getattr(node, "_static_routes", None)
    if routes is None:
        from routing.static import StaticRoutes

        routes = node._static_routes = StaticRoutes(node.config.routes)
    return routes


async def assign_static(node: "Node", entry: StoredBundle) -> bool:
    """Assign `entry` to the neighbour its best static route names; False when no static route matches."""
    routes = static_routes(node)
    if not routes:
        return False
    came_from = (entry.metadata or {}).get("from")
    dest_node = node.forwarding.destination_node(entry.destination)
    route = routes.match(
        entry.destination,
        excluded=frozenset({came_from}) if came_from is not None else frozenset(),
        destination_node=dest_node,
    )
    if route is None or route.via == node.node_number:
        return False
    await node.db(node.store.assign, entry.key, route.via, ("static", route.to))
    node.events.emit(
        "routed",
        bundle=entry.key,
        src=entry.source,
        dst=entry.destination,
        size_bytes=entry.size_bytes,
        next_hop=route.via,
        contact=None,
        static=route.to,
    )
    state = node.contacts.peer(route.via)
    state.wake.fire()
    return True


async def route_note(node: "Node", key: str, destination: str) -> dict[str, Any]:
    """What happened to a just-sent bundle, for the agent's `send` reply: `next_hop` (None when it waits or
    is local) and `note`, one line for `dtn send` to print."""
    if node.is_local(destination):
        return {"next_hop": None, "note": "for a local endpoint: delivered here"}
    entry = await node.db(node.store.get, key)
    if entry is None:
        if node.config.routing.no_route == "delete":
            return {"next_hop": None, "note": f'no route to {destination}: deleted (routing.no_route = "delete")'}
        return {"next_hop": None, "note": "already forwarded"}
    if entry.next_hop is not None:
        how = f"static route {entry.route[1]}" if entry.route and entry.route[0] == "static" else "contact plan"
        return {"next_hop": entry.next_hop, "note": f"next hop ipn:{entry.next_hop}.0 ({how})"}
    if bp.eid_node_number(destination) is None and node.forwarding.destination_node(destination) is None:
        why = f"no route to {destination} (its node is not in the contact plan and no [[routes]] entry matches)"
    else:
        why = f"no route to {destination} now (no contact in the plan reaches it and no [[routes]] entry matches)"
    return {
        "next_hop": None,
        "note": f"{why}: it waits in the store until a contact or route appears or its lifetime ends",
    }


__all__ = ["static_routes", "assign_static", "route_note"]
