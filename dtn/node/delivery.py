"""Local delivery, RFC 9171 §5.7: registered endpoints, a queue of stored bundles per endpoint, handing them
to applications (the agent API, the echo service, the archive service) and their acknowledgement.

A bundle stays in the store until its application acknowledges it; one handed out on a connection that closes
goes back to its queue. Waiting for a delivery has no timeout argument: the caller bounds it with its own
cancel scope.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dtn.errors import DtnError
from dtn.node import bundles as bp
from dtn.node.config import check_local_endpoint
from dtn.node.wakeup import Wakeup
from dtn.reasons import StatusReasonCode
from dtn.store import StoredBundle

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node")


class Delivery:
    """Endpoints and delivery queues of one node."""

    def __init__(self, node: "Node", endpoints: tuple[str, ...] | list[str]) -> None:
        self.node = node
        self.registered: set[str] = set(endpoints)
        self.queues: dict[str, list[str]] = {}  # endpoint -> store keys awaiting local delivery
        self._handed_out: set[str] = set()
        self._wake = Wakeup()

    # -- endpoints ---------------------------------------------------------------------------------------------
    def register(self, endpoint: str) -> None:
        check_local_endpoint(endpoint, self.node.node_number, self.node.config.dtn_id, key="endpoint")
        self.registered.add(endpoint)

    def unregister(self, endpoint: str) -> None:
        self.registered.discard(endpoint)

    # -- queues ------------------------------------------------------------------------------------------------
    def queue(self, entry: StoredBundle) -> None:
        queue = self.queues.setdefault(entry.destination, [])
        if entry.key not in queue:
            queue.append(entry.key)
        self._wake.fire()

    def unqueue(self, entry: StoredBundle) -> None:
        queue = self.queues.get(entry.destination)
        if queue and entry.key in queue:
            queue.remove(entry.key)

    def is_handed_out(self, key: str) -> bool:
        return key in self._handed_out

    def pending(self) -> int:
        return sum(len(q) for q in self.queues.values())

    # -- applications ------------------------------------------------------------------------------------------
    async def next_delivery(self, endpoint: str) -> dict[str, Any]:
        """The next bundle queued for `endpoint` not handed out elsewhere; waits until there is one (bound the
        wait with a cancel scope, e.g. `with trio.move_on_after(5):`)."""
        node = self.node
        while True:
            for key in self.queues.get(endpoint, ()):
                if key in self._handed_out:
                    continue
                entry = await node.db(node.store.get, key)
                if entry is None:
                    continue
                data = await node.db(node.store.read, key)
                self._handed_out.add(key)
                bundle = bp.decode(data)
                info = bp.info(bundle)
                return {
                    "bundle": key,
                    "endpoint": endpoint,
                    "source": info.source,
                    "destination": info.destination,
                    "payload": bp.payload(bundle),
                    "creation_time_ms": info.creation_time_ms,
                    "sequence": info.sequence,
                    "lifetime_ms": info.lifetime_ms,
                    "admin": bp.read_admin(bundle) if info.is_admin else None,
                }
            await self._wake.wait()

    def release(self, keys: set[str]) -> None:
        """Deliveries handed out on a closed connection go back to their queues."""
        if keys:
            self._handed_out -= keys
            self._wake.fire()

    async def acknowledge(self, key: str) -> None:
        """The application has the bundle: record it as delivered, delete it, report delivery."""
        node = self.node
        entry = await node.db(node.store.get, key)
        self._handed_out.discard(key)
        if entry is None:
            return
        await node.db(node.ledger.add, key, entry.expiry_s)
        await node.db(node.store.delete, key)
        self.unqueue(entry)
        node.events.emit(
            "delivered",
            bundle=key,
            src=entry.source,
            dst=entry.destination,
            size_bytes=entry.size_bytes,
            endpoint=entry.destination,
        )
        await node.processing.report(entry, bp.REPORT_DELIVERY, StatusReasonCode.NO_ADDITIONAL_INFORMATION)

    # -- the echo service --------------------------------------------------------------------------------------
    async def echo_loop(self, endpoint: str) -> None:
        """Echo every bundle received on `endpoint` back to its source (for `dtn ping`)."""
        self.registered.add(endpoint)
        while True:
            item = await self.next_delivery(endpoint)
            try:
                if not bp.is_null(item["source"]):
                    await self.node.processing.send_from_application(
                        item["source"],
                        item["payload"],
                        source=endpoint,
                        lifetime_s=max(1.0, item["lifetime_ms"] / 1000.0),
                    )
            except DtnError as exc:
                log.info("echo reply to %s failed: %s", item["source"], exc)
            await self.acknowledge(item["bundle"])
