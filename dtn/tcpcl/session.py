"""The TCPCLv4 session, RFC 9174 (sans-IO: bytes in, events and bytes out, time as an argument).

    session = Session(config, role=Role.ACTIVE, now_s=0.0)
    out = session.send(ContactHeader(can_tls=config.can_tls))   # or session.start()
    session.receive_data(chunk, now_s=t)                        # any chunking; never blocks
    for event in session.events(): ...
    out = session.data_to_send()                                # acks, replies, keepalives, SESS_TERM
    session.timer_deadline_s(); session.handle_timer(now_s)

The parts: `reader.Reader` turns received bytes into message objects (the mirror of `messages.encode`);
`table` holds every state, which handler each received message runs in each state (`TRANSITIONS`), what
moves the session from state to state (`NEXT_STATE`) and what we may send (`SENDABLE`); `handlers` are the
receive handlers; `transfers` the bookkeeping of a transfer each way. This module is the sending half and the
glue. A peer violation that ends the session raises `RemoteProtocolError` whose `reason_code` is the SESS_TERM
reason we sent (or would have sent, when the RFC says to just close the connection); the bytes to flush before
closing are in `data_to_send()`. Lesser violations are answered on the wire (MSG_REJECT, XFER_REFUSE) and the
session goes on. Our own misuse raises `LocalProtocolError`.

Memory is bounded by the configuration: segment data goes into the transfer as it arrives (never re-buffered),
a partial message header is at most `max_extension_items_bytes` + 65 KiB, and received transfer bytes held at
once are capped by `max_buffered_bytes`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from dtn.errors import LocalProtocolError, RemoteProtocolError

from . import events as ev
from . import handlers
from .config import Role, TcpclConfig
from .messages import (
    U64_MAX,
    ContactHeader,
    ExtensionItem,
    Keepalive,
    Message,
    MessageType,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermReason,
    TransferExtensionType,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    encode,
    encode_segment_header,
    enum_or_int,
    transfer_length_item,
)
from .reader import NEED_DATA, ReadError, Reader, SegmentData, SegmentHeader, UnknownMessage, parse_extension_items
from .table import CONTACT_HEADER, NEXT_STATE, SENDABLE, TRANSITIONS, State
from .transfers import IncomingTransfer, OutgoingTransfer, ReceivedTransfer

_ACK_MESSAGE = struct.Struct("!BBQQ")
_START = int(XferSegmentFlag.START)
_END = int(XferSegmentFlag.END)


class Session:
    """One TCPCLv4 session, either side (RFC 9174). See the module docstring for the calling pattern."""

    def __init__(self, config: TcpclConfig, role: Role = Role.ACTIVE, now_s: float = 0.0) -> None:
        if not isinstance(config, TcpclConfig):
            raise LocalProtocolError("config must be a TcpclConfig")
        self.config = config
        self.role = Role(role)
        self._now_s = float(now_s)
        self._state = State.CONTACT
        self._events: list[ev.Event] = []
        self._outbox: list[bytes] = []
        self._reader = Reader(
            segment_mru_bytes=config.segment_mru_bytes, max_extension_items_bytes=config.max_extension_items_bytes
        )
        self.can_tls = config.can_tls
        self.contact_sent = False
        self.refuse_after_contact: int | None = None
        self._init_deadline_s = self._now_s + config.session_init_timeout_s
        self.tls = False
        self.peer_cert_node_ids: frozenset[str] | None = None
        self.peer_node_id: str | None = None
        self.keepalive_s = 0
        self.peer_segment_mru_bytes = 0
        self.peer_transfer_mru_bytes = 0
        self._last_rx_s = self._last_tx_s = self._last_activity_s = self._now_s
        # SESS_TERM bookkeeping (RFC 9174 §6.1)
        self.term_sent = False
        self.term_received = False
        self.term_reason: int | None = None
        self._ending_deadline_s: float | None = None
        # incoming: the segment whose data is arriving, the transfer it belongs to, completed transfers
        self.segment: SegmentHeader | None = None
        self.keep_segment = False  # the current segment's data goes into `incoming`
        self.incoming: IncomingTransfer | None = None
        self.last_incoming_tid: int | None = None
        self.pending: dict[int, ReceivedTransfer] = {}  # awaiting accept_transfer / refuse_transfer
        self.pending_bytes = 0
        # outgoing transfers
        self.next_outgoing_tid = 0
        self.outgoing: dict[int, OutgoingTransfer] = {}
        self.sending_tid: int | None = None

    # ----------------------------------------------------------------------------------------------- state
    @property
    def state(self) -> State:
        return self._state

    @property
    def established(self) -> bool:
        return self._state is State.ESTABLISHED

    @property
    def ending(self) -> bool:
        return self._state is State.ENDING

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def buffered_bytes(self) -> int:
        """Received transfer bytes held now (partial transfer + transfers awaiting accept/refuse)."""
        incoming = self.incoming
        return (incoming.received_bytes if incoming is not None else 0) + self.pending_bytes

    @property
    def sending(self) -> bool:
        """True while an outgoing transfer still has segments to send (a new one must wait)."""
        return self.sending_tid is not None

    @property
    def has_output(self) -> bool:
        """True when `events()` or `data_to_send()` has something. When False, `timer_deadline_s()` has not
        moved earlier either (deadlines only move earlier together with an event or bytes to send), so an
        adapter may skip all three."""
        return bool(self._events or self._outbox)

    def events(self) -> list[ev.Event]:
        """Events since the last call, in wire order."""
        out, self._events = self._events, []
        return out

    def data_to_send(self) -> bytes:
        """Bytes queued by the machine (replies, acks, keepalives, SESS_TERM) since the last call."""
        if not self._outbox:
            return b""
        out = b"".join(self._outbox)
        self._outbox.clear()
        return out

    def take_trailing_data(self) -> bytes:
        """Bytes received after the peer's contact header when TLS starts (they belong to the TLS stream)."""
        return self._reader.take_buffered()

    def move(self, trigger: str) -> None:
        """Apply `trigger` through `table.NEXT_STATE` (the only place the state changes)."""
        try:
            state = NEXT_STATE[(self._state, trigger)]
        except KeyError:
            raise LocalProtocolError(f"no transition from {self._state.value} on {trigger!r}") from None
        if state is State.ENDING and self._state is not State.ENDING:
            self._ending_deadline_s = self._now_s + self.config.term_timeout_s
        self._state = state

    # ------------------------------------------------------------------------------------------------ time
    def timer_deadline_s(self) -> float | None:
        """The next time `handle_timer` has work (SESS_INIT wait, keepalive, idle, SESS_TERM wait), or None."""
        state = self._state
        if state in (State.CONTACT, State.TLS, State.SESS_INIT):
            return self._init_deadline_s
        deadlines = []
        if state is State.ESTABLISHED:
            if self.keepalive_s:
                deadlines.append(self._last_tx_s + self.keepalive_s)
                deadlines.append(self._last_rx_s + 2 * self.keepalive_s)
            if self.config.idle_timeout_s is not None:
                deadlines.append(self._last_activity_s + self.config.idle_timeout_s)
        elif state is State.ENDING:
            if self.keepalive_s:
                deadlines.append(self._last_tx_s + self.keepalive_s)
            if self._ending_deadline_s is not None:
                deadlines.append(self._ending_deadline_s)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now_s: float) -> None:
        """Act on every timer due at `now_s` (RFC 9174 §5.1.1 keepalive, §6.2 idle, SESS_INIT wait)."""
        self._now_s = max(self._now_s, float(now_s))
        now = self._now_s
        state = self._state
        if state is State.CLOSED:
            return
        if state in (State.CONTACT, State.TLS, State.SESS_INIT):
            if now >= self._init_deadline_s:
                if state is State.SESS_INIT or (state is State.CONTACT and self.contact_sent):
                    self.queue(SessTerm(SessTermReason.CONTACT_FAILURE))
                self._close(SessTermReason.CONTACT_FAILURE, clean=False)
            return
        if state is State.ENDING:
            if self._ending_deadline_s is not None and now >= self._ending_deadline_s:
                self._close(self.term_reason, clean=False)
                return
        elif state is State.ESTABLISHED:
            if self.keepalive_s and now >= self._last_rx_s + 2 * self.keepalive_s:
                self.terminate(SessTermReason.IDLE_TIMEOUT)
            elif self.config.idle_timeout_s is not None and now >= self._last_activity_s + self.config.idle_timeout_s:
                self.terminate(SessTermReason.IDLE_TIMEOUT)
        if self._state is not State.CLOSED and self.keepalive_s and now >= self._last_tx_s + self.keepalive_s:
            self.queue(Keepalive())

    # --------------------------------------------------------------------------------------------- sending
    def start(self, now_s: float | None = None) -> bytes:
        """Active entity: send our contact header (RFC 9174 §4.1). Passive entity: nothing (it answers)."""
        self._tick(now_s)
        if self.role is Role.ACTIVE and not self.contact_sent:
            self.send_contact_header()
        return self.data_to_send()

    def send(self, msg: Message, now_s: float | None = None) -> bytes:
        """Send one message (checked against `SENDABLE` and the session's state); returns all bytes to write."""
        self._tick(now_s)
        if type(msg) not in SENDABLE[self._state]:
            raise LocalProtocolError(f"cannot send {type(msg).__name__} in state {self._state.value}")
        if isinstance(msg, ContactHeader):
            if self.role is not Role.ACTIVE or self.contact_sent:
                raise LocalProtocolError("only the active entity sends its contact header first, once")
            self.can_tls = bool(msg.can_tls)
            self.send_contact_header()
        elif isinstance(msg, SessTerm):
            return self.close(msg.reason)
        elif isinstance(msg, (Keepalive, MsgReject)):
            self.queue(msg)
        elif isinstance(msg, XferAck):
            pending = self.pending.get(msg.transfer_id)
            if pending is None or msg.acked_length_bytes != pending.length_bytes:
                raise LocalProtocolError("XFER_ACK must acknowledge a whole received transfer (use accept_transfer)")
            return self.accept_transfer(msg.transfer_id)
        elif isinstance(msg, XferRefuse):
            return self.refuse_transfer(msg.transfer_id, msg.reason)
        elif isinstance(msg, XferSegment):
            self._send_raw_segment(msg)
        return self.data_to_send()

    def close(self, reason: int = SessTermReason.UNKNOWN, now_s: float | None = None) -> bytes:
        """Start clean termination with SESS_TERM (RFC 9174 §6.1); no new transfers after this."""
        self._tick(now_s)
        if self._state is State.CLOSED or self.term_sent:
            return self.data_to_send()
        if self._state is State.CONTACT and not self.contact_sent and self.role is Role.PASSIVE:
            # RFC 9174 §6.1: a passive entity may refuse right after its contact header (e.g. BUSY).
            self.refuse_after_contact = reason
            return self.data_to_send()
        if self._state is State.TLS or (self._state is State.CONTACT and not self.contact_sent):
            # A SESS_TERM must follow our contact header and cannot be sent mid-handshake: just close.
            self._close(reason, clean=False)
            return self.data_to_send()
        self.terminate(reason)
        return self.data_to_send()

    def tls_established(self, peer_cert_node_ids: Iterable[str] | None = None, now_s: float | None = None) -> bytes:
        """The adapter finished the TLS handshake; `peer_cert_node_ids` are the Node IDs the peer's certificate
        names (RFC 9174 §4.4.1), None when it presented none. Sends our SESS_INIT."""
        self._tick(now_s)
        if self._state is not State.TLS:
            raise LocalProtocolError(f"no TLS handshake in progress (state {self._state.value})")
        self.peer_cert_node_ids = None if peer_cert_node_ids is None else frozenset(peer_cert_node_ids)
        self._reader.resume()
        self.send_sess_init()
        return self.data_to_send()

    def begin_transfer(
        self,
        data: bytes,
        extensions: Iterable[ExtensionItem] = (),
        *,
        include_length: bool = True,
        now_s: float | None = None,
    ) -> int:
        """Start an outgoing transfer of `data` (RFC 9174 §5.2); returns its transfer ID. Pull its segments
        with `next_segment(transfer_id)` / `transfer_segments(transfer_id)`."""
        self._tick(now_s)
        if self._state is not State.ESTABLISHED:
            raise LocalProtocolError(f"cannot begin a transfer in state {self._state.value}")
        if self.sending_tid is not None:
            raise LocalProtocolError("the previous transfer still has segments to send")
        view = memoryview(data).cast("B")
        if len(view) > self.peer_transfer_mru_bytes:
            raise LocalProtocolError(
                f"transfer of {len(view)} bytes exceeds the peer's transfer MRU of {self.peer_transfer_mru_bytes} bytes",
                reason_code=XferRefuseReason.NO_RESOURCES,
            )
        tid = self._allocate_transfer_id()
        items = tuple(extensions)
        if include_length and not any(i.item_type == TransferExtensionType.TRANSFER_LENGTH for i in items):
            items = (transfer_length_item(len(view)),) + items
        self.outgoing[tid] = OutgoingTransfer(view, items, total_bytes=len(view))
        self.sending_tid = tid
        return tid

    def next_segment(self, transfer_id: int, now_s: float | None = None) -> bytes | None:
        """The next XFER_SEGMENT message of an outgoing transfer, or None when all are sent or the transfer
        was refused or the session closed. Segments are at most min(peer segment MRU, send_segment_bytes)."""
        parts = self.next_segment_parts(transfer_id, now_s)
        return None if parts is None else parts[0] + parts[1]

    def next_segment_parts(self, transfer_id: int, now_s: float | None = None) -> tuple[bytes, memoryview] | None:
        """`next_segment` as (message header, data view), so the data is not copied into a message first."""
        self._tick(now_s)
        out = self.outgoing.get(transfer_id)
        if out is None or out.raw or out.finished_sending or self._state is State.CLOSED:
            if self.sending_tid == transfer_id:
                self.sending_tid = None
            return None
        size = min(self.peer_segment_mru_bytes, self.config.send_segment_bytes)
        start, end = out.sent_bytes, min(len(out.data), out.sent_bytes + size)
        flags = 0
        if not out.started:
            flags |= _START
            out.started = True
        if end == len(out.data):
            flags |= _END
            out.finished_sending = True
            self.sending_tid = None
        out.sent_bytes = end
        header = encode_segment_header(transfer_id, flags, end - start, out.extensions)
        self.note_sent(MessageType.XFER_SEGMENT)
        return header, out.data[start:end]

    def transfer_segments(self, transfer_id: int) -> Iterator[bytes]:
        """Every remaining XFER_SEGMENT of a transfer; stops early if the peer refuses it."""
        while (segment := self.next_segment(transfer_id)) is not None:
            yield segment

    def send_transfer(
        self, data: bytes, extensions: Iterable[ExtensionItem] = (), now_s: float | None = None
    ) -> tuple[int, bytes]:
        """Convenience: begin a transfer and return (transfer ID, all its segments plus queued bytes)."""
        tid = self.begin_transfer(data, extensions, now_s=now_s)
        return tid, self.data_to_send() + b"".join(self.transfer_segments(tid))

    def accept_transfer(self, transfer_id: int, now_s: float | None = None) -> bytes:
        """The node stored the received transfer durably: send its final XFER_ACK (RFC 9174 §5.2.3)."""
        self._tick(now_s)
        if self._state is State.CLOSED:
            return b""
        pending = self.pending.pop(transfer_id, None)
        if pending is None:
            raise LocalProtocolError(f"no received transfer {transfer_id} awaits acknowledgement")
        self.pending_bytes -= pending.length_bytes
        self.queue_ack(transfer_id, pending.length_bytes, pending.flags)
        self.check_ending_done()
        return self.data_to_send()

    def refuse_transfer(
        self, transfer_id: int, reason: int = XferRefuseReason.NO_RESOURCES, now_s: float | None = None
    ) -> bytes:
        """Refuse a received (or still arriving) transfer with XFER_REFUSE (RFC 9174 §5.2.4)."""
        self._tick(now_s)
        if self._state is State.CLOSED:
            return b""
        pending = self.pending.pop(transfer_id, None)
        incoming = self.incoming
        if pending is not None:
            self.pending_bytes -= pending.length_bytes
            self.queue(XferRefuse(transfer_id, reason))
        elif incoming is not None and transfer_id == incoming.transfer_id and not incoming.refused:
            self.refuse_incoming(reason, emit=False)
        else:
            raise LocalProtocolError(f"no received transfer {transfer_id} to refuse")
        self.check_ending_done()
        return self.data_to_send()

    # ------------------------------------------------------------------------------------------- receiving
    def receive_data(self, data: bytes, now_s: float | None = None) -> None:
        """Feed received bytes (any bytes-like, any chunking); b"" means the peer closed the connection."""
        self._tick(now_s)
        if self.role is Role.ACTIVE and not self.contact_sent:
            raise LocalProtocolError("the active entity must send its contact header before receiving")
        if self._state is State.CLOSED:
            return
        if not data:
            self._on_eof()
            return
        reader = self._reader
        reader.feed(data)
        try:
            while self._state is not State.CLOSED:
                item = reader.next_item()
                if item is NEED_DATA:
                    return
                self._handle(item)
        except ReadError as exc:
            self.fail(str(exc), exc.reason_code, send_term=exc.send_term)

    def _handle(self, item) -> None:
        kind = type(item)
        if kind is SegmentData:
            handlers.on_segment_data(self, item)
            return
        if kind is ContactHeader:
            if self._state is not State.CONTACT:
                # We ended the session before the peer's contact header came (an active entity's close()).
                self.emit(ev.ContactHeaderReceived(item.version, item.can_tls))
                return
            CONTACT_HEADER(self, item)
            if self._state is State.TLS:
                self._reader.pause()
            return
        if kind is UnknownMessage:
            # RFC 9174 §4.5: unknown type -> MSG_REJECT(Message Type Unknown) and close the TCP connection (its
            # length is unknown, so nothing after it can be parsed).
            self.queue(MsgReject(MsgRejectReason.MESSAGE_TYPE_UNKNOWN, item.type_code))
            self.fail(f"unknown message type 0x{item.type_code:02x}", SessTermReason.UNKNOWN, send_term=False)
        mtype = handlers.message_type(item)
        handler = TRANSITIONS[self._state].get(mtype, handlers.reject_unexpected)  # IntEnum keys hash as ints
        if kind is SegmentHeader:
            self.segment = item
            self.keep_segment = False
            handler(self, item)
            return  # noted as received when its last byte is (handlers.finish_segment)
        self.note_received(mtype)
        handler(self, item)

    # ------------------------------------------------------------ used by the handlers (dtn.tcpcl.handlers)
    def emit(self, event: ev.Event) -> None:
        self._events.append(event)

    def queue(self, msg: Message) -> None:
        self._outbox.append(encode(msg))
        if not isinstance(msg, ContactHeader):
            self.note_sent(_MESSAGE_TYPES[type(msg)])

    def queue_ack(self, tid: int, length_bytes: int, flags: int) -> None:
        """XFER_ACK on the hot path, packed directly (RFC 9174 §5.2.3)."""
        self._outbox.append(_ACK_MESSAGE.pack(MessageType.XFER_ACK, flags, tid, length_bytes))
        self._last_tx_s = self._last_activity_s = self._now_s

    def reject(self, reason: MsgRejectReason, mtype: int) -> None:
        self.queue(MsgReject(reason, mtype))

    def note_sent(self, mtype: int) -> None:
        self._last_tx_s = self._now_s
        if mtype != MessageType.KEEPALIVE:
            self._last_activity_s = self._now_s

    def note_received(self, mtype: int) -> None:
        self._last_rx_s = self._now_s
        if mtype != MessageType.KEEPALIVE:
            self._last_activity_s = self._now_s

    def note_established(self) -> None:
        self._last_rx_s = self._last_tx_s = self._last_activity_s = self._now_s

    def send_contact_header(self) -> None:
        self._outbox.append(encode(ContactHeader(can_tls=self.can_tls)))
        self.contact_sent = True

    def send_sess_init(self) -> None:
        c = self.config
        self.queue(SessInit(c.keepalive_s, c.segment_mru_bytes, c.transfer_mru_bytes, c.node_id, c.session_extensions))
        self.move("sess_init_sent")

    def refuse_incoming(self, reason: XferRefuseReason, *, emit: bool = True) -> None:
        incoming = self.incoming
        incoming.refuse()
        self.keep_segment = False
        self.queue(XferRefuse(incoming.transfer_id, reason))
        if emit:
            self.emit(ev.IncomingTransferRefused(incoming.transfer_id, reason))

    def terminate(self, reason: int) -> None:
        self.queue(SessTerm(reason))
        self.term_sent = True
        if self.term_reason is None:
            self.term_reason = enum_or_int(SessTermReason, reason)
        self.move("terminating")
        self.check_ending_done()

    def check_ending_done(self) -> None:
        incoming = self.incoming
        if (
            self._state is State.ENDING
            and self.term_sent
            and self.term_received
            and (incoming is None or incoming.refused)
            and not self.pending
            and not self.outgoing
        ):
            self._close(self.term_reason, clean=True)

    def fail(self, message: str, reason: SessTermReason, *, send_term: bool = True) -> None:
        """A peer violation that ends the session: queue SESS_TERM (when allowed) and raise."""
        if send_term and self.contact_sent and self._state not in (State.TLS, State.CLOSED) and not self.term_sent:
            self.queue(SessTerm(reason))
            self.term_sent = True
        self._close(reason, clean=False)
        raise RemoteProtocolError(message, reason_code=reason)

    # ------------------------------------------------------------------------------------------ helpers
    def _tick(self, now_s: float | None) -> None:
        if now_s is not None:
            self._now_s = max(self._now_s, float(now_s))

    def _allocate_transfer_id(self) -> int:
        tid = self.next_outgoing_tid
        if tid > U64_MAX:
            # RFC 9174 §5.2.1: transfer IDs are exhausted, the session must end.
            self.terminate(SessTermReason.RESOURCE_EXHAUSTION)
            raise LocalProtocolError("transfer IDs exhausted", reason_code=SessTermReason.RESOURCE_EXHAUSTION)
        self.next_outgoing_tid = tid + 1
        return tid

    def _send_raw_segment(self, msg: XferSegment) -> None:
        flags = int(msg.flags) & 0x03
        if len(msg.data) > self.peer_segment_mru_bytes:
            raise LocalProtocolError("segment exceeds the peer's segment MRU")
        if flags & _START:
            if self._state is not State.ESTABLISHED or self.sending_tid is not None:
                raise LocalProtocolError("cannot start a transfer now")
            if msg.transfer_id != self.next_outgoing_tid:
                raise LocalProtocolError(f"the next transfer ID is {self.next_outgoing_tid}")
            self._allocate_transfer_id()
            out = OutgoingTransfer(memoryview(b""), msg.extensions, raw=True, started=True)
            self.outgoing[msg.transfer_id] = out
            self.sending_tid = msg.transfer_id
        else:
            out = self.outgoing.get(msg.transfer_id)
            if out is None or not out.raw or self.sending_tid != msg.transfer_id:
                raise LocalProtocolError(f"transfer {msg.transfer_id} is not being sent")
        out.sent_bytes += len(msg.data)
        out.total_bytes = out.sent_bytes
        if flags & _END:
            out.finished_sending = True
            self.sending_tid = None
        self._outbox.append(encode(msg))
        self.note_sent(MessageType.XFER_SEGMENT)

    def _close(self, reason: int | None, *, clean: bool) -> None:
        if self._state is State.CLOSED:
            return
        self.move("closed")
        self.segment = None
        self.incoming = None
        self._reader = Reader(segment_mru_bytes=0, max_extension_items_bytes=0)  # drop what was buffered
        self.emit(ev.SessionEnded(reason, clean))

    def _on_eof(self) -> None:
        clean = self.term_sent and self.term_received and not self.pending and not self.outgoing
        self._close(self.term_reason, clean=clean)


_MESSAGE_TYPES: dict[type, MessageType] = {
    SessInit: MessageType.SESS_INIT,
    XferSegment: MessageType.XFER_SEGMENT,
    XferAck: MessageType.XFER_ACK,
    XferRefuse: MessageType.XFER_REFUSE,
    Keepalive: MessageType.KEEPALIVE,
    SessTerm: MessageType.SESS_TERM,
    MsgReject: MessageType.MSG_REJECT,
}

__all__ = ["SENDABLE", "TRANSITIONS", "NEXT_STATE", "Session", "State", "parse_extension_items"]
