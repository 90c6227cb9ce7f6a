"""Two TCPCLv4 sessions against a model, in random interleavings (hypothesis `RuleBasedStateMachine`).

An active and a passive `Session` talk through two byte queues. Rules send transfers, accept or refuse what
arrived (whole, or while still arriving), send keepalives, start termination from either side, advance the
clock, and deliver bytes in random chunks, in any order; the handshake runs through the same chunked delivery
(or, so that most examples get to transfers, at the start in chunks of one random size). The model is what each side sent and decided; after every step the two machines must agree with it:

- neither side ever sees a protocol violation (both are this implementation, so any error is a bug);
- each transfer reaches the peer at most once, whole, with the bytes sent, in transfer-ID order;
- the sender learns "acknowledged" only for transfers the receiver accepted, "refused" only for transfers the
  receiver refused (by the node's decision or by the machine's own limits or termination), never both;
- keepalives received never outnumber keepalives sent;
- once everything in flight is delivered and decided: an open session has an answer for every transfer, and
  after termination from either side both sessions are closed, cleanly.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dtn.tcpcl import (
    IncomingTransferRefused,
    Keepalive,
    KeepaliveReceived,
    Role,
    Session,
    SessionEnded,
    SessTermReason,
    State,
    TransferAcked,
    TransferReceived,
    TransferRefused,
    XferRefuseReason,
)

from ..conftest import examples
from .machines import ACTIVE_ID, PASSIVE_ID, config

LIMITS = dict(
    segment_mru_bytes=64,
    send_segment_bytes=16,
    transfer_mru_bytes=150,
    max_buffered_bytes=300,
    keepalive_s=0,
    session_init_timeout_s=30.0,
    term_timeout_s=30.0,
)
SIDES = ("active", "passive")
OPEN_FOR_TRANSFERS = (State.ESTABLISHED,)


class _Side:
    """One session and what the model knows of it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.outbound = bytearray()  # bytes written by this side, not yet delivered to the peer
        self.sent: dict[int, bytes] = {}  # our transfers
        self.acked: set[int] = set()
        self.refused_by_peer: dict[int, int] = {}
        self.received: list[tuple[int, bytes]] = []  # the peer's transfers that arrived whole
        self.undecided: list[int] = []
        self.accepted: set[int] = set()
        self.refused: set[int] = set()  # by us: the node's decision or the machine's own limits
        self.keepalives_sent = 0
        self.keepalives_received = 0
        self.ended: list[SessionEnded] = []
        self.terminated = False


