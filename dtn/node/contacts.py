"""The contact manager: one task per neighbour that keeps a session while the link is wanted, and runs that
session's send loop in the session's own nursery.

    peer task (node nursery, via ContactManager.run)
      ├─ link loop: dial with backoff while the link is wanted and we dial; close the session we opened when
      │  the planned contact ends; contact ended -> what it did not carry goes back to routing
      └─ for each session, in turn: a nursery that holds its send loop; cancelled when the session goes down
         or a newer one replaces it; then, on link loss, the session's bundles go back to routing

The CLA reports sessions through plain callbacks (`session_up`/`session_down`); those only record the session
and wake the peer task, they never start tasks. Rerouting the bundles that wait without a route (a contact
appeared) is one task too, woken by `request_reroute`, so two passes never run at once (issue 22: two
concurrent passes could book the same bundle twice). All times come from the node's `Clock`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

import trio

from contact_plans.model import Contact
from dtn.bpv7.admin import StatusReasonCode
from dtn.errors import ClaError, ConfigError, DtnError
from dtn.node import bundles as bp
from dtn.node.clalimit import handle_oversized, link_limit_problem
from dtn.node.config import NodeConfig
from dtn.node.forwarding import Drop
from dtn.node.links import PeerSession
from dtn.node.schedule import DOWN, PLAN, UP
from dtn.node.wakeup import Wakeup

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node")

Dialer = Callable[[int, "str | None"], Awaitable[trio.abc.Stream]]


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
    next_dial_at_s: float = -math.inf  # clock time of the next dial attempt allowed (backoff)
    session_opened_here: bool = False
    contact_started_s: float | None = None  # plan time the current session came up
    sent_bytes_in_contact: int = 0
    failed_contact: Contact | None = None  # the contact a lost session failed (set by session_down)


class ContactManager:
    """Peers, dialling with backoff, sessions and their send loops (see module docstring)."""

    def __init__(self, node: "Node", dialer: Dialer | None) -> None:
        self.node = node
        self.peers: dict[int, PeerState] = {}
        self._dialer = dialer
        self._custom_dialer = dialer is not None
        self._new_peers_in, self._new_peers_out = trio.open_memory_channel[PeerState](math.inf)
        self._reroute_wake = Wakeup()
        self._reroute_wanted = False
        self._reroute_lock = trio.Lock()

    # -- peers -------------------------------------------------------------------------------------------------
    def peer(self, number: int) -> PeerState:
        """The neighbour's state; a new neighbour gets its task once `run` is running (or when it starts)."""
        state = self.peers.get(number)
        if state is None:
            state = self.peers[number] = PeerState(number)
            self._new_peers_in.send_nowait(state)
        return state

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run every peer task and the reroute task until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._reroute_task)
            task_status.started()
            async for state in self._new_peers_out:
                nursery.start_soon(self._peer_task, state)

    async def close_sessions(self) -> None:
        """Close every session (SESS_TERM), each bounded by its CLA's own termination timeout; a caller that
        wants it shorter cancels."""
        async with trio.open_nursery() as nursery:
            for state in self.peers.values():
                if state.session is not None:
                    nursery.start_soon(state.session.close)

    # -- CLA callbacks (plain: record and wake, never start tasks) ---------------------------------------------
    def session_up(self, peer: int, session: PeerSession, *, dialled_by_us: bool) -> None:
        """A CLA session with `peer` is established (either side opened it); the newest session wins."""
        node = self.node
        state = self.peer(peer)
        state.session = session
        state.session_opened_here = dialled_by_us
        state.contact_started_s = node.plan_now_s()
        state.sent_bytes_in_contact = 0
        contact = node.schedule.outbound_contact(peer, state.contact_started_s)
        if contact is not None and node.router is not None:
            try:  # the link is back within a contact we had marked failed (e.g. the neighbour restarted)
                node.router.restore_contact(contact)
            except DtnError:
                pass  # not a contact the router knows (removed from the plan)
        node.events.emit(
            "contact_up",
            peer=peer,
            contact=bp.contact_name(contact) if contact else None,
            tls=getattr(session, "tls", None),
        )
        self.request_reroute()
        state.wake.fire()

    def session_down(self, peer: int, session: PeerSession, reason: str) -> None:
        """The CLA session ended (SESS_TERM, drop, or our close)."""
        state = self.peers.get(peer)
        if state is None or state.session is not session:
            return
        state.session = None
        now = self.node.plan_now_s()
        self.node.events.emit("contact_down", peer=peer, reason=reason)
        state.failed_contact = None
        if self.node.schedule.link_wanted(peer, now):
            state.failed_contact = self.node.schedule.outbound_contact(peer, now)  # the contact failed early
        state.wake.fire()

    # -- rerouting waiting bundles -----------------------------------------------------------------------------
    def request_reroute(self) -> None:
        """Ask the reroute task for one more pass over the bundles waiting without a route."""
        self._reroute_wanted = True
        self._reroute_wake.fire()

    async def reroute_waiting(self) -> None:
        """One pass now (serialised with the reroute task's passes, so a bundle is never booked twice)."""
        async with self._reroute_lock:
            await self.node.forwarding.reroute_waiting()

    async def _reroute_task(self) -> None:
        while True:
            while not self._reroute_wanted:
                await self._reroute_wake.wait()
            self._reroute_wanted = False
            await self.reroute_waiting()

    # -- admin -------------------------------------------------------------------------------------------------
    async def set_contact_override(self, peer: int, state: str) -> None:
        """Admin: force the link to `peer` up or down, or return it to the plan."""
        node = self.node
        if peer == node.node_number or peer <= 0:
            raise ConfigError(f"{peer} is not a neighbour of this node", key="peer")
        now = node.plan_now_s()
        if state == PLAN:
            node.schedule.overrides.pop(peer, None)
        else:
            node.schedule.overrides[peer] = state
        if state == UP and node.router is not None and node.schedule.outbound_contact(peer, now) is None:
            contact = Contact(node.node_number, peer, now, now + 365 * 86400.0, 1e12)
            node.router.add_contact(contact)
            node.schedule.add_contact(contact)
            node.schedule.overrides[peer] = UP
        node.events.emit("contact_override", peer=peer, state=state)
        state_obj = self.peer(peer)
        if state == DOWN:
            if node.router is not None:
                for contact in self._active_contacts(peer, now):
                    node.router.cut_contact(contact, now)
            if state_obj.session is not None:
                await state_obj.session.close()
            await node.forwarding.reroute_peer(peer, failed_contact=None)
        state_obj.wake.fire()
        if state == UP:
            await self.reroute_waiting()

    def _active_contacts(self, peer: int, now: float) -> list[Contact]:
        plan = self.node.plan
        if plan is None:
            return []
        return [
            c
            for c in plan.contacts
            if c.from_node == self.node.node_number and c.to_node == peer and c.start_s <= now < c.end_s
        ]

    # -- the peer task -----------------------------------------------------------------------------------------
    async def _peer_task(self, state: PeerState) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._link_loop, state, nursery)
            while True:
                while state.session is None:
                    await state.wake.wait()
                session = state.session
                async with trio.open_nursery() as session_nursery:  # the session's nursery
                    session_nursery.start_soon(self._send_loop, state, session)
                    while state.session is session:
                        await state.wake.wait()
                    session_nursery.cancel_scope.cancel()
                if state.session is not None:  # replaced by a newer session: close the old one meanwhile
                    nursery.start_soon(session.close)
                else:  # link loss: what the session did not carry goes back to routing
                    await self.node.forwarding.reroute_peer(state.number, failed_contact=state.failed_contact)
                state.wake.fire()

    def _dials(self, peer: int) -> bool:
        nb = self.node.config.neighbours.get(peer)
        if nb is not None:
            if nb.dial == "never" or (nb.address is None and not self._custom_dialer):
                return False
            if nb.cla == "ltp":  # each side opens its own LTP span for its own direction (docs/ltp.md)
                return True
            return nb.dial == "always" or self.node.node_number < peer
        return self._custom_dialer and self.node.node_number < peer

    async def _link_loop(self, state: PeerState, peer_nursery: trio.Nursery) -> None:
        """Keep a session to the neighbour while the link is wanted (dialling if this node dials it, with
        backoff between attempts); close the session we opened when the planned contact ends."""
        node = self.node
        clock = node.clock
        peer = state.number
        cfg = node.config.routing
        schedule = node.schedule
        was_wanted = False
        while True:
            now = node.plan_now_s()
            wanted = schedule.link_wanted(peer, now)
            wake_at = node.trio_deadline_for_plan(schedule.next_change_s(peer, now))
            if wanted and state.session is None and self._dials(peer):
                if clock.now_s() >= state.next_dial_at_s:
                    delay = cfg.retry_min_s * 2 ** min(state.dial_failures, 20)
                    state.next_dial_at_s = clock.now_s() + min(cfg.retry_max_s, delay)
                    try:
                        await self._dial(state, peer_nursery)
                        state.dial_failures = 0
                        continue
                    except (OSError, DtnError, trio.BrokenResourceError) as exc:
                        state.dial_failures += 1
                        # Back off from the failure, not the attempt: a dial slower than the delay (a connect
                        # timeout) would otherwise retry at once and report a negative retry_s.
                        state.next_dial_at_s = clock.now_s() + min(cfg.retry_max_s, delay)
                        node.events.emit(
                            "dial_failed",
                            peer=peer,
                            reason=str(exc)[:200],
                            retry_s=round(min(cfg.retry_max_s, delay), 3),
                        )
                wake_at = min(wake_at, _trio_deadline(clock, state.next_dial_at_s))
            if state.session is not None and (
                schedule.overrides.get(peer) == DOWN or (not wanted and state.session_opened_here)
            ):
                await state.session.close()
            if was_wanted and not wanted:
                # The contact ended: what it did not carry goes back to routing.
                await node.forwarding.reroute_peer(peer, failed_contact=None)
            was_wanted = wanted
            await state.wake.wait(wake_at)

    async def _dial(self, state: PeerState, peer_nursery: trio.Nursery) -> None:
        nb = self.node.config.neighbours.get(state.number)
        if nb is not None and nb.cla == "ltp":  # a span on the node's one LTP engine, not a dialled stream
            from dtn.node.ltp import open_span

            await open_span(self.node, state.number)
            return
        address = nb.address if nb else None
        if self._dialer is None:
            self._dialer = tcp_dialer_for(self.node.config)
        # A datagram CLA (UDP) opens its own link: no stream to dial.
        uses_stream = self.node.sessions.cla_of(state.number).uses_stream
        stream = await self._dialer(state.number, address) if uses_stream else None
        # The session we opened runs in the peer task's nursery: it outlives this dial, never the peer task.
        await peer_nursery.start(self.node.sessions.run_active, stream, state.number)

    # -- the send loop (one per session, in the session's nursery) ---------------------------------------------
    async def _send_loop(self, state: PeerState, session: PeerSession) -> None:
        """Send the bundles routed to `peer`, one transfer at a time, while this session lasts."""
        try:
            await self._send_bundles(state, session)
        finally:
            state.sending = None
            state.wake.fire()

    async def _send_bundles(self, state: PeerState, session: PeerSession) -> None:
        node = self.node
        clock = node.clock
        forwarding = node.forwarding
        processing = node.processing
        store = node.store
        db = node.db
        peer = state.number
        rate_limit = node.config.routing.rate_limit
        batch: deque[str] = deque()  # keys read from the store in one query, sent in order
        while state.session is session:
            now = node.plan_now_s()
            if not node.schedule.may_send(peer, now):
                await state.wake.wait(node.trio_deadline_for_plan(node.schedule.next_change_s(peer, now)))
                continue
            if not batch:
                batch.extend(e.key for e in await db(store.for_next_hop, peer))
                if not batch:
                    await state.wake.wait()
                    continue
            entry = await db(store.get, batch.popleft())
            if entry is None or entry.next_hop != peer:
                continue  # delivered elsewhere, expired or rerouted since the batch was read
            try:
                data = await forwarding.prepare_forward(entry)
            except Drop as drop:
                await processing.delete_stored(entry, drop.reason)
                continue
            except DtnError as exc:  # damaged in the store, or no longer decodable: never sendable
                log.warning("bundle %s cannot be forwarded: %s", entry.key, exc)
                await processing.delete_stored(entry, StatusReasonCode.BLOCK_UNINTELLIGIBLE)
                continue
            if node.forward_hook is not None:
                data = node.forward_hook(entry.key, data)
            if (too_large := link_limit_problem(session, len(data))) is not None:  # e.g. UDP: one datagram
                await handle_oversized(node, entry, peer, len(data), too_large, session.max_bundle_bytes)
                continue
            contact = node.schedule.outbound_contact(peer, now)
            if rate_limit and contact is not None:
                started = state.contact_started_s if state.contact_started_s is not None else now
                due_s = (
                    max(started, contact.start_s) + (state.sent_bytes_in_contact + len(data)) / contact.rate_bytes_per_s
                )
                if due_s > now:
                    await clock.sleep_until(node.clock_time_for_plan(due_s))
            state.sending = entry.key
            try:
                await session.send_bundle(data)
            except trio.Cancelled:  # the session went down (or was replaced) mid-transfer
                node.events.emit(
                    "forward_failed",
                    bundle=entry.key,
                    src=entry.source,
                    dst=entry.destination,
                    size_bytes=len(data),
                    next_hop=peer,
                    reason="session ended",
                )
                raise
            except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                node.events.emit(
                    "forward_failed",
                    bundle=entry.key,
                    src=entry.source,
                    dst=entry.destination,
                    size_bytes=len(data),
                    next_hop=peer,
                    reason=str(exc)[:200],
                )
                state.sending = None
                state.wake.fire()
                if state.session is session:
                    await session.close()
                return
            state.sending = None
            state.sent_bytes_in_contact += len(data)
            # The neighbour has the bundle: finish its bookkeeping even if the session goes down meanwhile.
            with trio.CancelScope(shield=True):
                await forwarding.after_sent(entry, peer, len(data))
            state.wake.fire()


def _trio_deadline(clock, t_s: float) -> float:
    return math.inf if t_s == math.inf else clock.trio_time_at(t_s)
