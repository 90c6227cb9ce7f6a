"""Forwarding, RFC 9171 §5.4: choosing and booking a route by CGR, proactive fragmentation (§5.8), rerouting
after link loss, and preparing a bundle for its transmission (§5.4 step 4).

A route is booked on the router when a bundle is assigned to it and released when the bundle leaves that next
hop's queue in any other way; a bundle holds at most one booking (`route` releases an older one first).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from contact_plans.model import Contact
from dtn.bpv7.admin import StatusReasonCode
from dtn.errors import DecodeError, DtnError
from dtn.node import bundles as bp
from dtn.node.staticroutes import assign_static
from dtn.store import Retention, StoredBundle

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node")

DECODED_CACHE_ENTRIES = 256  # decoded bundles kept for forwarding (see Forwarder.remember_decoded)


class Drop(DtnError):
    """The bundle must be deleted instead of forwarded, with this status report reason."""

    def __init__(self, reason: StatusReasonCode) -> None:
        super().__init__(reason.name)
        self.reason = reason


class Forwarder:
    """Route choice, bookings and the forwarding side of bundle processing for one node."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.bookings: dict[str, Any] = {}  # store key -> Route booked for it
        self.crossed: dict[str, set[int]] = {}  # store key -> peers that sent us a bundle we hold
        self._decoded: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # see remember_decoded

    # -- route choice ------------------------------------------------------------------------------------------
    def destination_node(self, destination: str) -> int | None:
        try:
            number = bp.eid_node_number(destination)
        except DecodeError:
            return None
        if number is not None:
            return number
        name = bp.eid_node_name(destination)
        plan = self.node.plan
        if name and plan is not None:
            for node in plan.nodes:
                if node.name == name:
                    return node.number
        return None

    def choose_route(self, entry: StoredBundle) -> Any:
        """CGR's best route for the bundle now (pure: nothing booked), avoiding the node it came from and
        arriving before it expires; None if there is none."""
        node = self.node
        dest_node = self.destination_node(entry.destination)
        if node.router is None or dest_node is None or dest_node == node.node_number:
            return None
        came_from = (entry.metadata or {}).get("from")
        excluded = frozenset({came_from}) if came_from not in (None, dest_node) else frozenset()
        return bp.best_route(
            node.router,
            node.node_number,
            dest_node,
            node.plan_now_s(),
            entry.size_bytes,
            excluded=excluded,
            deadline_s=entry.expiry_s - node.plan_epoch_unix_s,
        )

    def with_route(self, entry: StoredBundle) -> tuple[StoredBundle, Any]:
        """For a bundle about to be stored: choose its route first, so one commit stores it assigned."""
        if self.node.is_local(entry.destination):
            return entry, None
        route = self.choose_route(entry)
        if route is None:
            return entry, None
        return bp.entry_with(entry, next_hop=route.next_hop, route=bp.route_summary(route)), route

    async def route(
        self, entry: StoredBundle, *, quiet: bool = False, route: Any = None, assigned: bool = False
    ) -> bool:
        """Assign a stored bundle to its next hop by CGR; True if routed. Without a route the bundle is cut
        into fragments that fit (if allowed), waits (routing.no_route = "wait") or is deleted ("delete").
        `route`/`assigned`: the route was chosen before the bundle was stored and written with it."""
        node = self.node
        if route is None:
            route = self.choose_route(entry)
        if route is None:
            dest_node = self.destination_node(entry.destination)
            if dest_node is not None and node.config.routing.fragment and not bp.no_fragment(entry):
                if await self._fragment_for_route(entry, dest_node, node.plan_now_s()):
                    return True
            if await assign_static(node, entry):  # [[routes]]: only when the plan gives no route
                return True
            if not quiet:
                node.events.emit(
                    "no_route", bundle=entry.key, src=entry.source, dst=entry.destination, size_bytes=entry.size_bytes
                )
            if node.config.routing.no_route == "delete":
                await node.processing.delete_stored(entry, StatusReasonCode.NO_KNOWN_ROUTE)
            return False
        self.release_booking(entry.key)  # never two bookings for one bundle
        node.router.book(route, entry.size_bytes)
        self.bookings[entry.key] = route
        contact = route.first_contact
        if not assigned:
            await node.db(node.store.assign, entry.key, route.next_hop, bp.route_summary(route))
        node.events.emit(
            "routed",
            bundle=entry.key,
            src=entry.source,
            dst=entry.destination,
            size_bytes=entry.size_bytes,
            next_hop=route.next_hop,
            contact=bp.contact_name(contact),
            arrival_s=round(route.arrival_s, 6),
        )
        node.contacts.peer(route.next_hop).wake.fire()
        return True

    def release_booking(self, key: str) -> None:
        route = self.bookings.pop(key, None)
        if route is not None and self.node.router is not None:
            self.node.router.release(route, route.size_bytes)

    async def _fragment_for_route(self, entry: StoredBundle, dest_node: int, now: float) -> bool:
        """Proactive fragmentation (RFC 9171 §5.8): when the bundle is too large for any route's remaining
        volume, cut it into fragments that fit the best route's volume and route each one."""
        node = self.node
        min_bytes = node.config.routing.min_fragment_payload_bytes
        came_from = (entry.metadata or {}).get("from")
        probe = bp.best_route(
            node.router,
            node.node_number,
            dest_node,
            now,
            min_bytes + bp.FRAGMENT_OVERHEAD_BYTES,
            excluded=frozenset({came_from}) if came_from not in (None, dest_node) else frozenset(),
            deadline_s=entry.expiry_s - node.plan_epoch_unix_s,
        )
        if probe is None:
            return False
        max_bundle_bytes = int(min(probe.volume_bytes, entry.size_bytes - 1))
        if max_bundle_bytes < min_bytes + bp.FRAGMENT_OVERHEAD_BYTES:
            return False
        data = await node.db(node.store.read, entry.key)
        try:
            pieces = bp.fragment(bp.decode(data), max_bundle_bytes)
        except DtnError as exc:
            log.info("cannot fragment %s: %s", entry.key, exc)
            return False
        if len(pieces) < 2:
            return False
        items = []
        for piece in pieces:
            piece_data = bp.encode(piece)
            piece_entry = node.processing.entry(bp.info(piece), len(piece_data), from_peer=entry.metadata.get("from"))
            piece_entry = bp.entry_with(piece_entry, expiry_s=entry.expiry_s, metadata=dict(entry.metadata))
            items.append((piece_entry, piece_data))
        # Fragments first, then the original: a crash in between leaves both, never neither.
        await node.db(node.store.put_many, items)
        await node.db(node.store.delete, entry.key)
        self.release_booking(entry.key)
        node.events.emit(
            "fragmented",
            bundle=entry.key,
            src=entry.source,
            dst=entry.destination,
            size_bytes=entry.size_bytes,
            fragments=len(items),
            max_bytes=max_bundle_bytes,
        )
        for piece_entry, _ in items:
            stored = await node.db(node.store.get, piece_entry.key)
            if stored is not None:
                node.processing.after_store(stored)
                await self.route(stored)
        return True

    # -- rerouting ---------------------------------------------------------------------------------------------
    async def reroute_waiting(self) -> None:
        """Try again every bundle that waits without a route (a contact appeared or came back). Callers go
        through `ContactManager.reroute_waiting`, which serialises passes."""
        node = self.node
        for entry in await node.db(node.store.unassigned):
            if node.delivery.is_handed_out(entry.key) or entry.retention & Retention.REASSEMBLY_PENDING:
                continue
            if node.is_local(entry.destination):
                continue
            await self.route(entry, quiet=True)

    async def reroute_peer(self, peer: int, *, failed_contact: Contact | None) -> None:
        """Link loss: every bundle assigned to `peer` and not acknowledged goes back to routing, with the
        failed contact taken out of the plan."""
        node = self.node
        if failed_contact is not None and node.router is not None:
            node.router.mark_failed(failed_contact)
        state = node.contacts.peers.get(peer)
        for entry in await node.db(node.store.for_next_hop, peer):
            if state is not None and state.sending == entry.key:
                continue
            self.release_booking(entry.key)
            await node.db(node.store.assign, entry.key, None, None)
            node.events.emit(
                "rerouted",
                bundle=entry.key,
                src=entry.source,
                dst=entry.destination,
                size_bytes=entry.size_bytes,
                next_hop=peer,
            )
            await self.route(entry)

    # -- transmission ------------------------------------------------------------------------------------------
    def remember_decoded(self, key: str, bundle: Any, info: Any) -> None:
        """Keep the decoded form of a bundle just stored for forwarding, so that sending it soon after (the usual
        case in a relay) needs neither a store read nor a second decode. Bundles are immutable values, and the
        store keeps the bytes they were decoded from: the cache can only be missing, never stale."""
        self._decoded[key] = (bundle, info)
        if len(self._decoded) > DECODED_CACHE_ENTRIES:
            self._decoded.popitem(last=False)

    async def prepare_forward(self, entry: StoredBundle) -> bytes:
        """RFC 9171 §5.4 step 4: previous node, hop count and bundle age updated for this transmission.
        Raises `Drop` when the hop limit would be exceeded, `DtnError` when the stored bytes do not decode."""
        node = self.node
        decoded = self._decoded.pop(entry.key, None)
        if decoded is not None:
            bundle, info = decoded
        else:
            bundle = bp.decode(await node.db(node.store.read, entry.key))
            info = bp.info(bundle)
        meta = entry.metadata or {}
        held_ms = max(0, int(round((node.clock.unix_s() - float(meta.get("rx_s", entry.received_s))) * 1000)))
        if info.hop_limit is not None and info.hop_count + 1 > info.hop_limit:
            raise Drop(StatusReasonCode.HOP_LIMIT_EXCEEDED)
        bundle = bp.for_forwarding(bundle, node.node_id, int(meta.get("age_ms", 0)) + held_ms)
        return bp.encode(bundle)

    async def after_sent(self, entry: StoredBundle, peer: int, size_bytes: int) -> None:
        """The neighbour acknowledged the whole bundle: delete our copy and report forwarding, unless the
        transfers crossed (see below)."""
        node = self.node
        route = self.bookings.pop(entry.key, None)
        if route is not None:
            try:  # the bytes left the first-hop queue (their volume stays booked)
                node.router.mark_sent(route.first_contact, entry.size_bytes)
            except DtnError:
                pass  # the contact was removed from the plan meanwhile
        if peer in self.crossed.pop(entry.key, ()):
            # The peer handed us its own copy while we were sending ours (it routed the bundle back to us):
            # its acknowledgement does not mean it keeps the bundle, and it dropped ours as a duplicate.
            # Keep our copy and route it anew without that peer: a copy too many beats a bundle lost.
            node.events.emit(
                "forward_crossed",
                bundle=entry.key,
                src=entry.source,
                dst=entry.destination,
                size_bytes=size_bytes,
                next_hop=peer,
            )
            metadata = dict(entry.metadata or {}, **{"from": peer})
            await node.db(node.store.update_metadata, entry.key, {"from": peer})
            await node.db(node.store.assign, entry.key, None, None)
            await self.route(bp.entry_with(entry, metadata=metadata))
            return
        await node.db(node.store.delete, entry.key)
        node.events.emit(
            "forwarded", bundle=entry.key, src=entry.source, dst=entry.destination, size_bytes=size_bytes, next_hop=peer
        )
        await node.processing.report(entry, bp.REPORT_FORWARDING, StatusReasonCode.NO_ADDITIONAL_INFORMATION)
