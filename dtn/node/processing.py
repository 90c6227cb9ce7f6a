"""Bundle processing, RFC 9171 §5: creation for local applications (§5.2), reception (§5.6), dispatch (§5.3),
administrative records for this node, reassembly (§5.9), deletion (§5.11), expiry (§5.5) and status reports
(§6.1), plus resuming the store's bundles after a restart. Forwarding (§5.4) is `dtn.node.forwarding`.

Storage first: a bundle is durable in the store before `receive_from_peer` returns (so the CLA may acknowledge
the transfer) or the application's `send` is answered.
"""

from __future__ import annotations

import heapq
import logging
import math
from typing import TYPE_CHECKING, Any

from dtn.bpsec.constants import BCB_BLOCK_TYPE
from dtn.errors import ConfigError, CryptoInternalError, DecodeError, DtnError, SecurityError, StoreError
from dtn.node import bundles as bp
from dtn.node.staticroutes import route_note
from dtn.node.wakeup import Wakeup
from dtn.reasons import StatusReasonCode, reason_name
from dtn.store import Retention, StoredBundle

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node")

R = StatusReasonCode

REPORT_KIND_BITS = {
    "reception": bp.REPORT_RECEPTION,
    "forwarding": bp.REPORT_FORWARDING,
    "delivery": bp.REPORT_DELIVERY,
    "deletion": bp.REPORT_DELETION,
}