class TwoSessions(RuleBasedStateMachine):
    @initialize(handshake_chunk_bytes=st.one_of(st.none(), st.integers(1, 64)))
    def start(self, handshake_chunk_bytes: int | None) -> None:
        """Two fresh sessions; the handshake runs either through the rules (None) or here, in chunks."""
        self.now_s = 0.0
        self.sides = {
            "active": _Side(Session(config(ACTIVE_ID, **LIMITS), Role.ACTIVE, now_s=0.0)),
            "passive": _Side(Session(config(PASSIVE_ID, **LIMITS), Role.PASSIVE, now_s=0.0)),
        }
        self.sides["active"].outbound += self.sides["active"].session.start()
        if handshake_chunk_bytes is not None:
            while any(self.sides[name].outbound for name in SIDES):
                for name in SIDES:
                    self.deliver(name, handshake_chunk_bytes)
            assert all(self.sides[name].session.established for name in SIDES)

    # -------------------------------------------------------------------------------------------- helpers
    def peer(self, name: str) -> str:
        return "passive" if name == "active" else "active"

    def collect(self, name: str) -> None:
        side = self.sides[name]
        side.outbound += side.session.data_to_send()
        for event in side.session.events():
            if isinstance(event, TransferReceived):
                side.received.append((event.transfer_id, bytes(event.data)))
                side.undecided.append(event.transfer_id)
            elif isinstance(event, TransferAcked):
                side.acked.add(event.transfer_id)
            elif isinstance(event, TransferRefused):
                side.refused_by_peer[event.transfer_id] = event.reason
            elif isinstance(event, IncomingTransferRefused):
                side.refused.add(event.transfer_id)
            elif isinstance(event, KeepaliveReceived):
                side.keepalives_received += 1
            elif isinstance(event, SessionEnded):
                side.ended.append(event)

    def deliver(self, name: str, max_bytes: int | None) -> None:
        """Move up to `max_bytes` of `name`'s written bytes into its peer."""
        side, peer = self.sides[name], self.sides[self.peer(name)]
        if not side.outbound:
            return
        size = len(side.outbound) if max_bytes is None else min(max_bytes, len(side.outbound))
        chunk = bytes(side.outbound[:size])
        del side.outbound[:size]
        peer.session.receive_data(chunk, now_s=self.now_s)
        self.collect(self.peer(name))

    # ---------------------------------------------------------------------------------------------- rules
    @rule(name=st.sampled_from(SIDES), data=st.one_of(st.binary(max_size=20), st.binary(min_size=20, max_size=150)))
    def send_transfer(self, name: str, data: bytes) -> None:
        side = self.sides[name]
        session = side.session
        if session.state not in OPEN_FOR_TRANSFERS or session.sending:
            return
        tid = session.begin_transfer(data, now_s=self.now_s)
        side.sent[tid] = data
        for segment in session.transfer_segments(tid):
            side.outbound += segment
        self.collect(name)

    @rule(name=st.sampled_from(SIDES), max_bytes=st.one_of(st.none(), st.integers(1, 40)))
    def deliver_bytes(self, name: str, max_bytes: int | None) -> None:
        self.deliver(name, max_bytes)

    @rule(name=st.sampled_from(SIDES), accept=st.booleans())
    def decide(self, name: str, accept: bool) -> None:
        side = self.sides[name]
        if not side.undecided or side.session.closed:
            return
        tid = side.undecided.pop(0)
        if accept:
            side.outbound += side.session.accept_transfer(tid, now_s=self.now_s)
            side.accepted.add(tid)
        else:
            side.outbound += side.session.refuse_transfer(tid, XferRefuseReason.NOT_ACCEPTABLE, now_s=self.now_s)
            side.refused.add(tid)
        self.collect(name)

    @rule(name=st.sampled_from(SIDES))
    def refuse_while_arriving(self, name: str) -> None:
        side = self.sides[name]
        incoming = side.session.incoming
        if incoming is None or incoming.refused or side.session.closed:
            return
        side.outbound += side.session.refuse_transfer(
            incoming.transfer_id, XferRefuseReason.NO_RESOURCES, now_s=self.now_s
        )
        side.refused.add(incoming.transfer_id)
        self.collect(name)

    @rule(name=st.sampled_from(SIDES))
    def keepalive(self, name: str) -> None:
        side = self.sides[name]
        if side.session.state not in (State.ESTABLISHED, State.ENDING):
            return
        side.outbound += side.session.send(Keepalive(), now_s=self.now_s)
        side.keepalives_sent += 1
        self.collect(name)

    @rule(name=st.sampled_from(SIDES), reason=st.sampled_from([SessTermReason.UNKNOWN, SessTermReason.BUSY]))
    def terminate(self, name: str, reason: SessTermReason) -> None:
        side = self.sides[name]
        if side.session.closed:
            return
        side.outbound += side.session.close(reason, now_s=self.now_s)
        side.terminated = True
        self.collect(name)

    @precondition(lambda self: self.now_s < 5.0)
    @rule(dt_s=st.floats(0.0, 1.0))
    def advance_clock(self, dt_s: float) -> None:
        """Time passes, well inside every timeout: timers fire nothing, yet the machines see the time."""
        self.now_s += dt_s
        for name in SIDES:
            session = self.sides[name].session
            deadline = session.timer_deadline_s()
            assert deadline is None or deadline > self.now_s
            session.handle_timer(self.now_s)
            self.collect(name)

    # ------------------------------------------------------------------------------------------ invariants
    @invariant()
    def agrees_with_the_model(self) -> None:
        for name in SIDES:
            side, peer = self.sides[name], self.sides[self.peer(name)]
            tids = [tid for tid, _ in side.received]
            assert tids == sorted(set(tids)), "each transfer arrives once, in transfer-ID order"
            for tid, data in side.received:
                assert peer.sent[tid] == data, "a transfer arrives with the bytes sent"
            assert side.acked <= peer.accepted, "acknowledged only when the receiver accepted"
            assert set(side.refused_by_peer) <= peer.refused, "refused only when the receiver refused"
            assert not side.acked & set(side.refused_by_peer)
            assert side.keepalives_received <= peer.keepalives_sent
            assert len(side.ended) <= 1

    def teardown(self) -> None:
        """Deliver everything and accept whatever is still undecided; then every transfer has its answer."""
        if not hasattr(self, "sides"):
            return
        for _ in range(1000):
            moved = False
            for name in SIDES:
                side = self.sides[name]
                while side.undecided and not side.session.closed:
                    tid = side.undecided.pop(0)
                    side.outbound += side.session.accept_transfer(tid, now_s=self.now_s)
                    side.accepted.add(tid)
                    self.collect(name)
                    moved = True
                if side.outbound:
                    self.deliver(name, None)
                    moved = True
            if not moved:
                break
        self.agrees_with_the_model()
        active, passive = self.sides["active"], self.sides["passive"]
        if active.terminated or passive.terminated:
            for side in (active, passive):
                assert side.session.closed
                assert side.ended and side.ended[0].clean
        else:
            assert active.session.established and passive.session.established
            for side in (active, passive):
                for tid in side.sent:
                    assert (tid in side.acked) != (tid in side.refused_by_peer), f"transfer {tid} has one answer"


TwoSessions.TestCase.settings = settings(max_examples=examples(100), stateful_step_count=30, deadline=None)
test_two_sessions = TwoSessions.TestCase
