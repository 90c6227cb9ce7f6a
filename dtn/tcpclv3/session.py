"""The TCPCLv3 session, RFC 7242, as a sans-IO machine: bytes and the current time in, events and bytes out.

    session = Session(TcpclV3Config("ipn:1.0"), now_s=0.0)
    wire = session.start()                      # our contact header (both sides send one at once, §4)
    session.receive_data(chunk, now_s)          # buffers, never blocks
    for event in session.events(): ...          # SessionEstablished, TransferReceived, TransferAcked, ...
    tid, wire = session.send_bundle(data, now_s)
    wire = session.accept_transfer(tid, now_s)  # the final ACK_SEGMENT, once the bundle is durable
    session.timer_deadline_s(); session.handle_timer(now_s)

Negotiation (§4.3): keepalive is the smaller of both intervals, and off if either is 0; segment
acknowledgements are on only if both headers ask for them; bundle refusal only if both allow it and acks are
on; we send LENGTH before each bundle when the peer asks for it. We never request reactive fragmentation.

Acknowledgements are cumulative within one bundle and refer, like REFUSE_BUNDLE, to the oldest bundle not yet
fully acknowledged or refused (§5.3, §5.4): the order of acks is the only bundle identity TCPCLv3 has. So the
final ACK of a received bundle is held until the node accepts it, and acks of later bundles queue behind it.

A peer's violation ends the session: a SHUTDOWN (§6.1 has no reason code for it, so none is given), then
`SessionEnded(clean=False, error=...)`. Memory is bounded by `max_bundle_bytes` and `max_eid_bytes`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from dtn.errors import ConfigError, DecodeError, LocalProtocolError, RemoteProtocolError

from . import messages as m
from .messages import ContactFlag, MessageType, RefuseReason, SegmentFlag, ShutdownReason

U16_MAX = 0xFFFF


@dataclass(frozen=True, slots=True)
class TcpclV3Config:
    """Our side of a TCPCLv3 session.

    - `eid`: the local EID in our contact header (e.g. "ipn:1.0").
    - `keepalive_s`: our keepalive_interval (0: no keepalives).
    - `request_acks` / `allow_refusal` / `request_length`: our contact header flags.
    - `segment_bytes`: the largest DATA_SEGMENT we send.
    - `max_bundle_bytes`: the largest bundle we accept (larger: refused, or the session ends).
    - `max_eid_bytes`: the longest peer EID we accept in a contact header.
    - `contact_timeout_s`: the peer's contact header must arrive within this time.
    - `shutdown_timeout_s`: after our SHUTDOWN, how long we wait for the peer's before closing.
    """

    eid: str
    keepalive_s: int = 15
    request_acks: bool = True
    allow_refusal: bool = True
    request_length: bool = False
    segment_bytes: int = 1024 * 1024
    max_bundle_bytes: int = 128 * 1024 * 1024
    max_eid_bytes: int = 1024
    contact_timeout_s: float = 10.0
    shutdown_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.eid, str) or ":" not in self.eid:
            raise ConfigError(f"invalid EID {self.eid!r} (expected a URI such as ipn:1.0)", "eid")
        if len(self.eid.encode("utf-8")) > self.max_eid_bytes:
            raise ConfigError(f"EID longer than max_eid_bytes ({self.max_eid_bytes})", "eid")
        if not isinstance(self.keepalive_s, int) or not 0 <= self.keepalive_s <= U16_MAX:
            raise ConfigError(f"must be an integer in 0..65535, got {self.keepalive_s!r}", "keepalive_s")
        for name in ("segment_bytes", "max_bundle_bytes", "max_eid_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"must be a positive integer, got {value!r}", name)
        for name in ("contact_timeout_s", "shutdown_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"must be a positive number of seconds, got {value!r}", name)

    @property
    def flags(self) -> ContactFlag:
        flags = ContactFlag(0)
        if self.request_acks:
            flags |= ContactFlag.REQUEST_ACK
        if self.allow_refusal:
            flags |= ContactFlag.ALLOW_REFUSAL
        if self.request_length:
            flags |= ContactFlag.REQUEST_LENGTH
        return flags


# -- events ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionEstablished:
    """Both contact headers exchanged; the negotiated parameters (§4.3)."""

    peer_eid: str
    keepalive_s: int
    acks: bool
    refusal: bool
    send_length: bool
    peer_flags: int


@dataclass(frozen=True, slots=True)
class TransferReceived:
    """A whole incoming bundle. With acks on, its final ACK_SEGMENT waits for `accept_transfer(transfer_id)`
    (or `refuse_transfer`)."""

    transfer_id: int
    data: bytes | bytearray  # a bytearray the session no longer touches


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The peer acknowledged `acked_bytes` of our bundle `transfer_id` (cumulative)."""

    transfer_id: int
    acked_bytes: int