class BundleProcessor:
    """RFC 9171 §5 for one node (see module docstring)."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self._expiry_heap: list[tuple[float, str]] = []
        self._expiry_wake = Wakeup()
        self._reassembly: dict[tuple, bp.Reassembly] = {}
        self._last_creation: tuple[int, int] = (-1, -1)

    # -- restart -----------------------------------------------------------------------------------------------
    async def reload_store(self) -> None:
        """Resume every pending bundle of the store (after a restart, or a store handed over)."""
        node = self.node
        entries = await node.db(lambda: list(node.store.entries()))
        now_unix = node.clock.unix_s()
        for entry in entries:
            try:
                await self._reload_one(entry, now_unix)
            except DtnError as exc:  # one damaged bundle must not keep the node from starting
                log.warning("bundle %s not resumed: %s", entry.key, exc)
                node.events.emit(
                    "deleted",
                    bundle=entry.key,
                    src=entry.source,
                    dst=entry.destination,
                    size_bytes=entry.size_bytes,
                    reason=R.BLOCK_UNINTELLIGIBLE.event_name,
                    detail=str(exc)[:200],
                )
                await node.db(node.store.delete, entry.key)
        self._expiry_wake.fire()

    async def _reload_one(self, entry: StoredBundle, now_unix: float) -> None:
        node = self.node
        if entry.key in node.ledger:
            await node.db(node.store.delete, entry.key)  # delivered just before a crash
            return
        heapq.heappush(self._expiry_heap, (entry.expiry_s, entry.key))
        if entry.expiry_s <= now_unix:
            return  # the expiry loop deletes it
        if entry.retention & Retention.REASSEMBLY_PENDING:
            data = await node.db(node.store.read, entry.key)
            await self._add_fragment(entry, bp.decode(data), reload=True)
        elif node.is_local(entry.destination):
            node.delivery.queue(entry)
        else:
            if entry.next_hop is not None:
                await node.db(node.store.assign, entry.key, None, None)
            await node.forwarding.route(entry)

    # -- creation (RFC 9171 §5.2) ------------------------------------------------------------------------------
    def next_creation(self) -> tuple[int, int]:
        """A creation timestamp (DTN ms, sequence) never used before by this node run."""
        now_ms = self.node.dtn_now_ms()
        last_ms, last_seq = self._last_creation
        if now_ms <= last_ms:
            now_ms, seq = last_ms, last_seq + 1
        else:
            seq = 0
        self._last_creation = (now_ms, seq)
        return now_ms, seq

    async def send_from_application(
        self,
        destination: str,
        payload: bytes,
        *,
        source: str | None = None,
        lifetime_s: float | None = None,
        report: tuple[str, ...] = (),
        report_to: str | None = None,
        hop_limit: int | None = None,
        crc_type: int | None = None,
        no_fragment: bool = False,
        block_crc_type: int | None = None,
    ) -> dict[str, Any]:
        """Create a bundle for a local application, store it durably, dispatch it; return its identity."""
        node = self.node
        bp.check_eid(destination, "destination")
        source = source or node.node_id
        bp.check_eid(source, "source")
        if not node.is_local(source):
            raise ConfigError(f"{source} is not an endpoint of this node ({node.node_id})", key="source")
        if report_to is not None:
            bp.check_eid(report_to, "report_to")
        bits = 0
        for kind in report:
            bits |= REPORT_KIND_BITS[kind]
        defaults = node.config.bundles
        lifetime_ms = int(round((lifetime_s if lifetime_s is not None else defaults.lifetime_s) * 1000))
        creation_ms, sequence = self.next_creation()
        bundle = bp.create(
            source=source,
            destination=destination,
            payload=payload,
            creation_time_ms=creation_ms,
            sequence=sequence,
            lifetime_ms=lifetime_ms,
            report_to=report_to or source,
            report_bits=bits,
            no_fragment=no_fragment,
            crc_type=defaults.crc_type if crc_type is None else crc_type,
            hop_limit=hop_limit if hop_limit is not None else defaults.hop_limit,
            block_crc_type=defaults.block_crc_type if block_crc_type is None else block_crc_type,
        )
        if node.security is not None:
            bundle = node.security.outbound(bundle)
        bp.check_primary_crc(bundle)
        data = bp.encode(bundle)
        info = bp.info(bundle)
        entry, route = node.forwarding.with_route(self.entry(info, len(data), from_peer=None))
        node.events.emit("created", bundle=entry.key, src=source, dst=destination, size_bytes=len(data))
        try:
            stored = await node.db(node.store.put, entry, data)
        except StoreError as exc:
            node.events.emit(
                "deleted",
                bundle=entry.key,
                src=source,
                dst=destination,
                size_bytes=len(data),
                reason=reason_name(exc.reason_code or R.NO_ADDITIONAL_INFORMATION),
            )
            raise StoreError(f"bundle refused: {exc}", reason_code=exc.reason_code) from None
        if not stored:
            raise StoreError(f"bundle {entry.key} is already stored")
        self.after_store(entry)
        await self.dispatch(entry, info, data, route)
        return {
            "bundle": entry.key,
            "source": source,
            "destination": destination,
            "creation_time_ms": creation_ms,
            "sequence": sequence,
            "size_bytes": len(data),
            **await route_note(node, entry.key, destination),
        }

    def entry(self, info: bp.Info, size_bytes: int, *, from_peer: int | None) -> StoredBundle:
        """The store record for a bundle this node takes custody of now."""
        now_unix = self.node.clock.unix_s()
        age_ms = info.bundle_age_ms or 0
        if info.creation_time_ms:
            expiry_s = bp.dtn_ms_to_unix(info.creation_time_ms) + info.lifetime_ms / 1000.0
        else:  # no clock at the source: the Bundle Age block says how old it is (RFC 9171 §4.4.2)
            expiry_s = now_unix + (info.lifetime_ms - age_ms) / 1000.0
        metadata: dict[str, Any] = {
            "rt": info.report_to,
            "rf": info.report_bits,
            "adm": info.is_admin,
            "age_ms": age_ms,
            "rx_s": now_unix,
        }
        if from_peer is not None:
            metadata["from"] = from_peer
        if info.status_time_requested:
            metadata["st"] = True
        if info.must_not_fragment:
            metadata["nf"] = True
        return StoredBundle(
            source=info.source,
            creation_time_ms=info.creation_time_ms,
            sequence=info.sequence,
            destination=info.destination,
            expiry_s=expiry_s,
            fragment_offset=info.fragment_offset,
            payload_length=info.fragment_payload_bytes,
            retention=Retention.DISPATCH_PENDING,
            received_s=now_unix,
            size_bytes=size_bytes,
            metadata=metadata,
        )

    def after_store(self, entry: StoredBundle) -> None:
        """A bundle was stored: log it and schedule its expiry."""
        self.node.events.emit(
            "stored", bundle=entry.key, src=entry.source, dst=entry.destination, size_bytes=entry.size_bytes
        )
        heap = self._expiry_heap
        earlier = bool(heap) and entry.expiry_s < heap[0][0]
        heapq.heappush(heap, (entry.expiry_s, entry.key))
        if earlier or len(heap) == 1:
            self._expiry_wake.fire()

    # -- reception (RFC 9171 §5.6) -----------------------------------------------------------------------------
    async def receive_from_peer(self, data: bytes, peer: int | None) -> None:
        """A bundle arrived over a CLA. Returns once it is durable (or deliberately dropped), so the CLA may
        acknowledge the transfer."""
        node = self.node
        try:
            bundle = bp.decode(data)
        except DecodeError as exc:
            node.events.emit(
                "deleted",
                size_bytes=len(data),
                reason=R.BLOCK_UNINTELLIGIBLE.event_name,
                detail=str(exc),
                **{"from": peer},
            )
            return
        info = bp.info(bundle)
        key = bp.key_of(info)
        node.events.emit(
            "received", bundle=key, src=info.source, dst=info.destination, size_bytes=len(data), **{"from": peer}
        )
        if node.security is not None:
            try:
                bundle = node.security.inbound(bundle, is_local_destination=node.is_local(info.destination))
            except SecurityError as exc:
                await self._delete_unstored(
                    info, len(data), exc.reason_code or R.FAILED_SECURITY_OPERATION, detail=str(exc)
                )
                return
            except CryptoInternalError as exc:
                # Not the peer's fault and not a failed security operation (reason 15): keep nothing, delete
                # nothing; the error goes up so the CLA refuses the transfer and the sender keeps the bundle.
                log.error("bundle %s: internal crypto error, transfer refused: %s", key, exc)
                node.events.emit("security_internal_error", bundle=key, detail=str(exc), **{"from": peer})
                raise
            data = bp.encode(bundle)
            info = bp.info(bundle)
        elif node.is_local(info.destination) and bundle.blocks_of(BCB_BLOCK_TYPE):  # a BCB and no keys at all:
            # RFC 9172 §5.1.1 forbids delivering ciphertext; discard as a failed security operation.
            await self._delete_unstored(
                info, len(data), R.FAILED_SECURITY_OPERATION, detail="BCB at its destination, no [security] table"
            )
            return
        problems = bp.reception_problems(bundle)
        if problems:
            await self._delete_unstored(info, len(data), R.BLOCK_UNINTELLIGIBLE, detail="; ".join(problems))
            return
        entry = self.entry(info, len(data), from_peer=peer)
        if entry.expiry_s <= node.clock.unix_s():
            await self._delete_unstored(info, len(data), R.LIFETIME_EXPIRED)
            return
        if info.hop_limit is not None and info.hop_count > info.hop_limit:
            await self._delete_unstored(info, len(data), R.HOP_LIMIT_EXCEEDED)
            return
        if key in node.ledger:
            node.events.emit(
                "duplicate", bundle=key, src=info.source, dst=info.destination, size_bytes=len(data), **{"from": peer}
            )
            return
        if await node.db(node.store.contains, key):
            if peer is not None:  # we hold it too: see Forwarder.after_sent (crossed transfers)
                node.forwarding.crossed.setdefault(key, set()).add(peer)
            node.events.emit(
                "duplicate", bundle=key, src=info.source, dst=info.destination, size_bytes=len(data), **{"from": peer}
            )
            return
        entry, route = node.forwarding.with_route(entry)
        try:
            stored = await node.db(node.store.put, entry, data)
        except StoreError as exc:
            await self._delete_unstored(info, len(data), exc.reason_code or R.DEPLETED_STORAGE, detail=str(exc))
            return
        if not stored:
            node.events.emit(
                "duplicate", bundle=key, src=info.source, dst=info.destination, size_bytes=len(data), **{"from": peer}
            )
            return
        self.after_store(entry)
        if route is not None:
            node.forwarding.remember_decoded(key, bundle, info)
        await self.report(entry, bp.REPORT_RECEPTION, R.NO_ADDITIONAL_INFORMATION)
        await self.dispatch(entry, info, data, route)

    async def _delete_unstored(self, info: bp.Info, size_bytes: int, reason: int, detail: str | None = None) -> None:
        """Delete a bundle we never stored (RFC 9171 §5.11), reporting deletion if asked."""
        key = bp.key_of(info)
        self.node.events.emit(
            "deleted",
            bundle=key,
            src=info.source,
            dst=info.destination,
            size_bytes=size_bytes,
            reason=reason_name(reason),
            detail=detail,
        )
        subject = self.entry(info, size_bytes, from_peer=None)
        await self.report(subject, bp.REPORT_DELETION, reason)

    # -- dispatch (RFC 9171 §5.3) ------------------------------------------------------------------------------
    async def dispatch(self, entry: StoredBundle, info: bp.Info, data: bytes, route: Any = None) -> None:
        node = self.node
        if node.is_local(entry.destination):
            if entry.fragment_offset is not None:
                await self._add_fragment(entry, bp.decode(data))
                return
            if info.is_admin and entry.destination == node.node_id:
                await self._consume_admin(entry, bp.decode(data))
                return
            node.delivery.queue(entry)
            return
        await node.forwarding.route(entry, route=route, assigned=route is not None)

    async def _consume_admin(self, entry: StoredBundle, bundle: Any) -> None:
        """An administrative record for this node (a status report): record it, then discard the bundle."""
        node = self.node
        record = bp.read_admin(bundle)
        if record is not None:
            record = dict(record, source=entry.source, received_unix_s=round(node.clock.unix_s(), 6))
            node.reports.append(record)
            node.events.emit(
                "status_report",
                bundle=record.get("subject"),
                src=entry.source,
                status=record.get("status"),
                reason=record.get("reason"),
            )
        await node.db(node.store.delete, entry.key)

    # -- fragments (RFC 9171 §5.9) -----------------------------------------------------------------------------
    async def _add_fragment(self, entry: StoredBundle, bundle: Any, *, reload: bool = False) -> None:
        node = self.node
        if not reload:
            await node.db(node.store.set_retention, entry.key, Retention.REASSEMBLY_PENDING)
        adu = (entry.source, entry.creation_time_ms, entry.sequence)
        reassembly = self._reassembly.get(adu)
        if reassembly is None:
            reassembly = self._reassembly[adu] = bp.Reassembly()
        try:
            whole = reassembly.add(entry.key, bundle)
        except DtnError as exc:  # inconsistent with the fragments already held (RFC 9171 §5.9)
            reassembly.forget(entry.key)
            await node.db(node.store.delete, entry.key)
            node.events.emit(
                "deleted",
                bundle=entry.key,
                src=entry.source,
                dst=entry.destination,
                size_bytes=entry.size_bytes,
                reason=R.BLOCK_UNINTELLIGIBLE.event_name,
                detail=str(exc),
            )
            return
        if whole is None:
            return
        del self._reassembly[adu]
        data = bp.encode(whole)
        info = bp.info(whole)
        new_entry = bp.entry_with(self.entry(info, len(data), from_peer=None), expiry_s=entry.expiry_s)
        try:
            stored = await node.db(node.store.put, new_entry, data)
        except StoreError as exc:
            node.events.emit(
                "deleted",
                bundle=new_entry.key,
                src=info.source,
                dst=info.destination,
                size_bytes=len(data),
                reason=reason_name(exc.reason_code or R.DEPLETED_STORAGE),
            )
            return
        await node.db(node.store.delete_many, reassembly.keys())
        node.events.emit(
            "reassembled",
            bundle=new_entry.key,
            src=info.source,
            dst=info.destination,
            size_bytes=len(data),
            fragments=len(reassembly.keys()),
        )
        if stored:
            self.after_store(new_entry)
            await self.dispatch(new_entry, info, data)

    # -- deletion (RFC 9171 §5.11) -----------------------------------------------------------------------------
    async def delete_stored(self, entry: StoredBundle, reason: int) -> None:
        node = self.node
        await node.db(node.store.delete, entry.key)
        await self._after_deletion(entry, reason)

    async def _after_deletion(self, entry: StoredBundle, reason: int) -> None:
        """A bundle left the store: drop its booking and delivery slot, log it, report it where asked."""
        node = self.node
        node.forwarding.release_booking(entry.key)
        node.delivery.unqueue(entry)
        node.events.emit(
            "deleted",
            bundle=entry.key,
            src=entry.source,
            dst=entry.destination,
            size_bytes=entry.size_bytes,
            reason=reason_name(reason),
        )
        await self.report(entry, bp.REPORT_DELETION, reason)

    async def expiry_loop(self) -> None:
        """Delete bundles whose lifetime ended (RFC 9171 §5.5), at their expiry time."""
        node = self.node
        clock = node.clock
        heap = self._expiry_heap
        while True:
            while heap and not await node.db(node.store.contains, heap[0][1]):
                heapq.heappop(heap)
            next_unix = heap[0][0] if heap else math.inf
            if next_unix > clock.unix_s():
                await self._expiry_wake.wait(node.trio_deadline_for_unix(next_unix))
                continue
            now_unix = clock.unix_s()
            for entry in await node.db(node.store.expire, now_unix):
                await self._after_deletion(entry, R.LIFETIME_EXPIRED)
            await node.db(node.ledger.expire, now_unix)
            while heap and heap[0][0] <= now_unix:
                heapq.heappop(heap)

    # -- status reports (RFC 9171 §6.1) ------------------------------------------------------------------------
    async def report(self, entry: StoredBundle, kind_bit: int, reason: int) -> None:
        """Send a status report about `entry` to its report-to endpoint if its flags ask for `kind_bit`."""
        node = self.node
        meta = entry.metadata or {}
        if meta.get("adm") or not (int(meta.get("rf", 0)) & kind_bit):
            return
        report_to = meta.get("rt")
        if not report_to or report_to == "dtn:none":
            return
        creation_ms, sequence = self.next_creation()
        bundle = bp.status_report(
            subject=entry,
            kind_bit=kind_bit,
            reason=int(reason),
            time_ms=node.dtn_now_ms() if meta.get("st") else 0,
            source=node.node_id,
            destination=report_to,
            creation_time_ms=creation_ms,
            sequence=sequence,
            lifetime_ms=max(1000, int((entry.expiry_s - node.clock.unix_s()) * 1000)) + 60_000,
            crc_type=node.config.bundles.crc_type,
        )
        data = bp.encode(bundle)
        info = bp.info(bundle)
        report_entry = self.entry(info, len(data), from_peer=None)
        try:
            if not await node.db(node.store.put, report_entry, data):
                return
        except StoreError as exc:
            log.warning("status report about %s not stored: %s", entry.key, exc)
            return
        self.after_store(report_entry)
        await self.dispatch(report_entry, info, data)
