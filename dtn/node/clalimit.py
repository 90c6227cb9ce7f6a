"""What the node does with a bundle larger than its next hop's convergence layer carries (UDP: one datagram).

A link may declare `max_bundle_bytes` (the UDP CLA does). A bundle over it is cut into fragments that fit
(RFC 9171 §5.8), which go back to routing, when fragmentation is allowed (`[routing] fragment`, and the bundle
is not flagged must-not-fragment); otherwise it is deleted, with a `forward_failed` event naming both sizes.
Either way the link stays up: one oversized bundle must not take the contact down with it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dtn.errors import DtnError
from dtn.node import bundles as bp
from dtn.store import StoredBundle

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node")

NO_INFORMATION = 0  # RFC 9171 §6.1.1 has no reason code for "too large for the link"


def link_limit_problem(session: Any, size_bytes: int) -> str | None:
    """A one-line reason when `size_bytes` exceeds the link's `max_bundle_bytes`, else None."""
    limit = getattr(session, "max_bundle_bytes", None)
    if limit is None or size_bytes <= limit:
        return None
    name = getattr(session, "cla_name", "convergence layer")
    return f"bundle of {size_bytes} bytes exceeds the {name} convergence layer limit of {limit} bytes"


async def handle_oversized(
    node: "Node", entry: StoredBundle, peer: int, size_bytes: int, problem: str, limit: int
) -> None:
    """Fragment `entry` to fit `limit` and route the pieces, or delete it (see the module docstring)."""
    node.events.emit(
        "forward_failed",
        bundle=entry.key,
        src=entry.source,
        dst=entry.destination,
        size_bytes=size_bytes,
        next_hop=peer,
        reason=problem,
    )
    if node.config.routing.fragment and not bp.no_fragment(entry):
        # Room for the blocks forwarding adds (previous node, hop count, age) on every piece.
        max_bytes = limit - bp.FRAGMENT_OVERHEAD_BYTES
        try:
            pieces = (
                bp.fragment(bp.decode(await node.db(node.store.read, entry.key)), max_bytes) if max_bytes > 0 else []
            )
        except DtnError as exc:
            log.info("cannot fragment %s for the link: %s", entry.key, exc)
            pieces = []
        if len(pieces) > 1:
            items = []
            for piece in pieces:
                data = bp.encode(piece)
                piece_entry = node.processing.entry(
                    bp.info(piece), len(data), from_peer=(entry.metadata or {}).get("from")
                )
                fields = {
                    **{f: getattr(piece_entry, f) for f in piece_entry.__dataclass_fields__},
                    "expiry_s": entry.expiry_s,
                    "metadata": dict(entry.metadata or {}),
                }
                items.append((StoredBundle(**fields), data))
            await node.db(node.store.put_many, items)  # pieces first: a crash in between leaves both
            await node.db(node.store.delete, entry.key)
            node.forwarding.release_booking(entry.key)
            node.events.emit(
                "fragmented",
                bundle=entry.key,
                src=entry.source,
                dst=entry.destination,
                size_bytes=entry.size_bytes,
                fragments=len(items),
                max_bytes=max_bytes,
            )
            for piece_entry, _ in items:
                stored = await node.db(node.store.get, piece_entry.key)
                if stored is not None:
                    node.processing.after_store(stored)
                    await node.forwarding.route(stored)
            return
    log.warning("%s: %s; deleted", entry.key, problem)
    await node.processing.delete_stored(entry, NO_INFORMATION)


__all__ = ["link_limit_problem", "handle_oversized"]
