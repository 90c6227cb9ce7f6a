"""The router node: composes its parts and runs them.

    node = Node(load_config("b.toml"))
    trio.run(node.run)

The parts, each in its own module, share this object (configuration, clock, store, router, event log):

- `processing.BundleProcessor`: RFC 9171 §5 (creation, reception, dispatch, reassembly, deletion, expiry,
  status reports) and resuming the store after a restart;
- `forwarding.Forwarder`: routes (CGR), bookings, proactive fragmentation, rerouting, transmission prep;
- `contacts.ContactManager`: neighbours, dialling with backoff, sessions and each session's send loop;
- `delivery.Delivery`: endpoints and delivery queues; `status`: the status view and metrics gauges;
- `links.SessionFactory`: the CLA sessions (TCPCLv4, MTCP) and their callbacks.

Storage first: a bundle is durable in the store before its transfer is acknowledged to the neighbour (the
TCPCLv4 final XFER_ACK is sent only once `receive_from_peer` returns) or the application's `send` is answered,
and it leaves the store only once the next hop acknowledged it, the application acknowledged its delivery, or
it was deleted for a reason that is logged. All time comes from the `Clock`; plan time is
`clock.unix_s() - plan.epoch_unix_s`. docs/node.md describes the behaviour in full.
"""

from __future__ import annotations

import logging
import functools
import math
import time
from collections import deque
from typing import Any, Callable

import trio

from contact_plans.model import ContactPlan
from dtn.errors import DecodeError, DtnError
from dtn.node import bundles as bp
from dtn.node import status as status_view
from dtn.node.clock import Clock, TrioClock
from dtn.node.config import NodeConfig
from dtn.node.contacts import ContactManager, Dialer, PeerState, tcp_dialer_for  # noqa: F401 (re-exported)
from dtn.node.delivery import Delivery
from dtn.node.events import EventLog, EventSink
from dtn.node.exposure import plaintext_warnings
from dtn.node.forwarding import Forwarder
from dtn.node.ledger import DeliveryLedger
from dtn.node.links import PeerSession, SessionFactory
from dtn.node.plan import load_node_plan
from dtn.node.processing import BundleProcessor
from dtn.node.schedule import LinkSchedule
from dtn.store import BundleStore, open_store