@dataclass(frozen=True, slots=True)
class TransferAcked:
    """Our bundle is fully acknowledged (or refused as already COMPLETED at the peer, §5.4)."""

    transfer_id: int
    length_bytes: int


@dataclass(frozen=True, slots=True)
class TransferRefused:
    """The peer refused our bundle (REFUSE_BUNDLE); `reason` is a RefuseReason code."""

    transfer_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class IncomingTransferRefused:
    """We refused (or, without refusal, dropped) the peer's bundle because of a limit."""

    transfer_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class LengthReceived:
    """The peer announced the length of its next bundle (LENGTH, §5.5)."""

    length_bytes: int


@dataclass(frozen=True, slots=True)
class KeepaliveReceived:
    """A KEEPALIVE, §5.6."""


@dataclass(frozen=True, slots=True)
class ShutdownReceived:
    """The peer sent SHUTDOWN (§6.1); `reason` and `delay_s` are None when absent."""

    reason: int | None
    delay_s: int | None


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session is over: close the connection. `clean` when SHUTDOWN was exchanged and no bundle was left
    half sent or half received; `error` names the peer's violation, if one ended it."""

    clean: bool
    reason: int | None = None
    error: str | None = None


Event = (
    SessionEstablished
    | TransferReceived
    | AckReceived
    | TransferAcked
    | TransferRefused
    | IncomingTransferRefused
    | LengthReceived
    | KeepaliveReceived
    | ShutdownReceived
    | SessionEnded
)


# -- states and the transition table -----------------------------------------------------------------------------


class State(Enum):
    CONTACT = "contact"  # our contact header sent, waiting for the peer's
    ESTABLISHED = "established"
    ENDING = "ending"  # we sent SHUTDOWN: no more data segments from us (§6.1), waiting for the peer's
    CLOSED = "closed"


_ALL = frozenset(MessageType)
TRANSITIONS: dict[State, frozenset[MessageType]] = {
    State.CONTACT: frozenset(),  # only the contact header
    State.ESTABLISHED: _ALL,
    # After our SHUTDOWN the peer may still finish what crossed on the wire: acks, refusals, data in progress.
    State.ENDING: _ALL,
    State.CLOSED: frozenset(),
}
"""Which messages the peer may send in each state; anything else ends the session as a protocol violation."""


@dataclass
class _Outgoing:
    transfer_id: int
    length: int
    acked: int = 0


