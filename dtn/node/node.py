"""The router node: RFC 9171 §5 bundle processing, the contact manager, local delivery, the agent API.

    node = Node(load_config("b.toml"))
    trio.run(node.run)

Storage first: a bundle is durable in the store before its transfer is acknowledged to the neighbour (the
TCPCLv4 final XFER_ACK is sent only once `_receive_from_peer` returns) or the application's `send` is answered,
and it leaves the store only once the next hop acknowledged it, the application acknowledged its delivery, or
it was deleted for a reason that is logged. All time comes from the `Clock`; plan time is
`clock.unix_s() - plan.epoch_unix_s`. docs/node.md describes the behaviour in full.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import trio

from contact_plans.model import Contact, ContactPlan
from dtn.errors import ClaError, ConfigError, DecodeError, DtnError, SecurityError, StoreError
from dtn.node import bundles as bp
from dtn.node.clalimit import handle_oversized, link_limit_problem
from dtn.node.clock import Clock, TrioClock
from dtn.node.config import NodeConfig, check_local_endpoint
from dtn.node.events import EventLog, EventSink
from dtn.node.exposure import plaintext_warnings
from dtn.node.ledger import DeliveryLedger
from dtn.node.links import PeerSession, SessionFactory
from dtn.node.plan import load_node_plan
from dtn.node.schedule import DOWN, PLAN, UP, LinkSchedule
from dtn.node.staticroutes import assign_static, route_note
from dtn.node.wakeup import Wakeup
from dtn.store import BundleStore, Retention, StoredBundle, open_store

log = logging.getLogger("dtn.node")

Dialer = Callable[[int, "str | None"], Awaitable[trio.abc.Stream]]

# RFC 9171 §6.1.1 status report reason codes, by the names the event log uses.
REASON_NAMES = {
    0: "no_information",
    1: "lifetime_expired",
    2: "unidirectional_link",
    3: "transmission_canceled",
    4: "depleted_storage",
    5: "destination_unavailable",
    6: "no_known_route",
    7: "no_timely_contact",
    8: "block_unintelligible",
    9: "hop_limit_exceeded",
    10: "traffic_pared",
    11: "block_unsupported",
    12: "missing_security_service",
    13: "unknown_security_service",
    14: "unexpected_security_service",
    15: "failed_security_service",
    16: "conflicting_security_services",
}
LIFETIME_EXPIRED = 1
DECODED_CACHE_ENTRIES = 256  # decoded bundles kept for forwarding (see Node._remember_decoded)
DEPLETED_STORAGE = 4
NO_KNOWN_ROUTE = 6
BLOCK_UNINTELLIGIBLE = 8
HOP_LIMIT_EXCEEDED = 9
TRAFFIC_PARED = 10

REPORT_KIND_BITS = {
    "reception": bp.REPORT_RECEPTION,
    "forwarding": bp.REPORT_FORWARDING,
    "delivery": bp.REPORT_DELIVERY,
    "deletion": bp.REPORT_DELETION,
}


def tcp_dialer_for(config: NodeConfig) -> Dialer:
    """The default dialer: TCP to the neighbour's configured address, TCP_NODELAY set."""

    async def dial(peer: int, address: str | None) -> trio.abc.Stream:
        if address is None:
            raise ClaError(f"no address configured for neighbour {peer}")
        host, port = config.neighbours[peer].host_port
        stream = await trio.open_tcp_stream(host, port)
        stream.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
        return stream

    return dial


@dataclass
class PeerState:
    """What the contact manager knows about one neighbour."""

    number: int
    session: PeerSession | None = None
    wake: Wakeup = field(default_factory=Wakeup)
    sending: str | None = None  # store key of the transfer in progress
    dial_failures: int = 0
    next_dial_at: float = -math.inf  # Trio time of the next dial attempt allowed (backoff)
    session_opened_here: bool = False
    contact_started_s: float | None = None  # plan time the current session came up
    sent_bytes_in_contact: int = 0
    task_running: bool = False