log = logging.getLogger("dtn.node")


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
        self._given_plan = plan
        self.plan: ContactPlan | None = plan
        self.plan_epoch_unix_s = 0.0
        self.router: Any = None
        self.schedule = LinkSchedule(None, self.node_number)
        self.events = EventLog(self.node_id, self, path=config.event_log, sinks=[event_sink] if event_sink else None)
        self.threaded_store = threaded_store
        self.ledger: DeliveryLedger | None = None
        self.security: Any = None
        self.reports: deque[dict[str, Any]] = deque(maxlen=1000)
        self.processing = BundleProcessor(self)
        self.forwarding = Forwarder(self)
        self.contacts = ContactManager(self, dialer)
        self.delivery = Delivery(self, config.endpoints)
        self.sessions = SessionFactory(self)
        self._stop = trio.Event()
        self.finished = trio.Event()  # set when run() has returned (store closed)
        self.started_unix_s = 0.0
        self.ready: dict[str, Any] = {}
        self.metrics: Any = None
        self.forward_hook: Callable[[str, bytes], bytes] | None = None  # test hook (class docstring)
        # The archive service (docs/archive.md), started when `[archive]` is configured; `archive_db` an open
        # dtn.archive.ArchiveDB to use (the digital twin keeps one per node across restarts).
        self.archive: Any = None
        self._archive_db = archive_db
        self.compute: Any = None  # the compute service (docs/compute.md), when `[compute]` is configured

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

    def trio_deadline_for_unix(self, t_unix_s: float) -> float:
        """A Trio deadline for Unix time `t_unix_s` (for cancel scopes), read through the clock. A clock with a
        fixed mapping (`TrioClock.trio_time_at_unix`) gives the same float in every run (the twin's
        determinism, docs/replay.md); otherwise, or when that lies in the past, relative to now."""
        if t_unix_s == math.inf:
            return math.inf
        clock = self.clock
        now = clock.trio_time_at(clock.now_s())
        relative = clock.trio_time_at(clock.now_s() + (t_unix_s - clock.unix_s()))
        exact = getattr(clock, "trio_time_at_unix", None)
        if exact is None or ((deadline := exact(t_unix_s)) <= now < relative):
            deadline = relative
        return self._not_before(deadline, t_unix_s, 0.0)

    def trio_deadline_for_plan(self, t_plan_s: float) -> float:
        if t_plan_s == math.inf:
            return math.inf
        deadline = self.trio_deadline_for_unix(t_plan_s + self.plan_epoch_unix_s)
        return self._not_before(deadline, t_plan_s, self.plan_epoch_unix_s)

    def _not_before(self, deadline: float, t_s: float, offset_s: float) -> float:
        """`deadline`, moved on by float rounding steps until the clock reads at least `t_s` there (Unix time
        minus `offset_s`, read exactly as `unix_s()` / `plan_now_s()` will read it then). Without this, a loop
        that sleeps until "the next change" could wake a rounding step early, see the same next change, and
        spin at one virtual instant forever."""
        unix_at = getattr(self.clock, "unix_at_trio_time", None)
        if unix_at is None:
            return deadline
        speed = getattr(self.clock, "speed", 1.0)
        for _ in range(64):
            short_s = t_s - (unix_at(deadline) - offset_s)
            if short_s <= 0:
                break
            deadline = max(math.nextafter(deadline, math.inf), deadline + short_s / speed)
        return deadline

    def clock_time_for_plan(self, t_plan_s: float) -> float:
        """The clock's `now_s()` reading at plan time `t_plan_s` (inf stays inf)."""
        if t_plan_s == math.inf:
            return math.inf
        return self.clock.now_s() + (t_plan_s - self.plan_now_s())

    def dtn_now_ms(self) -> int:
        return bp.unix_to_dtn_ms(self.clock.unix_s())

    # -- store access ------------------------------------------------------------------------------------------
    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a store (or ledger) method, in a worker thread when `threaded_store`."""
        if self.threaded_store:
            return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @staticmethod
    def _agent_token(path: Any) -> bytes | None:
        """The TCP agent socket's token (the web page accepts it too), or None without a TCP agent."""
        if path is None:
            return None
        from dtn.node.agentauth import read_token

        return read_token(path)

    def request_stop(self) -> None:
        """Ask `run` to stop gracefully: SESS_TERM every session (each bounded by its CLA's termination
        timeout; cancel `run` to stop at once), close the store."""
        self._stop.set()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run the node until `request_stop()` (or cancellation). `task_status.started(ready_info)`."""
        self.clock  # create the default clock inside Trio
        self.started_unix_s = self.clock.unix_s()
        try:
            self._open_resources()
            with _plain_startup_errors():
                async with trio.open_nursery() as nursery:
                    ready = await self._start_services(nursery)
                    await self.processing.reload_store()
                    for peer in sorted(self.schedule.peers() | set(self.config.neighbours)):
                        self.contacts.peer(peer)
                    await nursery.start(self.contacts.run)
                    nursery.start_soon(self.processing.expiry_loop)
                    self.ready = ready
                    self.events.emit("started", **{k: v for k, v in ready.items() if k in ("listen", "agent")})
                    task_status.started(ready)
                    await self._stop.wait()
                    await self.contacts.close_sessions()
                    self.events.emit("stopped")
                    nursery.cancel_scope.cancel()
        finally:
            self._close_resources()
            self.finished.set()

    def _open_resources(self) -> None:
        cfg = self.config
        if self.plan is None:
            self.plan = load_node_plan(cfg, start_unix_s=self.started_unix_s)
        if self.plan is None:  # no plan, no neighbours: contacts may still be declared by admin messages
            self.plan = ContactPlan(epoch=_utc(self.started_unix_s), name="empty")
        self.plan_epoch_unix_s = self.plan.epoch_unix_s
        self.schedule.replace_plan(self.plan)
        self.router = bp.make_router(self.plan)
        if self.store is None:
            self.store = open_store(cfg.store.path, max_bytes=cfg.store.max_bytes, max_bundles=cfg.store.max_bundles)
        ledger_path = f"{cfg.store.path}.delivered" if (cfg.store.path and self._given_store is None) else None
        self.ledger = DeliveryLedger(ledger_path)
        if cfg.security is not None:
            self.security = bp.make_security_policy(cfg.security, cfg.base_dir, self.node_id)
        if cfg.metrics is not None:
            from dtn.node.metrics import NodeMetrics

            self.metrics = NodeMetrics(self.node_id, lambda: status_view.gauges(self))
            self.events.add_sink(self.metrics.on_event)

    def _close_resources(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
        if self._given_store is None and self.store is not None:
            self.store.close()
        self.events.close()

    async def _start_services(self, nursery: trio.Nursery) -> dict[str, Any]:
        cfg = self.config
        ready: dict[str, Any] = {
            "ready": True,
            "node_id": self.node_id,
            "listen": [],
            "agent": None,
            "agent_tcp": None,
            "metrics": None,
            "web": None,
        }
        for text in plaintext_warnings(cfg):  # docs/security.md
            log.warning(text)
        for listen in cfg.listen:
            port = await nursery.start(self.sessions.serve, listen)
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

            ready["web"] = await nursery.start(
                functools.partial(
                    serve_web, self, cfg.web, agent_token=self._agent_token(ready.get("agent_token_file"))
                )
            )
        if cfg.echo_service is not None:
            nursery.start_soon(self.delivery.echo_loop, f"ipn:{self.node_number}.{cfg.echo_service}")
        if cfg.archive is not None:
            from dtn.node.archive import ArchiveService

            self.archive = ArchiveService(self, cfg.archive, db=self._archive_db)
            await nursery.start(self.archive.run)
        if getattr(cfg, "compute", None) is not None:
            from dtn.node.compute import ComputeService

            self.compute = ComputeService(self, cfg.compute)
            await nursery.start(self.compute.run)
        return ready

    # -- the node's API (agent, archive service, twin, tests) --------------------------------------------------
    @property
    def peers(self) -> dict[int, PeerState]:
        return self.contacts.peers

    @property
    def registered(self) -> set[str]:
        return self.delivery.registered

    def is_local(self, eid: str) -> bool:
        if eid.startswith("ipn:"):
            try:
                return bp.eid_node_number(eid) == self.node_number
            except DecodeError:
                return False
        dtn_id = self.config.dtn_id
        return bool(dtn_id) and eid.startswith(dtn_id)

    def register_endpoint(self, endpoint: str) -> None:
        self.delivery.register(endpoint)

    def unregister_endpoint(self, endpoint: str) -> None:
        self.delivery.unregister(endpoint)

    async def send_from_application(self, destination: str, payload: bytes, **options: Any) -> dict[str, Any]:
        """Create a bundle for a local application, store it durably, dispatch it; return its identity
        (options: `BundleProcessor.send_from_application`)."""
        return await self.processing.send_from_application(destination, payload, **options)

    async def next_delivery(self, endpoint: str) -> dict[str, Any]:
        """The next bundle queued for `endpoint`; waits until there is one (the caller's cancel scope bounds
        the wait)."""
        return await self.delivery.next_delivery(endpoint)

    def release_deliveries(self, keys: set[str]) -> None:
        self.delivery.release(keys)

    async def acknowledge_delivery(self, key: str) -> None:
        await self.delivery.acknowledge(key)

    async def set_contact_override(self, peer: int, state: str) -> None:
        """Admin: force the link to `peer` up or down, or return it to the plan."""
        await self.contacts.set_contact_override(peer, state)

    def status(self) -> dict[str, Any]:
        return status_view.status(self)

    # -- the CLA side ------------------------------------------------------------------------------------------
    async def receive_from_peer(self, data: bytes, peer: int | None) -> None:
        """A bundle arrived over a CLA; returns once it is durable (or deliberately dropped)."""
        await self.processing.receive_from_peer(data, peer)

    async def handle_inbound(self, stream: trio.abc.Stream, *, peer_address: str = "stream") -> None:
        """Serve a session a neighbour opened over `stream` (the digital twin's dialer hands the far end of an
        in-memory stream pair here). Returns when the session ends."""
        await self.sessions.handle_inbound(stream, peer_address=peer_address)

    def session_up(self, peer: int, session: PeerSession) -> None:
        """A CLA session with `peer` is established (either side opened it); the newest session wins."""
        self.contacts.session_up(peer, session, dialled_by_us=self.sessions.dialled_by_us(session))

    def session_down(self, peer: int, session: PeerSession, reason: str) -> None:
        """The CLA session ended (SESS_TERM, drop, or our close)."""
        self.contacts.session_down(peer, session, reason)


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