class Session:
    """One TCPCLv3 session (either side: TCPCLv3 is symmetric once connected)."""

    def __init__(self, config: TcpclV3Config, now_s: float = 0.0) -> None:
        self.config = config
        self._state = State.CONTACT
        self._now = now_s
        self._started_s = now_s
        self._buf = bytearray()
        self._offset = 0  # stream offset of self._buf[0]
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self.peer: m.ContactHeader | None = None
        self.keepalive_s = 0
        self.acks = False
        self.refusal = False
        self.send_length = False
        self._last_sent_s = now_s
        self._last_received_s = now_s
        self._ending_since_s: float | None = None
        # incoming bundle
        self._in: bytearray | None = None
        self._in_id = 0
        self._seg_left = 0  # bytes of the current DATA_SEGMENT still to read
        self._seg_flags = 0
        self._discarding = False  # the current incoming bundle was refused: skip its remaining segments
        self._announced: int | None = None
        # acks we owe, in wire order: bytes ready to send, or [transfer_id, length, decision] held finals
        self._ack_queue: deque = deque()
        # outgoing bundles not yet fully acknowledged or refused (acks on), oldest first
        self._unacked: deque[_Outgoing] = deque()
        self._next_out_id = 1
        self._started = False

    # -- inspection ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def established(self) -> bool:
        return self._state is State.ESTABLISHED

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf) + (len(self._in) if self._in is not None else 0)

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out = []
        if out:
            self._last_sent_s = self._now
        return out

    # -- timers --------------------------------------------------------------------------------------------------
    def timer_deadline_s(self) -> float | None:
        if self._state is State.CLOSED:
            return None
        if self._state is State.CONTACT:
            return self._started_s + self.config.contact_timeout_s
        deadlines = []
        if self._state is State.ENDING and self._ending_since_s is not None:
            deadlines.append(self._ending_since_s + self.config.shutdown_timeout_s)
        if self.keepalive_s:
            deadlines.append(self._last_sent_s + self.keepalive_s)
            deadlines.append(self._last_received_s + 2 * self.keepalive_s)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now_s: float) -> None:
        self._now = now_s
        if self._state is State.CLOSED:
            return
        if self._state is State.CONTACT:
            if now_s >= self._started_s + self.config.contact_timeout_s:
                self._close(clean=False, error="no contact header from the peer in time")
            return
        if self._state is State.ENDING and self._ending_since_s is not None:
            if now_s >= self._ending_since_s + self.config.shutdown_timeout_s:
                self._close(clean=False, error=None)
                return
        if self.keepalive_s:
            if now_s >= self._last_received_s + 2 * self.keepalive_s:
                # §5.6: nothing heard for twice the interval: SHUTDOWN(idle timeout) and close.
                self._queue(m.encode(m.Shutdown(ShutdownReason.IDLE_TIMEOUT)))
                self._close(clean=False, reason=ShutdownReason.IDLE_TIMEOUT, error=None)
                return
            if now_s >= self._last_sent_s + self.keepalive_s:
                self._queue(m.encode(m.Keepalive()))
                self._last_sent_s = now_s

    # -- our actions ---------------------------------------------------------------------------------------------
    def start(self, now_s: float | None = None) -> bytes:
        """Our contact header (§4.1); send it as soon as the connection is up."""
        self._tick(now_s)
        if self._started:
            raise LocalProtocolError("contact header already sent")
        self._started = True
        cfg = self.config
        self._queue(m.encode(m.ContactHeader(cfg.eid, cfg.flags, cfg.keepalive_s)))
        return self.data_to_send()

    def send_bundle(self, data: bytes, now_s: float | None = None) -> tuple[int, bytes]:
        """Segment one bundle (LENGTH first if the peer asked for it); returns (transfer id, bytes to send).
        With acks on, `TransferAcked` / `TransferRefused` follow; without, the bundle is done once written."""
        self._tick(now_s)
        if self._state is not State.ESTABLISHED:
            raise LocalProtocolError(f"cannot send a bundle in state {self._state.value}")
        tid = self._next_out_id
        self._next_out_id += 1
        length = len(data)
        view = memoryview(data)
        if self.send_length:
            self._queue(m.encode(m.Length(length)))
        step = self.config.segment_bytes
        if length <= step:  # one segment: queue the bundle itself (no slice copy)
            self._queue(m.data_segment_header(int(SegmentFlag.START | SegmentFlag.END), length))
            self._queue(data)
            if self.acks:
                self._unacked.append(_Outgoing(tid, length))
            return tid, self.data_to_send()
        pos = 0
        while True:
            chunk = view[pos : pos + step]
            flags = (SegmentFlag.START if pos == 0 else 0) | (SegmentFlag.END if pos + step >= length else 0)
            self._queue(m.data_segment_header(int(flags), len(chunk)))
            self._queue(bytes(chunk))
            pos += step
            if pos >= length:
                break
        if self.acks:
            self._unacked.append(_Outgoing(tid, length))
        return tid, self.data_to_send()

    def accept_transfer(self, transfer_id: int, now_s: float | None = None) -> bytes:
        """The received bundle is durable: send its final ACK_SEGMENT (with acks on; else nothing)."""
        return self._decide(transfer_id, None, now_s)

    def refuse_transfer(
        self, transfer_id: int, reason: int = RefuseReason.UNKNOWN, now_s: float | None = None
    ) -> bytes:
        """Refuse a received bundle: REFUSE_BUNDLE when refusal was negotiated. Without refusal TCPCLv3 has no
        way to say no: NO_RESOURCES ends the session with SHUTDOWN(BUSY) so the sender keeps the bundle; any
        other reason acknowledges it (it is dropped here; resending would not help)."""
        return self._decide(transfer_id, int(reason), now_s)

    def close(self, reason: int | None = None, now_s: float | None = None) -> bytes:
        """Send SHUTDOWN (§6.1) and wait for the peer's (or `shutdown_timeout_s`)."""
        self._tick(now_s)
        if self._state is State.CLOSED or self._state is State.ENDING:
            return self.data_to_send()
        if self._state is State.CONTACT:
            if self._started:
                self._queue(m.encode(m.Shutdown(reason)))
            self._close(clean=False, reason=reason, error=None)
            return self.data_to_send()
        self._queue(m.encode(m.Shutdown(reason)))
        self._state = State.ENDING
        self._ending_since_s = self._now
        return self.data_to_send()

    def receive_data(self, data: bytes, now_s: float | None = None) -> None:
        """Feed bytes from the peer; b"" means the connection closed."""
        self._tick(now_s)
        if self._state is State.CLOSED:
            return
        if not data:
            clean = self._state is State.ENDING and self._in is None and not self._unacked
            self._close(
                clean=clean, error=None if clean or self._state is State.ENDING else "connection closed by the peer"
            )
            return
        self._last_received_s = self._now
        if self._seg_left and not self._buf and self._state is not State.CONTACT:
            # Fast path: segment data straight into the bundle, not through the message buffer.
            take = min(self._seg_left, len(data))
            if not self._discarding:
                self._in += data[:take] if take < len(data) else data
            self._seg_left -= take
            self._offset += take
            data = data[take:]
            if not self._seg_left:
                try:
                    self._end_segment()
                except (DecodeError, RemoteProtocolError) as exc:
                    self._fail(str(exc))
                    return
        self._buf += data
        try:
            self._consume()
        except (DecodeError, RemoteProtocolError) as exc:
            self._fail(str(exc))

    # -- parsing -------------------------------------------------------------------------------------------------
    def _consume(self) -> None:
        buf = self._buf
        pos = 0
        try:
            while pos < len(buf) and self._state is not State.CLOSED:
                if self._state is State.CONTACT:
                    got = m.parse_contact_header(buf, max_eid_bytes=self.config.max_eid_bytes)
                    if got is None:
                        break
                    header, pos = got
                    self._on_contact_header(header)
                    continue
                if self._seg_left:
                    take = min(self._seg_left, len(buf) - pos)
                    if not self._discarding:
                        with memoryview(buf) as view:
                            self._in += view[pos : pos + take]
                    pos += take
                    self._seg_left -= take
                    if self._seg_left:
                        break
                    self._end_segment()
                    continue
                used = self._parse_message(buf, pos)
                if used is None:
                    break
                pos = used
        finally:
            del buf[:pos]
            self._offset += pos

    def _parse_message(self, buf, pos: int) -> int | None:
        head = buf[pos]
        mtype, flags = head >> 4, head & 0x0F
        try:
            kind = MessageType(mtype)
        except ValueError:
            raise RemoteProtocolError(
                f"unknown TCPCLv3 message type 0x{mtype:x} at byte {self._offset + pos}"
            ) from None
        if kind not in TRANSITIONS[self._state]:
            raise RemoteProtocolError(f"{kind.name} not allowed in state {self._state.value}")
        if kind is MessageType.KEEPALIVE:
            self._events.append(KeepaliveReceived())
            return pos + 1
        if kind is MessageType.REFUSE_BUNDLE:
            self._on_refuse(flags)
            return pos + 1
        if kind is MessageType.SHUTDOWN:
            at = pos + 1
            reason = delay = None
            if flags & m.ShutdownFlag.REASON:
                if at >= len(buf):
                    return None
                reason = buf[at]
                at += 1
            if flags & m.ShutdownFlag.DELAY:
                got = m.sdnv_decode(buf, at, base_offset=self._offset)
                if got is None:
                    return None
                delay, at = got
            self._on_shutdown(reason, delay)
            return at
        got = m.sdnv_decode(buf, pos + 1, base_offset=self._offset)
        if got is None:
            return None
        value, at = got
        if kind is MessageType.DATA_SEGMENT:
            self._on_segment_header(flags, value)
        elif kind is MessageType.ACK_SEGMENT:
            self._on_ack(value)
        else:  # LENGTH
            self._announced = value
            self._events.append(LengthReceived(value))
        return at

    # -- message handlers ----------------------------------------------------------------------------------------
    def _on_contact_header(self, header: m.ContactHeader) -> None:
        if header.version != m.VERSION:
            # §4.2: a node that does not speak the peer's version SHOULD answer SHUTDOWN(version mismatch).
            self._queue(m.encode(m.Shutdown(ShutdownReason.VERSION_MISMATCH)))
            self._close(
                clean=False,
                reason=ShutdownReason.VERSION_MISMATCH,
                error=f"peer speaks TCPCL version {header.version}, not 3",
            )
            return
        if ":" not in header.eid:
            raise RemoteProtocolError(f"peer EID {header.eid!r} is not a URI")
        cfg = self.config
        self.peer = header
        self.keepalive_s = min(cfg.keepalive_s, header.keepalive_s) if cfg.keepalive_s and header.keepalive_s else 0
        self.acks = cfg.request_acks and bool(header.flags & ContactFlag.REQUEST_ACK)
        self.refusal = self.acks and cfg.allow_refusal and bool(header.flags & ContactFlag.ALLOW_REFUSAL)
        self.send_length = bool(header.flags & ContactFlag.REQUEST_LENGTH)
        self._state = State.ESTABLISHED
        self._events.append(
            SessionEstablished(
                header.eid, self.keepalive_s, self.acks, self.refusal, self.send_length, int(header.flags)
            )
        )

    def _on_segment_header(self, flags: int, length: int) -> None:
        start = bool(flags & SegmentFlag.START)
        if flags & 0xC:
            raise RemoteProtocolError(f"DATA_SEGMENT with reserved flag bits 0x{flags:x}")
        if start:
            if self._in is not None and not self._discarding:
                raise RemoteProtocolError("DATA_SEGMENT starts a bundle while the previous one is incomplete")
            self._in_id += 1
            self._in = bytearray()
            self._discarding = False
            if self._announced is not None and self._announced > self.config.max_bundle_bytes:
                self._refuse_in_progress(RefuseReason.NO_RESOURCES)
            self._announced = None
        elif self._in is None:
            raise RemoteProtocolError("DATA_SEGMENT continues a bundle that was never started")
        if not self._discarding and len(self._in) + length > self.config.max_bundle_bytes:
            self._refuse_in_progress(RefuseReason.NO_RESOURCES)
        self._seg_flags = flags
        self._seg_left = length
        if length == 0:
            self._end_segment()

    def _refuse_in_progress(self, reason: RefuseReason) -> None:
        if not self.refusal:
            raise RemoteProtocolError(
                f"bundle exceeds max_bundle_bytes ({self.config.max_bundle_bytes}) and refusal was not negotiated"
            )
        self._discarding = True
        self._in = bytearray()
        self._ack_queue.append(m.encode(m.RefuseBundle(reason)))
        self._flush_acks()
        self._events.append(IncomingTransferRefused(self._in_id, int(reason)))

    def _end_segment(self) -> None:
        end = bool(self._seg_flags & SegmentFlag.END)
        if self._discarding:
            if end:
                self._in = None
                self._discarding = False
            return
        if end:
            data, self._in = self._in, None  # handed over whole: no copy
            if self.acks:
                self._ack_queue.append([self._in_id, len(data), "held"])
            self._events.append(TransferReceived(self._in_id, data))
        elif self.acks:
            self._ack_queue.append(m.encode(m.AckSegment(len(self._in))))
            self._flush_acks()

    def _on_ack(self, length: int) -> None:
        if not self._unacked:
            raise RemoteProtocolError(f"ACK_SEGMENT({length}) with no bundle of ours in flight")
        head = self._unacked[0]
        if length < head.acked or length > head.length:
            raise RemoteProtocolError(
                f"ACK_SEGMENT({length}) out of order for a bundle of {head.length} bytes (acked {head.acked})"
            )
        head.acked = length
        self._events.append(AckReceived(head.transfer_id, length))
        if length == head.length:
            self._unacked.popleft()
            self._events.append(TransferAcked(head.transfer_id, head.length))
            self._check_ending_done()

    def _on_refuse(self, reason: int) -> None:
        if not self.refusal:
            raise RemoteProtocolError("REFUSE_BUNDLE but bundle refusal was not negotiated")
        if not self._unacked:
            raise RemoteProtocolError("REFUSE_BUNDLE with no bundle of ours in flight")
        head = self._unacked.popleft()
        if reason == RefuseReason.COMPLETED:  # §5.4: the receiver already has the whole bundle
            self._events.append(TransferAcked(head.transfer_id, head.length))
        else:
            self._events.append(TransferRefused(head.transfer_id, reason))
        self._check_ending_done()

    def _on_shutdown(self, reason: int | None, delay: int | None) -> None:
        self._events.append(ShutdownReceived(reason, delay))
        if self._state is State.ESTABLISHED:
            self._queue(m.encode(m.Shutdown()))
        clean = self._in is None and not self._unacked
        self._close(clean=clean, reason=reason, error=None)

    # -- acks in order -------------------------------------------------------------------------------------------
    def _decide(self, transfer_id: int, refuse_reason: int | None, now_s: float | None) -> bytes:
        self._tick(now_s)
        if not self.acks or self._state is State.CLOSED:
            if refuse_reason == RefuseReason.NO_RESOURCES and self._state is not State.CLOSED:
                self._queue(m.encode(m.Shutdown(ShutdownReason.BUSY)))
                self._close(clean=False, reason=ShutdownReason.BUSY, error=None)
            return self.data_to_send()
        for item in self._ack_queue:
            if isinstance(item, list) and item[0] == transfer_id and item[2] == "held":
                if refuse_reason is None or not self.refusal:
                    if refuse_reason == RefuseReason.NO_RESOURCES:
                        self._queue(m.encode(m.Shutdown(ShutdownReason.BUSY)))
                        self._close(clean=False, reason=ShutdownReason.BUSY, error=None)
                        return self.data_to_send()
                    item[2] = m.encode(m.AckSegment(item[1]))
                else:
                    item[2] = m.encode(m.RefuseBundle(refuse_reason))
                break
        else:
            raise LocalProtocolError(f"no received transfer {transfer_id} awaits a decision")
        self._flush_acks()
        return self.data_to_send()

    def _flush_acks(self) -> None:
        while self._ack_queue:
            head = self._ack_queue[0]
            if isinstance(head, list):
                if head[2] == "held":
                    return
                self._queue(head[2])
            else:
                self._queue(head)
            self._ack_queue.popleft()

    # -- helpers -------------------------------------------------------------------------------------------------
    def _tick(self, now_s: float | None) -> None:
        if now_s is not None:
            self._now = now_s

    def _queue(self, data: bytes) -> None:
        self._out.append(data)

    def _check_ending_done(self) -> None:
        pass  # the peer's SHUTDOWN (or the timer) ends an ENDING session

    def _fail(self, error: str) -> None:
        if self._state is not State.CONTACT or self._started:
            self._queue(m.encode(m.Shutdown()))
        self._close(clean=False, error=error)

    def _close(self, *, clean: bool, reason: int | None = None, error: str | None) -> None:
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        self._buf = bytearray()
        self._in = None
        for out in self._unacked:
            self._events.append(TransferRefused(out.transfer_id, RefuseReason.UNKNOWN))
        self._unacked.clear()
        self._events.append(SessionEnded(clean, reason, error))


__all__ = [
    "TcpclV3Config",
    "Session",
    "State",
    "TRANSITIONS",
    "SessionEstablished",
    "TransferReceived",
    "AckReceived",
    "TransferAcked",
    "TransferRefused",
    "IncomingTransferRefused",
    "LengthReceived",
    "KeepaliveReceived",
    "ShutdownReceived",
    "SessionEnded",
    "Event",
]