class Node:
    """One DTN router node. Construct, then `await node.run()` (see module docstring).

    - `clock`: all time (default: Trio's clock mapped to the wall clock, plus `[clock] offset_s`).
    - `store`: an open BundleStore (default: opened from `[store]`); a given store is not closed by the node.
    - `dialer`: `async (peer_number, address) -> trio.abc.Stream` (default: TCP to `[neighbours.N] address`).
    - `plan`: a ContactPlan (default: loaded from `[plan]`).
    - `event_sink`: a callable receiving every event record (in addition to `[log] events`).
    - `threaded_store`: run store calls in a worker thread (a process does; virtual time must not).

    Test hook: `forward_hook`, default None; when set, `forward_hook(store_key, data) -> data` is given every
    encoded bundle right before it goes to the CLA, and what it returns is sent instead (tests use it to play
    a relay that tampers with bundles in transit; docs/node.md "Security").
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        store: BundleStore | None = None,
        dialer: Dialer | None = None,
        plan: ContactPlan | None = None,
        event_sink: EventSink | None = None,
        threaded_store: bool = False,
        archive_db: Any = None,
    ) -> None:
        self.config = config
        self.node_id = config.node_id
        self.node_number = config.node_number
        self._clock = clock
        self._given_store = store
        self.store: BundleStore | None = store
        self._dialer = dialer
        self._custom_dialer = dialer is not None
        self._given_plan = plan
        self.plan: ContactPlan | None = plan
        self.plan_epoch_unix_s = 0.0
        self.router: Any = None
        self.schedule = LinkSchedule(None, self.node_number)
        self.events = EventLog(
            self.node_id, self, path=config.event_log, sinks=[event_sink] if event_sink else None
        )
        self.threaded_store = threaded_store
        self.ledger: DeliveryLedger | None = None
        self.security: Any = None
        self.peers: dict[int, PeerState] = {}
        self.reports: deque[dict[str, Any]] = deque(maxlen=1000)
        self.registered: set[str] = set(config.endpoints)
        self._queues: dict[str, list[str]] = {}  # endpoint -> store keys awaiting local delivery
        self._handed_out: set[str] = set()
        self._delivery_wake = Wakeup()
        self._bookings: dict[str, Any] = {}  # store key -> Route booked for it
        self._crossed: dict[str, set[int]] = {}  # store key -> peers that sent us a bundle we hold
        self._decoded: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # see _remember_decoded
        self._expiry_heap: list[tuple[float, str]] = []
        self._expiry_wake = Wakeup()
        self._reassembly: dict[tuple, bp.Reassembly] = {}
        self._last_creation: tuple[int, int] = (-1, -1)
        self._stop = trio.Event()
        self.finished = trio.Event()  # set when run() has returned (store closed)
        self._nursery: trio.Nursery | None = None
        self._started_unix_s = 0.0
        self.ready: dict[str, Any] = {}
        self.metrics: Any = None
        self._sessions = SessionFactory(self)
        self.forward_hook: Callable[[str, bytes], bytes] | None = None  # test hook (class docstring)
        # The archive service (docs/archive.md), started when `[archive]` is configured; `archive_db` an open
        # dtn.archive.ArchiveDB to use (the digital twin keeps one per node across restarts).
        self.archive: Any = None
        self._archive_db = archive_db

    # -- time --------------------------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = TrioClock(time.time() + self.config.clock.offset_s)
        return self._clock

    def unix_s(self) -> float:
        """Unix time now (the event log reads this). Before the clock exists (construction), 0."""
        return self.clock.unix_s() if self._clock is not None else 0.0

    def plan_now_s(self) -> float:
        return self.clock.unix_s() - self.plan_epoch_unix_s

    def _trio_deadline_for_plan(self, t_plan_s: float) -> float:
        if t_plan_s == math.inf:
            return math.inf
        return self._trio_deadline_for_unix(t_plan_s + self.plan_epoch_unix_s)

    def _trio_deadline_for_unix(self, t_unix_s: float) -> float:
        if t_unix_s == math.inf:
            return math.inf
        now = trio.current_time()
        relative = now + (t_unix_s - self.clock.unix_s())
        exact = getattr(self.clock, "trio_time_at_unix", None)  # run-independent (dtn.node.clock.TrioClock)
        if exact is None or ((deadline := exact(t_unix_s)) <= now < relative):
            return relative
        return deadline

    def dtn_now_ms(self) -> int:
        return bp.unix_to_dtn_ms(self.clock.unix_s())

    # -- store access ------------------------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.threaded_store:
            return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask `run` to stop gracefully (SESS_TERM every session, close the store)."""
        self._stop.set()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run the node until `request_stop()` (or cancellation). `task_status.started(ready_info)`."""
        self.clock  # create the default clock inside Trio
        self._started_unix_s = self.clock.unix_s()
        try:
            self._open_resources()
            with _plain_startup_errors():
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    ready = await self._start_services(nursery)
                    await self._reload_store()
                    for peer in sorted(self.schedule.peers() | set(self.config.neighbours)):
                        self._ensure_peer_task(peer)
                    nursery.start_soon(self._expiry_loop)
                    self.ready = ready
                    self.events.emit("started", **{k: v for k, v in ready.items() if k in ("listen", "agent")})
                    task_status.started(ready)
                    await self._stop.wait()
                    await self._graceful_shutdown()
                    nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._close_resources()
            self.finished.set()

    def _open_resources(self) -> None:
        cfg = self.config
        if self.plan is None:
            self.plan = load_node_plan(cfg, start_unix_s=self._started_unix_s)
        if self.plan is None:  # no plan, no neighbours: contacts may still be declared by admin messages
            self.plan = ContactPlan(epoch=_utc(self._started_unix_s), name="empty")
        self.plan_epoch_unix_s = self.plan.epoch_unix_s
        self.schedule.replace_plan(self.plan)
        self.router = bp.make_router(self.plan)
        if self.store is None:
            self.store = open_store(
                cfg.store.path, max_bytes=cfg.store.max_bytes, max_bundles=cfg.store.max_bundles
            )
        ledger_path = f"{cfg.store.path}.delivered" if (cfg.store.path and self._given_store is None) else None
        self.ledger = DeliveryLedger(ledger_path)
        if cfg.security is not None:
            self.security = bp.make_security_policy(cfg.security, cfg.base_dir, self.node_id)
        if cfg.metrics is not None:
            from dtn.node.metrics import NodeMetrics

            self.metrics = NodeMetrics(self.node_id, self._gauges)
            self.events.add_sink(self.metrics.on_event)

    def _close_resources(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
        if self._given_store is None and self.store is not None:
            self.store.close()
        self.events.close()

    async def _start_services(self, nursery: trio.Nursery) -> dict[str, Any]:
        cfg = self.config
        ready: dict[str, Any] = {"ready": True, "node_id": self.node_id, "listen": [], "agent": None,
                                 "agent_tcp": None, "metrics": None, "web": None}
        for text in plaintext_warnings(cfg):  # docs/security.md
            log.warning(text)
        for listen in cfg.listen:
            port = await nursery.start(self._sessions.serve, listen)
            ready["listen"].append({"cla": listen.cla, "host": listen.host, "port": port})
        from dtn.node.agent import open_unix_listener, serve_agent

        listeners: list[trio.abc.Listener] = []
        if cfg.agent.socket is not None:
            listeners.append(await open_unix_listener(cfg.agent.socket))
            ready["agent"] = str(cfg.agent.socket)
        if cfg.agent.tcp is not None:
            from dtn.node.config import split_host_port

            host, port = split_host_port(cfg.agent.tcp, key="agent.tcp")
            tcp = await trio.open_tcp_listeners(port, host=host)
            listeners.extend(tcp)
            bound = tcp[0].socket.getsockname()
            ready["agent_tcp"] = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
        if listeners:
            ready["agent_token_file"] = await nursery.start(serve_agent, self, listeners)
        if self.metrics is not None:
            from dtn.node.config import split_host_port

            host, port = split_host_port(cfg.metrics, key="metrics.address")
            ready["metrics"] = await nursery.start(self.metrics.serve, host, port)
        if getattr(cfg, "web", None) is not None:
            from dtn.web.app import serve_web

            ready["web"] = await nursery.start(serve_web, self, cfg.web)
        if cfg.echo_service is not None:
            nursery.start_soon(self._echo_loop, f"ipn:{self.node_number}.{cfg.echo_service}")
        if cfg.archive is not None:
            from dtn.node.archive import ArchiveService

            self.archive = ArchiveService(self, cfg.archive, db=self._archive_db)
            await nursery.start(self.archive.run)
        return ready

    async def _graceful_shutdown(self) -> None:
        with trio.move_on_after(5) as scope:
            scope.shield = True
            async with trio.open_nursery() as nursery:
                for state in self.peers.values():
                    if state.session is not None:
                        nursery.start_soon(state.session.close)
        self.events.emit("stopped")

    # -- restart -----------------------------------------------------------------------------------------------
    async def _reload_store(self) -> None:
        """Resume every pending bundle of the store (after a restart, or a store handed over)."""
        entries = await self._db(lambda: list(self.store.entries()))
        now_unix = self.clock.unix_s()
        for entry in entries:
            try:
                await self._reload_one(entry, now_unix)
            except DtnError as exc:  # one damaged bundle must not keep the node from starting
                log.warning("bundle %s not resumed: %s", entry.key, exc)
                self.events.emit("deleted", bundle=entry.key, src=entry.source, dst=entry.destination,
                                 size_bytes=entry.size_bytes, reason=REASON_NAMES[BLOCK_UNINTELLIGIBLE],
                                 detail=str(exc)[:200])
                await self._db(self.store.delete, entry.key)
        self._expiry_wake.fire()

    async def _reload_one(self, entry: StoredBundle, now_unix: float) -> None:
        if entry.key in self.ledger:
            await self._db(self.store.delete, entry.key)  # delivered just before a crash
            return
        heapq.heappush(self._expiry_heap, (entry.expiry_s, entry.key))
        if entry.expiry_s <= now_unix:
            return  # the expiry loop deletes it
        if entry.retention & Retention.REASSEMBLY_PENDING:
            data = await self._db(self.store.read, entry.key)
            await self._add_fragment(entry, bp.decode(data), reload=True)
        elif self.is_local(entry.destination):
            self._queue_delivery(entry)
        else:
            if entry.next_hop is not None:
                await self._db(self.store.assign, entry.key, None, None)
            await self._route(entry)

    # -- endpoints ---------------------------------------------------------------------------------------------
    def is_local(self, eid: str) -> bool:
        if eid.startswith("ipn:"):
            try:
                return bp.eid_node_number(eid) == self.node_number
            except DecodeError:
                return False
        dtn_id = self.config.dtn_id
        return bool(dtn_id) and eid.startswith(dtn_id)

    def register_endpoint(self, endpoint: str) -> None:
        check_local_endpoint(endpoint, self.node_number, self.config.dtn_id, key="endpoint")
        self.registered.add(endpoint)

    def unregister_endpoint(self, endpoint: str) -> None:
        self.registered.discard(endpoint)

    # -- application side --------------------------------------------------------------------------------------
    def _next_creation(self) -> tuple[int, int]:
        now_ms = self.dtn_now_ms()
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
        bp.check_eid(destination, "destination")
        source = source or self.node_id
        bp.check_eid(source, "source")
        if not self.is_local(source):
            raise ConfigError(f"{source} is not an endpoint of this node ({self.node_id})", key="source")
        if report_to is not None:
            bp.check_eid(report_to, "report_to")
        bits = 0
        for kind in report:
            bits |= REPORT_KIND_BITS[kind]
        lifetime_ms = int(round((lifetime_s if lifetime_s is not None else self.config.bundles.lifetime_s) * 1000))
        creation_ms, sequence = self._next_creation()
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
            crc_type=self.config.bundles.crc_type if crc_type is None else crc_type,
            hop_limit=hop_limit if hop_limit is not None else self.config.bundles.hop_limit,
            block_crc_type=self.config.bundles.block_crc_type if block_crc_type is None else block_crc_type,
        )
        if self.security is not None:
            bundle = self.security.outbound(bundle)
        bp.check_primary_crc(bundle)
        data = bp.encode(bundle)
        info = bp.info(bundle)
        entry, route = self._with_route(self._entry(info, len(data), from_peer=None))
        self.events.emit("created", bundle=entry.key, src=source, dst=destination, size_bytes=len(data))
        try:
            stored = await self._db(self.store.put, entry, data)
        except StoreError as exc:
            reason = REASON_NAMES.get(exc.reason_code or 0, "no_information")
            self.events.emit("deleted", bundle=entry.key, src=source, dst=destination, size_bytes=len(data),
                             reason=reason)
            raise StoreError(f"bundle refused: {exc}", reason_code=exc.reason_code) from None
        if not stored:
            raise StoreError(f"bundle {entry.key} is already stored")
        self._after_store(entry)
        await self._dispatch(entry, info, data, route)
        return {
            "bundle": entry.key,
            "source": source,
            "destination": destination,
            "creation_time_ms": creation_ms,
            "sequence": sequence,
            "size_bytes": len(data),
            **await route_note(self, entry.key, destination),
        }

    def _entry(self, info: bp.Info, size_bytes: int, *, from_peer: int | None) -> StoredBundle:
        now_unix = self.clock.unix_s()
        age_ms = info.bundle_age_ms or 0
        if info.creation_time_ms:
            expiry_s = bp.dtn_ms_to_unix(info.creation_time_ms) + info.lifetime_ms / 1000.0
        else:  # no clock at the source: the Bundle Age block says how old it is (RFC 9171 §4.4.2)
            expiry_s = now_unix + (info.lifetime_ms - age_ms) / 1000.0
        metadata: dict[str, Any] = {"rt": info.report_to, "rf": info.report_bits, "adm": info.is_admin,
                                    "age_ms": age_ms, "rx_s": now_unix}
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

    def _after_store(self, entry: StoredBundle) -> None:
        self.events.emit("stored", bundle=entry.key, src=entry.source, dst=entry.destination,
                         size_bytes=entry.size_bytes)
        if self._expiry_heap and entry.expiry_s < self._expiry_heap[0][0]:
            heapq.heappush(self._expiry_heap, (entry.expiry_s, entry.key))
            self._expiry_wake.fire()
        else:
            heapq.heappush(self._expiry_heap, (entry.expiry_s, entry.key))
            if len(self._expiry_heap) == 1:
                self._expiry_wake.fire()

    async def next_delivery(self, endpoint: str, timeout_s: float) -> dict[str, Any] | None:
        """The next bundle queued for `endpoint` not handed out elsewhere, or None after `timeout_s`."""
        deadline = trio.current_time() + timeout_s
        while True:
            for key in self._queues.get(endpoint, ()):
                if key in self._handed_out:
                    continue
                entry = await self._db(self.store.get, key)
                if entry is None:
                    continue
                data = await self._db(self.store.read, key)
                self._handed_out.add(key)
                bundle = bp.decode(data)
                info = bp.info(bundle)
                payload = bp.payload(bundle)
                item = {
                    "bundle": key,
                    "endpoint": endpoint,
                    "source": info.source,
                    "destination": info.destination,
                    "payload": payload,
                    "creation_time_ms": info.creation_time_ms,
                    "sequence": info.sequence,
                    "lifetime_ms": info.lifetime_ms,
                    "admin": bp.read_admin(bundle) if info.is_admin else None,
                }
                return item
            if trio.current_time() >= deadline:
                return None
            await self._delivery_wake.wait(deadline)

    def release_deliveries(self, keys: set[str]) -> None:
        """Deliveries handed out on a closed connection go back to their queues."""
        if keys:
            self._handed_out -= keys
            self._delivery_wake.fire()

    async def acknowledge_delivery(self, key: str) -> None:
        """The application has the bundle: record it as delivered, delete it, report delivery."""
        entry = await self._db(self.store.get, key)
        self._handed_out.discard(key)
        if entry is None:
            return
        await self._db(self.ledger.add, key, entry.expiry_s)
        await self._db(self.store.delete, key)
        queue = self._queues.get(entry.destination)
        if queue and key in queue:
            queue.remove(key)
        self.events.emit("delivered", bundle=key, src=entry.source, dst=entry.destination,
                         size_bytes=entry.size_bytes, endpoint=entry.destination)
        await self._report(entry, bp.REPORT_DELIVERY, 0)

    def _queue_delivery(self, entry: StoredBundle) -> None:
        queue = self._queues.setdefault(entry.destination, [])
        if entry.key not in queue:
            queue.append(entry.key)
        self._delivery_wake.fire()

    async def set_contact_override(self, peer: int, state: str) -> None:
        """Admin: force the link to `peer` up or down, or return it to the plan."""
        if peer == self.node_number or peer <= 0:
            raise ConfigError(f"{peer} is not a neighbour of this node", key="peer")
        now = self.plan_now_s()
        if state == PLAN:
            self.schedule.overrides.pop(peer, None)
        else:
            self.schedule.overrides[peer] = state
        if state == UP and self.router is not None and self.schedule.outbound_contact(peer, now) is None:
            contact = Contact(self.node_number, peer, now, now + 365 * 86400.0, 1e12)
            self.router.add_contact(contact)
            self.schedule.add_contact(contact)
            self.schedule.overrides[peer] = UP
        self.events.emit("contact_override", peer=peer, state=state)
        state_obj = self._ensure_peer_task(peer)
        if state == DOWN:
            if self.router is not None:
                for contact in self._active_contacts(peer, now):
                    self.router.cut_contact(contact, now)
            if state_obj.session is not None:
                await state_obj.session.close()
            await self._reroute_peer(peer, failed_contact=None)
        state_obj.wake.fire()
        if state == UP:
            await self._reroute_waiting()

    def _active_contacts(self, peer: int, now: float) -> list[Contact]:
        if self.plan is None:
            return []
        return [c for c in self.plan.contacts if c.from_node == self.node_number and c.to_node == peer
                and c.start_s <= now < c.end_s]

    # -- status ------------------------------------------------------------------------------------------------
    def _gauges(self) -> dict[str, float]:
        return {
            "store_bundles": float(self.store.count()) if self.store is not None else 0.0,
            "store_bytes": float(self.store.total_bytes()) if self.store is not None else 0.0,
            "sessions_up": float(sum(1 for p in self.peers.values() if p.session is not None)),
            "pending_delivery": float(sum(len(q) for q in self._queues.values())),
        }

    def status(self) -> dict[str, Any]:
        now = self.plan_now_s()
        store = self.store
        peers = []
        for number in sorted(self.peers):
            state = self.peers[number]
            nb = self.config.neighbours.get(number)
            contact = self.schedule.outbound_contact(number, now)
            peers.append({
                "node": number,
                "address": nb.address if nb else None,
                "session": state.session is not None,
                "planned_up": self.schedule.planned_up(number, now),
                "override": self.schedule.overrides.get(number),
                "contact_end_s": contact.end_s if contact else None,
                "next_change_s": _finite(self.schedule.next_change_s(number, now)),
                "queued": len(self.store.for_next_hop(number)) if store is not None else 0,
                "sending": state.sending,
            })
        return {
            "node_id": self.node_id,
            "dtn_id": self.config.dtn_id,
            "uptime_s": round(self.clock.unix_s() - self._started_unix_s, 3),
            "unix_s": round(self.clock.unix_s(), 3),
            "plan_now_s": round(now, 3),
            "plan": {"name": self.plan.name if self.plan else None,
                     "contacts": len(self.plan.contacts) if self.plan else 0,
                     "epoch_unix_s": self.plan_epoch_unix_s},
            "bundles": store.count() if store is not None else 0,
            "store_bytes": store.total_bytes() if store is not None else 0,
            "store_max_bytes": getattr(store, "max_bytes", None),
            "store_max_bundles": getattr(store, "max_bundles", None),
            "unassigned": len(store.unassigned()) if store is not None else 0,
            "pending_delivery": {ep: len(q) for ep, q in sorted(self._queues.items()) if q},
            "registered": sorted(self.registered),
            "peers": peers,
            "events": dict(sorted(self.events.counts.items())),
            "reports": len(self.reports),
        }

    # -- reception (RFC 9171 §5.6) -----------------------------------------------------------------------------
    async def receive_from_peer(self, data: bytes, peer: int | None) -> None:
        """A bundle arrived over a CLA. Returns once it is durable (or deliberately dropped), so the CLA may
        acknowledge the transfer."""
        try:
            bundle = bp.decode(data)
        except DecodeError as exc:
            self.events.emit("deleted", size_bytes=len(data), reason=REASON_NAMES[BLOCK_UNINTELLIGIBLE],
                             detail=str(exc), **{"from": peer})
            return
        info = bp.info(bundle)
        key = bp.key_of(info)
        self.events.emit("received", bundle=key, src=info.source, dst=info.destination, size_bytes=len(data),
                         **{"from": peer})
        if self.security is not None:
            try:
                bundle = self.security.inbound(bundle, is_local_destination=self.is_local(info.destination))
            except SecurityError as exc:
                await self._delete_unstored(info, len(data), exc.reason_code or 15, detail=str(exc))
                return
            data = bp.encode(bundle)
            info = bp.info(bundle)
        elif self.is_local(info.destination) and bundle.blocks_of(12):  # a BCB (block type 12) and no keys at all:
            # RFC 9172 §5.1.1 forbids delivering ciphertext; discard as a failed security operation (15).
            await self._delete_unstored(info, len(data), 15, detail="BCB at its destination, no [security] table")
            return
        problems = bp.reception_problems(bundle)
        if problems:
            await self._delete_unstored(info, len(data), BLOCK_UNINTELLIGIBLE, detail="; ".join(problems))
            return
        entry = self._entry(info, len(data), from_peer=peer)
        if entry.expiry_s <= self.clock.unix_s():
            await self._delete_unstored(info, len(data), LIFETIME_EXPIRED)
            return
        if info.hop_limit is not None and info.hop_count > info.hop_limit:
            await self._delete_unstored(info, len(data), HOP_LIMIT_EXCEEDED)
            return
        if key in self.ledger:
            self.events.emit("duplicate", bundle=key, src=info.source, dst=info.destination,
                             size_bytes=len(data), **{"from": peer})
            return
        if await self._db(self.store.contains, key):
            if peer is not None:  # we hold it too: see _send_loop (crossed transfers)
                self._crossed.setdefault(key, set()).add(peer)
            self.events.emit("duplicate", bundle=key, src=info.source, dst=info.destination,
                             size_bytes=len(data), **{"from": peer})
            return
        entry, route = self._with_route(entry)
        try:
            stored = await self._db(self.store.put, entry, data)
        except StoreError as exc:
            await self._delete_unstored(info, len(data), exc.reason_code or DEPLETED_STORAGE, detail=str(exc))
            return
        if not stored:
            self.events.emit("duplicate", bundle=key, src=info.source, dst=info.destination,
                             size_bytes=len(data), **{"from": peer})
            return
        self._after_store(entry)
        if route is not None:
            self._remember_decoded(key, bundle, info)
        await self._report(entry, bp.REPORT_RECEPTION, 0)
        await self._dispatch(entry, info, data, route)

    def _remember_decoded(self, key: str, bundle: Any, info: Any) -> None:
        """Keep the decoded form of a bundle just stored for forwarding, so that sending it soon after (the usual
        case in a relay) needs neither a store read nor a second decode. Bundles are immutable values, and the
        store keeps the bytes they were decoded from: the cache can only be missing, never stale."""
        self._decoded[key] = (bundle, info)
        if len(self._decoded) > DECODED_CACHE_ENTRIES:
            self._decoded.popitem(last=False)

    async def _delete_unstored(self, info: bp.Info, size_bytes: int, reason: int, detail: str | None = None) -> None:
        """Delete a bundle we never stored (RFC 9171 §5.11), reporting deletion if asked."""
        key = bp.key_of(info)
        self.events.emit("deleted", bundle=key, src=info.source, dst=info.destination, size_bytes=size_bytes,
                         reason=REASON_NAMES.get(reason, str(reason)), detail=detail)
        subject = self._entry(info, size_bytes, from_peer=None)
        await self._report(subject, bp.REPORT_DELETION, reason)

    # -- dispatch (RFC 9171 §5.3) ------------------------------------------------------------------------------
    async def _dispatch(self, entry: StoredBundle, info: bp.Info, data: bytes, route: Any = None) -> None:
        if self.is_local(entry.destination):
            if entry.fragment_offset is not None:
                await self._add_fragment(entry, bp.decode(data))
                return
            if info.is_admin and entry.destination == self.node_id:
                await self._consume_admin(entry, bp.decode(data))
                return
            self._queue_delivery(entry)
            return
        await self._route(entry, route=route, assigned=route is not None)

    async def _consume_admin(self, entry: StoredBundle, bundle: Any) -> None:
        """An administrative record for this node (a status report): record it, then discard the bundle."""
        record = bp.read_admin(bundle)
        if record is not None:
            record = dict(record, source=entry.source, received_unix_s=round(self.clock.unix_s(), 6))
            self.reports.append(record)
            self.events.emit("status_report", bundle=record.get("subject"), src=entry.source,
                             status=record.get("status"), reason=record.get("reason"))
        await self._db(self.store.delete, entry.key)

    # -- fragments (RFC 9171 §5.9) -----------------------------------------------------------------------------
    async def _add_fragment(self, entry: StoredBundle, bundle: Any, *, reload: bool = False) -> None:
        if not reload:
            await self._db(self.store.set_retention, entry.key, Retention.REASSEMBLY_PENDING)
        adu = (entry.source, entry.creation_time_ms, entry.sequence)
        reassembly = self._reassembly.get(adu)
        if reassembly is None:
            reassembly = self._reassembly[adu] = bp.Reassembly()
        try:
            whole = reassembly.add(entry.key, bundle)
        except DtnError as exc:  # inconsistent with the fragments already held (RFC 9171 §5.9)
            reassembly.forget(entry.key)
            await self._db(self.store.delete, entry.key)
            self.events.emit("deleted", bundle=entry.key, src=entry.source, dst=entry.destination,
                             size_bytes=entry.size_bytes, reason=REASON_NAMES[BLOCK_UNINTELLIGIBLE], detail=str(exc))
            return
        if whole is None:
            return
        del self._reassembly[adu]
        data = bp.encode(whole)
        info = bp.info(whole)
        new_entry = self._entry(info, len(data), from_peer=None)
        new_entry = StoredBundle(**{**_entry_fields(new_entry), "expiry_s": entry.expiry_s})
        try:
            stored = await self._db(self.store.put, new_entry, data)
        except StoreError as exc:
            self.events.emit("deleted", bundle=new_entry.key, src=info.source, dst=info.destination,
                             size_bytes=len(data), reason=REASON_NAMES.get(exc.reason_code or 4, "depleted_storage"))
            return
        await self._db(self.store.delete_many, reassembly.keys())
        self.events.emit("reassembled", bundle=new_entry.key, src=info.source, dst=info.destination,
                         size_bytes=len(data), fragments=len(reassembly.keys()))
        if stored:
            self._after_store(new_entry)
            await self._dispatch(new_entry, info, data)

    # -- routing (RFC 9171 §5.4) -------------------------------------------------------------------------------
    def _choose_route(self, entry: StoredBundle) -> Any:
        """CGR's best route for the bundle now (pure: nothing booked), avoiding the node it came from and
        arriving before it expires; None if there is none."""
        dest_node = self._destination_node(entry.destination)
        if self.router is None or dest_node is None or dest_node == self.node_number:
            return None
        came_from = (entry.metadata or {}).get("from")
        excluded = frozenset({came_from}) if came_from not in (None, dest_node) else frozenset()
        return bp.best_route(
            self.router, self.node_number, dest_node, self.plan_now_s(), entry.size_bytes, excluded=excluded,
            deadline_s=entry.expiry_s - self.plan_epoch_unix_s,
        )

    async def _route(self, entry: StoredBundle, *, quiet: bool = False, route: Any = None,
                     assigned: bool = False) -> bool:
        """Assign a stored bundle to its next hop by CGR; True if routed. Without a route the bundle is cut
        into fragments that fit (if allowed), waits (routing.no_route = "wait") or is deleted ("delete").
        `route`/`assigned`: the route was chosen before the bundle was stored and written with it."""
        if route is None:
            route = self._choose_route(entry)
        if route is None:
            dest_node = self._destination_node(entry.destination)
            if dest_node is not None and self.config.routing.fragment and not bp.no_fragment(entry):
                if await self._fragment_for_route(entry, dest_node, self.plan_now_s()):
                    return True
            if await assign_static(self, entry):  # [[routes]]: only when the plan gives no route
                return True
            if not quiet:
                self.events.emit("no_route", bundle=entry.key, src=entry.source, dst=entry.destination,
                                 size_bytes=entry.size_bytes)
            if self.config.routing.no_route == "delete":
                await self._delete_stored(entry, NO_KNOWN_ROUTE)
            return False
        self.router.book(route, entry.size_bytes)
        self._bookings[entry.key] = route
        contact = route.first_contact
        if not assigned:
            await self._db(self.store.assign, entry.key, route.next_hop, bp.route_summary(route))
        self.events.emit("routed", bundle=entry.key, src=entry.source, dst=entry.destination,
                         size_bytes=entry.size_bytes, next_hop=route.next_hop, contact=_contact_name(contact),
                         arrival_s=round(route.arrival_s, 6))
        state = self._ensure_peer_task(route.next_hop)
        state.wake.fire()
        return True

    def _with_route(self, entry: StoredBundle) -> tuple[StoredBundle, Any]:
        """For a bundle about to be stored: choose its route first, so one commit stores it assigned."""
        if self.is_local(entry.destination):
            return entry, None
        route = self._choose_route(entry)
        if route is None:
            return entry, None
        return StoredBundle(**{**_entry_fields(entry), "next_hop": route.next_hop,
                               "route": bp.route_summary(route)}), route

    async def _fragment_for_route(self, entry: StoredBundle, dest_node: int, now: float) -> bool:
        """Proactive fragmentation (RFC 9171 §5.8): when the bundle is too large for any route's remaining
        volume, cut it into fragments that fit the best route's volume and route each one."""
        min_bytes = self.config.routing.min_fragment_payload_bytes
        came_from = (entry.metadata or {}).get("from")
        probe = bp.best_route(
            self.router, self.node_number, dest_node, now, min_bytes + bp.FRAGMENT_OVERHEAD_BYTES,
            excluded=frozenset({came_from}) if came_from not in (None, dest_node) else frozenset(),
            deadline_s=entry.expiry_s - self.plan_epoch_unix_s,
        )
        if probe is None:
            return False
        max_bundle_bytes = int(min(probe.volume_bytes, entry.size_bytes - 1))
        if max_bundle_bytes < min_bytes + bp.FRAGMENT_OVERHEAD_BYTES:
            return False
        data = await self._db(self.store.read, entry.key)
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
            piece_entry = self._entry(bp.info(piece), len(piece_data), from_peer=entry.metadata.get("from"))
            piece_entry = StoredBundle(**{**_entry_fields(piece_entry), "expiry_s": entry.expiry_s,
                                          "metadata": dict(entry.metadata)})
            items.append((piece_entry, piece_data))
        # Fragments first, then the original: a crash in between leaves both, never neither.
        await self._db(self.store.put_many, items)
        await self._db(self.store.delete, entry.key)
        self._release_booking(entry.key)
        self.events.emit("fragmented", bundle=entry.key, src=entry.source, dst=entry.destination,
                         size_bytes=entry.size_bytes, fragments=len(items), max_bytes=max_bundle_bytes)
        for piece_entry, _ in items:
            stored = await self._db(self.store.get, piece_entry.key)
            if stored is not None:
                self._after_store(stored)
                await self._route(stored)
        return True

    def _destination_node(self, destination: str) -> int | None:
        try:
            number = bp.eid_node_number(destination)
        except DecodeError:
            return None
        if number is not None:
            return number
        name = bp.eid_node_name(destination)
        if name and self.plan is not None:
            for node in self.plan.nodes:
                if node.name == name:
                    return node.number
        return None

    def _release_booking(self, key: str) -> None:
        route = self._bookings.pop(key, None)
        if route is not None and self.router is not None:
            self.router.release(route, route.size_bytes)

    async def _reroute_waiting(self) -> None:
        """Try again every bundle that waits without a route (a contact appeared or came back)."""
        for entry in await self._db(self.store.unassigned):
            if entry.key in self._handed_out or entry.retention & Retention.REASSEMBLY_PENDING:
                continue
            if self.is_local(entry.destination):
                continue
            await self._route(entry, quiet=True)

    async def _reroute_peer(self, peer: int, *, failed_contact: Contact | None) -> None:
        """Link loss: every bundle assigned to `peer` and not acknowledged goes back to routing, with the
        failed contact taken out of the plan."""
        if failed_contact is not None and self.router is not None:
            self.router.mark_failed(failed_contact)
        state = self.peers.get(peer)
        for entry in await self._db(self.store.for_next_hop, peer):
            if state is not None and state.sending == entry.key:
                continue
            self._release_booking(entry.key)
            await self._db(self.store.assign, entry.key, None, None)
            self.events.emit("rerouted", bundle=entry.key, src=entry.source, dst=entry.destination,
                             size_bytes=entry.size_bytes, next_hop=peer)
            await self._route(entry)

    # -- deletion (RFC 9171 §5.11) -----------------------------------------------------------------------------
    async def _delete_stored(self, entry: StoredBundle, reason: int) -> None:
        await self._db(self.store.delete, entry.key)
        self._release_booking(entry.key)
        queue = self._queues.get(entry.destination)
        if queue and entry.key in queue:
            queue.remove(entry.key)
        self.events.emit("deleted", bundle=entry.key, src=entry.source, dst=entry.destination,
                         size_bytes=entry.size_bytes, reason=REASON_NAMES.get(reason, str(reason)))
        await self._report(entry, bp.REPORT_DELETION, reason)

    async def _expiry_loop(self) -> None:
        """Delete bundles whose lifetime ended (RFC 9171 §5.5), at their expiry time."""
        while True:
            while self._expiry_heap and not await self._db(self.store.contains, self._expiry_heap[0][1]):
                heapq.heappop(self._expiry_heap)
            next_unix = self._expiry_heap[0][0] if self._expiry_heap else math.inf
            if next_unix > self.clock.unix_s():
                await self._expiry_wake.wait(self._trio_deadline_for_unix(next_unix))
                continue
            now_unix = self.clock.unix_s()
            for entry in await self._db(self.store.expire, now_unix):
                self._release_booking(entry.key)
                queue = self._queues.get(entry.destination)
                if queue and entry.key in queue:
                    queue.remove(entry.key)
                self.events.emit("deleted", bundle=entry.key, src=entry.source, dst=entry.destination,
                                 size_bytes=entry.size_bytes, reason=REASON_NAMES[LIFETIME_EXPIRED])
                await self._report(entry, bp.REPORT_DELETION, LIFETIME_EXPIRED)
            await self._db(self.ledger.expire, now_unix)
            while self._expiry_heap and self._expiry_heap[0][0] <= now_unix:
                heapq.heappop(self._expiry_heap)

    # -- status reports (RFC 9171 §6.1) ------------------------------------------------------------------------
    async def _report(self, entry: StoredBundle, kind_bit: int, reason: int) -> None:
        """Send a status report about `entry` to its report-to endpoint if its flags ask for `kind_bit`."""
        meta = entry.metadata or {}
        if meta.get("adm") or not (int(meta.get("rf", 0)) & kind_bit):
            return
        report_to = meta.get("rt")
        if not report_to or report_to == "dtn:none":
            return
        creation_ms, sequence = self._next_creation()
        bundle = bp.status_report(
            subject=entry,
            kind_bit=kind_bit,
            reason=reason,
            time_ms=self.dtn_now_ms() if meta.get("st") else 0,
            source=self.node_id,
            destination=report_to,
            creation_time_ms=creation_ms,
            sequence=sequence,
            lifetime_ms=max(1000, int((entry.expiry_s - self.clock.unix_s()) * 1000)) + 60_000,
            crc_type=self.config.bundles.crc_type,
        )
        data = bp.encode(bundle)
        info = bp.info(bundle)
        report_entry = self._entry(info, len(data), from_peer=None)
        try:
            if not await self._db(self.store.put, report_entry, data):
                return
        except StoreError as exc:
            log.warning("status report about %s not stored: %s", entry.key, exc)
            return
        self._after_store(report_entry)
        await self._dispatch(report_entry, info, data)

    # -- the contact manager -----------------------------------------------------------------------------------
    def _ensure_peer_task(self, peer: int) -> PeerState:
        state = self.peers.get(peer)
        if state is None:
            state = self.peers[peer] = PeerState(peer)
        if not state.task_running and self._nursery is not None:
            state.task_running = True
            self._nursery.start_soon(self._peer_loop, state)
        return state

    def _dials(self, peer: int) -> bool:
        nb = self.config.neighbours.get(peer)
        if nb is not None:
            if nb.dial == "never" or (nb.address is None and not self._custom_dialer):
                return False
            if nb.cla == "ltp":  # each side opens its own LTP span for its own direction
                return True
            return nb.dial == "always" or self.node_number < peer
        return self._custom_dialer and self.node_number < peer

    async def _peer_loop(self, state: PeerState) -> None:
        """Keep a session to the neighbour while the link is wanted (dialling if this node dials it, with
        backoff between attempts); close the session we opened when the planned contact ends."""
        peer = state.number
        cfg = self.config.routing
        was_wanted = False
        while True:
            now = self.plan_now_s()
            wanted = self.schedule.link_wanted(peer, now)
            wake_at = self._trio_deadline_for_plan(self.schedule.next_change_s(peer, now))
            if wanted and state.session is None and self._dials(peer):
                if trio.current_time() >= state.next_dial_at:
                    delay = cfg.retry_min_s * 2 ** min(state.dial_failures, 20)
                    state.next_dial_at = trio.current_time() + min(cfg.retry_max_s, delay)
                    try:
                        await self._dial(state)
                        state.dial_failures = 0
                        continue
                    except (OSError, DtnError, trio.BrokenResourceError) as exc:
                        state.dial_failures += 1
                        # Back off from the failure, not the attempt: a dial slower than the delay (a connect
                        # timeout) would otherwise retry at once and report a negative retry_s.
                        state.next_dial_at = trio.current_time() + min(cfg.retry_max_s, delay)
                        self.events.emit("dial_failed", peer=peer, reason=str(exc)[:200],
                                         retry_s=round(min(cfg.retry_max_s, delay), 3))
                wake_at = min(wake_at, state.next_dial_at)
            if state.session is not None and (
                self.schedule.overrides.get(peer) == DOWN or (not wanted and state.session_opened_here)
            ):
                await state.session.close()
            if was_wanted and not wanted:
                # The contact ended: what it did not carry goes back to routing.
                await self._reroute_peer(peer, failed_contact=None)
            was_wanted = wanted
            await state.wake.wait(wake_at)

    async def _dial(self, state: PeerState) -> None:
        nb = self.config.neighbours.get(state.number)
        if nb is not None and nb.cla == "ltp":
            from dtn.node.ltp import open_span

            return await open_span(self, state.number)
        address = nb.address if nb else None
        dialer = self._dialer or tcp_dialer_for(self.config)
        self._dialer = dialer
        # A datagram CLA (UDP) opens its own link: no stream to dial.
        stream = await dialer(state.number, address) if self._sessions.cla_of(state.number).uses_stream else None
        await self._nursery.start(self._sessions.run_active, stream, state.number)

    async def handle_inbound(self, stream: trio.abc.Stream, *, peer_address: str = "stream") -> None:
        """Serve a session a neighbour opened over `stream` (the digital twin's dialer hands the far end of an
        in-memory stream pair here). Returns when the session ends."""
        await self._sessions.handle_inbound(stream, peer_address=peer_address)

    def session_up(self, peer: int, session: PeerSession) -> None:
        """A CLA session with `peer` is established (either side opened it); the newest session wins."""
        state = self._ensure_peer_task(peer)
        old = state.session
        state.session = session
        state.session_opened_here = self._sessions.dialled_by_us(session)
        state.contact_started_s = self.plan_now_s()
        state.sent_bytes_in_contact = 0
        contact = self.schedule.outbound_contact(peer, state.contact_started_s)
        if contact is not None and self.router is not None:
            try:  # the link is back within a contact we had marked failed (e.g. the neighbour restarted)
                self.router.restore_contact(contact)
            except DtnError:
                pass  # not a contact the router knows (removed from the plan)
        self.events.emit("contact_up", peer=peer, contact=_contact_name(contact) if contact else None,
                         tls=getattr(session, "tls", None))
        if old is not None and self._nursery is not None:
            self._nursery.start_soon(old.close)
        self._nursery.start_soon(self._send_loop, state, session)
        self._nursery.start_soon(self._reroute_waiting)
        state.wake.fire()

    def session_down(self, peer: int, session: PeerSession, reason: str) -> None:
        """The CLA session ended (SESS_TERM, drop, or our close)."""
        state = self.peers.get(peer)
        if state is None or state.session is not session:
            return
        state.session = None
        now = self.plan_now_s()
        self.events.emit("contact_down", peer=peer, reason=reason)
        failed = None
        if self.schedule.link_wanted(peer, now):
            failed = self.schedule.outbound_contact(peer, now)  # the contact failed early
        if self._nursery is not None:
            self._nursery.start_soon(self._after_link_loss, peer, failed)
        state.wake.fire()

    async def _after_link_loss(self, peer: int, failed: Contact | None) -> None:
        state = self.peers.get(peer)
        while state is not None and state.sending is not None:
            await state.wake.wait()
        await self._reroute_peer(peer, failed_contact=failed)

    async def _send_loop(self, state: PeerState, session: PeerSession) -> None:
        """Send the bundles routed to `peer`, one transfer at a time, while this session lasts."""
        peer = state.number
        rate_limit = self.config.routing.rate_limit
        batch: deque[str] = deque()  # keys read from the store in one query, sent in order
        while state.session is session:
            now = self.plan_now_s()
            if not self.schedule.may_send(peer, now):
                await state.wake.wait(self._trio_deadline_for_plan(self.schedule.next_change_s(peer, now)))
                continue
            if not batch:
                batch.extend(e.key for e in await self._db(self.store.for_next_hop, peer))
                if not batch:
                    await state.wake.wait()
                    continue
            entry = await self._db(self.store.get, batch.popleft())
            if entry is None or entry.next_hop != peer:
                continue  # delivered elsewhere, expired or rerouted since the batch was read
            try:
                decoded = self._decoded.pop(entry.key, None)
                data = self._prepare_forward(
                    entry, None if decoded else await self._db(self.store.read, entry.key), decoded
                )
            except _Drop as drop:
                await self._delete_stored(entry, drop.reason)
                continue
            except DtnError as exc:  # damaged in the store, or no longer decodable: never sendable
                log.warning("bundle %s cannot be forwarded: %s", entry.key, exc)
                await self._delete_stored(entry, BLOCK_UNINTELLIGIBLE)
                continue
            if self.forward_hook is not None:
                data = self.forward_hook(entry.key, data)
            if (too_large := link_limit_problem(session, len(data))) is not None:  # e.g. UDP: one datagram
                await handle_oversized(self, entry, peer, len(data), too_large, session.max_bundle_bytes)
                continue
            contact = self.schedule.outbound_contact(peer, now)
            if rate_limit and contact is not None:
                started = state.contact_started_s if state.contact_started_s is not None else now
                due_s = max(started, contact.start_s) + (state.sent_bytes_in_contact + len(data)) / contact.rate_bytes_per_s
                if due_s > now:
                    await trio.sleep_until(self._trio_deadline_for_plan(due_s))
            state.sending = entry.key
            try:
                await session.send_bundle(data)
            except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self.events.emit("forward_failed", bundle=entry.key, src=entry.source, dst=entry.destination,
                                 size_bytes=len(data), next_hop=peer, reason=str(exc)[:200])
                state.sending = None
                state.wake.fire()
                if state.session is session:
                    await session.close()
                return
            state.sending = None
            state.sent_bytes_in_contact += len(data)
            route = self._bookings.pop(entry.key, None)
            if route is not None:
                try:  # the bytes left the first-hop queue (their volume stays booked)
                    self.router.mark_sent(route.first_contact, entry.size_bytes)
                except DtnError:
                    pass  # the contact was removed from the plan meanwhile
            if peer in self._crossed.pop(entry.key, ()):
                # The peer handed us its own copy while we were sending ours (it routed the bundle back to us):
                # its acknowledgement does not mean it keeps the bundle, and it dropped ours as a duplicate.
                # Keep our copy and route it anew without that peer: a copy too many beats a bundle lost.
                self.events.emit("forward_crossed", bundle=entry.key, src=entry.source, dst=entry.destination,
                                 size_bytes=len(data), next_hop=peer)
                metadata = dict(entry.metadata or {}, **{"from": peer})
                await self._db(self.store.update_metadata, entry.key, {"from": peer})
                await self._db(self.store.assign, entry.key, None, None)
                await self._route(StoredBundle(**{**_entry_fields(entry), "metadata": metadata,
                                                  "next_hop": None, "route": None}))
                state.wake.fire()
                continue
            await self._db(self.store.delete, entry.key)
            self.events.emit("forwarded", bundle=entry.key, src=entry.source, dst=entry.destination,
                             size_bytes=len(data), next_hop=peer)
            await self._report(entry, bp.REPORT_FORWARDING, 0)
            state.wake.fire()
        state.wake.fire()

    def _prepare_forward(self, entry: StoredBundle, data: bytes | None, decoded: tuple[Any, Any] | None = None) -> bytes:
        """RFC 9171 §5.4 step 4: previous node, hop count and bundle age updated for this transmission.
        `decoded`: the (bundle, info) remembered when it was stored, instead of decoding `data`."""
        meta = entry.metadata or {}
        held_ms = max(0, int(round((self.clock.unix_s() - float(meta.get("rx_s", entry.received_s))) * 1000)))
        if decoded is not None:
            bundle, info = decoded
        else:
            bundle = bp.decode(data)
            info = bp.info(bundle)
        if info.hop_limit is not None and info.hop_count + 1 > info.hop_limit:
            raise _Drop(HOP_LIMIT_EXCEEDED)
        bundle = bp.for_forwarding(bundle, self.node_id, int(meta.get("age_ms", 0)) + held_ms)
        return bp.encode(bundle)

    # -- the echo service ----------------------------------------------------------------------------------
    async def _echo_loop(self, endpoint: str) -> None:
        """Echo every bundle received on `endpoint` back to its source (for `dtn ping`)."""
        self.registered.add(endpoint)
        while True:
            item = await self.next_delivery(endpoint, math.inf)
            if item is None:
                continue
            try:
                if not bp.is_null(item["source"]):
                    await self.send_from_application(
                        item["source"], item["payload"], source=endpoint,
                        lifetime_s=max(1.0, item["lifetime_ms"] / 1000.0),
                    )
            except DtnError as exc:
                log.info("echo reply to %s failed: %s", item["source"], exc)
            await self.acknowledge_delivery(item["bundle"])


class _plain_startup_errors:
    """Raise a DtnError/OSError from a failing nursery as itself (e.g. "address in use"), not as a group."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, BaseExceptionGroup) and exc.split(Exception)[1] is None:  # no Cancelled/KeyboardInterrupt
            found = first_error(exc)
            if found is not None:
                raise found from None
        return False


class _Drop(Exception):
    def __init__(self, reason: int) -> None:
        self.reason = reason


def _entry_fields(entry: StoredBundle) -> dict[str, Any]:
    return {
        "source": entry.source, "creation_time_ms": entry.creation_time_ms, "sequence": entry.sequence,
        "destination": entry.destination, "expiry_s": entry.expiry_s, "fragment_offset": entry.fragment_offset,
        "payload_length": entry.payload_length, "retention": entry.retention, "received_s": entry.received_s,
        "size_bytes": entry.size_bytes, "metadata": dict(entry.metadata),
    }


def _contact_name(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    return f"{contact.from_node}->{contact.to_node}@{contact.start_s:g}"


def first_error(exc: BaseException) -> BaseException | None:
    """The first DtnError or OSError inside an exception (group), or None: what a user should be shown
    instead of a Trio nursery's ExceptionGroup."""
    if isinstance(exc, (DtnError, OSError)):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_error(inner)
            if found is not None:
                return found
    return None


def _utc(unix_s: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(unix_s, tz=dt.timezone.utc)


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 3)
