"""The TCPCLv4 session state machine, RFC 9174 (sans-IO: bytes in, events and bytes out, time as an argument).

    session = Session(config, role=Role.ACTIVE, now_s=0.0)
    out = session.send(ContactHeader(can_tls=config.can_tls))   # or session.start()
    session.receive_data(chunk, now_s=t)                        # any chunking; never blocks
    for event in session.events(): ...
    out = session.data_to_send()                                # acks, replies, keepalives, SESS_TERM
    session.timer_deadline_s(); session.handle_timer(now_s)

Every state and what each received message does in it is in `TRANSITIONS` below; what we may send in each
state is in `SENDABLE`. A peer violation that ends the session raises `RemoteProtocolError` whose
`reason_code` is the SESS_TERM reason we sent (or would have sent, when the RFC says to just close the
connection); the bytes to flush before closing are in `data_to_send()`. Lesser violations are answered on the
wire (MSG_REJECT, XFER_REFUSE) and the session goes on. Our own misuse raises `LocalProtocolError`.

Received bytes come in one of two ways: `receive_data(chunk)` (any bytes-like, any chunking), or the
buffer protocol (like asyncio's `BufferedProtocol`) that lets the adapter receive straight into the machine's
memory, so the data of a large transfer is written once, by the kernel, where the node will read it:

    buf = session.get_buffer(256 * 1024)        # writable memoryview
    n = sock.recv_into(buf)                     # fill a prefix of it
    session.buffer_updated(n, now_s=t)          # 0 means the peer closed the connection

Memory is bounded by the configuration: segment data streams into the transfer buffer (never re-buffered),
a partial message header is at most `max_extension_items_bytes` + 65 KiB, and received transfer bytes held
at once are capped by `max_buffered_bytes` (a transfer of at least `config.preallocate_min_bytes` that declares
its length gets a buffer of that length at its first segment, counted against the same limit).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from dtn.errors import LocalProtocolError, RemoteProtocolError

from . import events as ev
from .config import Role, TcpclConfig, _looks_like_node_id
from .messages import (
    CONTACT_HEADER_LENGTH,
    MAGIC,
    U64_MAX,
    VERSION,
    ContactFlag,
    ContactHeader,
    ExtensionItem,
    ExtensionItemFlag,
    Keepalive,
    Message,
    MessageType,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermFlag,
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


class State(Enum):
    """Session states, RFC 9174 §3.3 (Figures 4-7)."""

    CONTACT = "contact"  # waiting for the peer's contact header
    TLS = "tls"  # the adapter runs the TLS handshake (RFC 9174 §4.4); no TCPCL bytes are parsed
    SESS_INIT = "sess_init"  # our SESS_INIT sent, waiting for the peer's
    ESTABLISHED = "established"
    ENDING = "ending"  # a SESS_TERM was sent or received (RFC 9174 §6.1)
    CLOSED = "closed"


REJECT = "reject"  # answer MSG_REJECT(MESSAGE_UNEXPECTED) and go on (RFC 9174 §5.1.2); segment data is skipped

_T = MessageType
_ESTABLISHED_ROW = {
    _T.SESS_INIT: REJECT,  # RFC 9174 §5.1.2 names a second SESS_INIT as the example of "unexpected"
    _T.XFER_SEGMENT: "_on_segment_header",
    _T.XFER_ACK: "_on_xfer_ack",
    _T.XFER_REFUSE: "_on_xfer_refuse",
    _T.KEEPALIVE: "_on_keepalive",
    _T.SESS_TERM: "_on_sess_term",
    _T.MSG_REJECT: "_on_msg_reject",
}

TRANSITIONS: dict[State, dict[MessageType, str]] = {
    # CONTACT takes only the 6-byte contact header (`_on_contact_header`); TLS parses nothing.
    State.CONTACT: {},
    State.TLS: {},
    State.SESS_INIT: {
        _T.SESS_INIT: "_on_sess_init",
        _T.XFER_SEGMENT: REJECT,
        _T.XFER_ACK: REJECT,
        _T.XFER_REFUSE: REJECT,
        _T.KEEPALIVE: REJECT,
        _T.SESS_TERM: "_on_sess_term",
        _T.MSG_REJECT: "_on_msg_reject",
    },
    State.ESTABLISHED: dict(_ESTABLISHED_ROW),
    # While ending, transfers in progress may finish; a new incoming START gets XFER_REFUSE(SESSION_TERMINATING)
    # (decided in _on_segment_header).
    State.ENDING: {**_ESTABLISHED_ROW, _T.SESS_INIT: "_on_sess_init_while_ending"},
    State.CLOSED: {},
}

SENDABLE: dict[State, frozenset[type]] = {
    State.CONTACT: frozenset({ContactHeader, SessTerm}),
    State.TLS: frozenset(),
    State.SESS_INIT: frozenset({SessTerm, MsgReject}),
    State.ESTABLISHED: frozenset({XferSegment, XferAck, XferRefuse, Keepalive, SessTerm, MsgReject}),
    State.ENDING: frozenset({XferSegment, XferAck, XferRefuse, Keepalive, SessTerm, MsgReject}),
    State.CLOSED: frozenset(),
}

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_SESS_INIT_FIXED = struct.Struct("!HQQH")
_ACK_BODY = struct.Struct("!BQQ")
_REFUSE_BODY = struct.Struct("!BQ")
_ITEM_HEADER = struct.Struct("!BHH")
_ACK_MESSAGE = struct.Struct("!BBQQ")
_START = int(XferSegmentFlag.START)  # plain ints on the per-segment path: IntFlag arithmetic is slow
_END = int(XferSegmentFlag.END)
_SESS_INIT_FIXED_LENGTH = 1 + _SESS_INIT_FIXED.size

SPARE_BUFFERS_MAX_BYTES = 16 * 1024 * 1024
"""At most this many bytes of delivered transfer buffers handed back with `recycle_buffer` are kept for reuse."""


def parse_extension_items(raw: bytes) -> tuple[ExtensionItem, ...] | None:
    """Extension items, RFC 9174 §4.8 / §5.2.5; None when the list does not parse exactly."""
    items = []
    pos = 0
    while pos < len(raw):
        if len(raw) - pos < _ITEM_HEADER.size:
            return None
        flags, item_type, length = _ITEM_HEADER.unpack_from(raw, pos)
        pos += _ITEM_HEADER.size
        if len(raw) - pos < length:
            return None
        items.append(ExtensionItem(item_type, bytes(raw[pos : pos + length]), bool(flags & ExtensionItemFlag.CRITICAL)))
        pos += length
    return tuple(items)


@dataclass(slots=True)
class _Outgoing:
    data: memoryview  # empty for a transfer sent segment by segment through send(XferSegment)
    extensions: tuple[ExtensionItem, ...]
    total_bytes: int = 0
    sent_bytes: int = 0
    acked_bytes: int = 0
    started: bool = False
    raw: bool = False  # sent segment by segment through send(XferSegment)
    finished_sending: bool = False


@dataclass(slots=True)
class _Pending:
    length_bytes: int
    flags: int


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
        self._buf = bytearray()
        self._scratch = bytearray()  # reused by get_buffer() outside transfer data
        self._lent: memoryview | None = None  # the buffer handed out by get_buffer(), until buffer_updated()
        self._lent_direct = False  # it is a view into the incoming transfer's buffer
        self._can_tls = config.can_tls
        self._contact_sent = False
        self._refuse_after_contact: int | None = None
        self._init_deadline_s = self._now_s + config.session_init_timeout_s
        self.tls = False
        self._peer_cert_node_ids: frozenset[str] | None = None
        self.peer_node_id: str | None = None
        self.keepalive_s = 0
        self.peer_segment_mru_bytes = 0
        self.peer_transfer_mru_bytes = 0
        self._last_rx_s = self._last_tx_s = self._last_activity_s = self._now_s
        # SESS_TERM bookkeeping (RFC 9174 §6.1)
        self._term_sent = False
        self._term_received = False
        self.term_reason: int | None = None
        self._ending_deadline_s: float | None = None
        # incoming transfer (one at a time: segments of transfers are never interleaved, RFC 9174 §5.2.2)
        self._seg_remaining: int | None = None
        self._seg_accept = False
        self._seg_flags = 0
        self._seg_tid = 0
        self._seg_length = 0
        self._in_tid: int | None = None
        self._in_refused = False
        self._in_parts: list[bytes] = []  # the transfer's data, kept as received (joined once at END)
        self._in_buffer: bytearray | None = None  # or, for a large declared transfer, written in place
        self._spares: list[bytearray] = []  # delivered buffers the node is done with (recycle_buffer)
        self._in_bytes = 0
        self._in_items: tuple[ExtensionItem, ...] = ()
        self._in_declared_bytes: int | None = None
        self._last_in_tid: int | None = None
        self._pending: dict[int, _Pending] = {}
        self._pending_bytes = 0
        # outgoing transfers
        self._next_out_tid = 0
        self._out: dict[int, _Outgoing] = {}
        self._sending_tid: int | None = None

    # ----------------------------------------------------------------------------------------------- state
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
        """Received transfer bytes held now (partial transfer + transfers awaiting accept/refuse)."""
        return self._in_bytes + self._pending_bytes

    @property
    def sending(self) -> bool:
        """True while an outgoing transfer still has segments to send (a new one must wait)."""
        return self._sending_tid is not None

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
        out = bytes(self._buf)
        self._buf = bytearray()
        return out

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
                if state is State.SESS_INIT or (state is State.CONTACT and self._contact_sent):
                    self._queue(SessTerm(SessTermReason.CONTACT_FAILURE))
                self._close(SessTermReason.CONTACT_FAILURE, clean=False)
            return
        if state is State.ENDING:
            if self._ending_deadline_s is not None and now >= self._ending_deadline_s:
                self._close(self.term_reason, clean=False)
                return
        elif state is State.ESTABLISHED:
            if self.keepalive_s and now >= self._last_rx_s + 2 * self.keepalive_s:
                self._terminate(SessTermReason.IDLE_TIMEOUT)
            elif self.config.idle_timeout_s is not None and now >= self._last_activity_s + self.config.idle_timeout_s:
                self._terminate(SessTermReason.IDLE_TIMEOUT)
        if self._state is not State.CLOSED and self.keepalive_s and now >= self._last_tx_s + self.keepalive_s:
            self._queue(Keepalive())

    # --------------------------------------------------------------------------------------------- sending
    def start(self, now_s: float | None = None) -> bytes:
        """Active entity: send our contact header (RFC 9174 §4.1). Passive entity: nothing (it answers)."""
        self._tick(now_s)
        if self.role is Role.ACTIVE and not self._contact_sent:
            self._send_contact_header()
        return self.data_to_send()

    def send(self, msg: Message, now_s: float | None = None) -> bytes:
        """Send one message (checked against `SENDABLE` and the session's state); returns all bytes to write."""
        self._tick(now_s)
        if type(msg) not in SENDABLE[self._state]:
            raise LocalProtocolError(f"cannot send {type(msg).__name__} in state {self._state.value}")
        if isinstance(msg, ContactHeader):
            if self.role is not Role.ACTIVE or self._contact_sent:
                raise LocalProtocolError("only the active entity sends its contact header first, once")
            self._can_tls = bool(msg.can_tls)
            self._send_contact_header()
        elif isinstance(msg, SessTerm):
            return self.close(msg.reason)
        elif isinstance(msg, Keepalive):
            self._queue(msg)
        elif isinstance(msg, MsgReject):
            self._queue(msg)
        elif isinstance(msg, XferAck):
            pending = self._pending.get(msg.transfer_id)
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
        if self._state is State.CLOSED or self._term_sent:
            return self.data_to_send()
        if self._state is State.CONTACT and not self._contact_sent and self.role is Role.PASSIVE:
            # RFC 9174 §6.1: a passive entity may refuse right after its contact header (e.g. BUSY).
            self._refuse_after_contact = reason
            return self.data_to_send()
        if self._state is State.TLS or (self._state is State.CONTACT and not self._contact_sent):
            # A SESS_TERM must follow our contact header and cannot be sent mid-handshake: just close.
            self._close(reason, clean=False)
            return self.data_to_send()
        self._terminate(reason)
        return self.data_to_send()

    def tls_established(self, peer_cert_node_ids: Iterable[str] | None = None, now_s: float | None = None) -> bytes:
        """The adapter finished the TLS handshake; `peer_cert_node_ids` are the Node IDs the peer's certificate
        names (RFC 9174 §4.4.1), None when it presented none. Sends our SESS_INIT."""
        self._tick(now_s)
        if self._state is not State.TLS:
            raise LocalProtocolError(f"no TLS handshake in progress (state {self._state.value})")
        self._peer_cert_node_ids = None if peer_cert_node_ids is None else frozenset(peer_cert_node_ids)
        self._buf = bytearray()
        self._send_sess_init()
        return self.data_to_send()

    def begin_transfer(
        self, data: bytes, extensions: Iterable[ExtensionItem] = (), *, include_length: bool = True,
        now_s: float | None = None,
    ) -> int:
        """Start an outgoing transfer of `data` (RFC 9174 §5.2); returns its transfer ID. Pull its segments
        with `next_segment(transfer_id)` / `transfer_segments(transfer_id)`."""
        self._tick(now_s)
        if self._state is not State.ESTABLISHED:
            raise LocalProtocolError(f"cannot begin a transfer in state {self._state.value}")
        if self._sending_tid is not None:
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
        self._out[tid] = _Outgoing(view, items, total_bytes=len(view))
        self._sending_tid = tid
        return tid

    def next_segment(self, transfer_id: int, now_s: float | None = None) -> bytes | None:
        """The next XFER_SEGMENT message of an outgoing transfer, or None when all are sent or the transfer
        was refused or the session closed. Segments are at most min(peer segment MRU, send_segment_bytes)."""
        parts = self.next_segment_parts(transfer_id, now_s)
        return None if parts is None else parts[0] + parts[1]

    def next_segment_parts(self, transfer_id: int, now_s: float | None = None) -> tuple[bytes, memoryview] | None:
        """`next_segment` as (message header, data view) so an adapter can write both with one writev
        without copying the data."""
        self._tick(now_s)
        out = self._out.get(transfer_id)
        if out is None or out.raw or out.finished_sending or self._state is State.CLOSED:
            if self._sending_tid == transfer_id:
                self._sending_tid = None
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
            self._sending_tid = None
        out.sent_bytes = end
        header = encode_segment_header(transfer_id, flags, end - start, out.extensions)
        self._note_sent(MessageType.XFER_SEGMENT)
        return header, out.data[start:end]

    def transfer_segments(self, transfer_id: int) -> Iterator[bytes]:
        """Every remaining XFER_SEGMENT of a transfer; stops early if the peer refuses it."""
        while (segment := self.next_segment(transfer_id)) is not None:
            yield segment

    def send_transfer(self, data: bytes, extensions: Iterable[ExtensionItem] = (), now_s: float | None = None) -> tuple[int, bytes]:
        """Convenience: begin a transfer and return (transfer ID, all its segments plus queued bytes)."""
        tid = self.begin_transfer(data, extensions, now_s=now_s)
        return tid, self.data_to_send() + b"".join(self.transfer_segments(tid))

    def accept_transfer(self, transfer_id: int, now_s: float | None = None) -> bytes:
        """The node stored the received transfer durably: send its final XFER_ACK (RFC 9174 §5.2.3)."""
        self._tick(now_s)
        if self._state is State.CLOSED:
            return b""
        pending = self._pending.pop(transfer_id, None)
        if pending is None:
            raise LocalProtocolError(f"no received transfer {transfer_id} awaits acknowledgement")
        self._pending_bytes -= pending.length_bytes
        self._queue_ack(transfer_id, pending.length_bytes, pending.flags)
        self._check_ending_done()
        return self.data_to_send()

    def refuse_transfer(
        self, transfer_id: int, reason: int = XferRefuseReason.NO_RESOURCES, now_s: float | None = None
    ) -> bytes:
        """Refuse a received (or still arriving) transfer with XFER_REFUSE (RFC 9174 §5.2.4)."""
        self._tick(now_s)
        if self._state is State.CLOSED:
            return b""
        pending = self._pending.pop(transfer_id, None)
        if pending is not None:
            self._pending_bytes -= pending.length_bytes
            self._queue(XferRefuse(transfer_id, reason))
        elif transfer_id == self._in_tid and not self._in_refused:
            self._refuse_incoming(reason, emit=False)
        else:
            raise LocalProtocolError(f"no received transfer {transfer_id} to refuse")
        self._check_ending_done()
        return self.data_to_send()

    # ------------------------------------------------------------------------------------------- receiving
    def receive_data(self, data: bytes, now_s: float | None = None) -> None:
        """Feed received bytes (any bytes-like, any chunking); b"" means the peer closed the connection."""
        self._tick(now_s)
        if self.role is Role.ACTIVE and not self._contact_sent:
            raise LocalProtocolError("the active entity must send its contact header before receiving")
        if self._state is State.CLOSED:
            return
        if not data:
            self._on_eof()
            return
        self._receive(data)

    def get_buffer(self, size_hint_bytes: int) -> memoryview:
        """A writable buffer for the next received bytes: fill a prefix of it (e.g. `socket.recv_into`), then
        call `buffer_updated(nbytes)` before calling anything else that receives.

        Inside the data of a large transfer this is a view into the transfer's own buffer (at most the rest
        of the segment), so those bytes are never copied again; otherwise it is a reused scratch buffer whose
        bytes the machine copies as it needs them. Either way at most `size_hint_bytes` (at least 1) long.
        """
        if self.role is Role.ACTIVE and not self._contact_sent:
            raise LocalProtocolError("the active entity must send its contact header before receiving")
        remaining = self._seg_remaining
        if remaining and self._seg_accept and self._in_buffer is not None and self._state is not State.CLOSED:
            start = self._in_bytes
            self._lent = memoryview(self._in_buffer)[start : start + min(remaining, max(1, size_hint_bytes))]
            self._lent_direct = True
            return self._lent
        size = max(1, int(size_hint_bytes))
        if len(self._scratch) != size:
            self._scratch = bytearray(size)
        self._lent = memoryview(self._scratch)
        self._lent_direct = False
        return self._lent

    def buffer_updated(self, nbytes: int, now_s: float | None = None) -> None:
        """`nbytes` were written at the start of the buffer from `get_buffer`; 0 means the peer closed the
        connection (like `receive_data(b"")`)."""
        lent, self._lent = self._lent, None
        if lent is None:
            raise LocalProtocolError("buffer_updated() without a buffer from get_buffer()")
        if not isinstance(nbytes, int) or not 0 <= nbytes <= len(lent):
            raise LocalProtocolError(f"buffer_updated({nbytes!r}) outside 0..{len(lent)}")
        self._tick(now_s)
        if self._state is State.CLOSED:
            return
        if nbytes == 0:
            self._on_eof()
            return
        if not self._lent_direct:
            self._receive(lent[:nbytes])
            return
        # The bytes are segment data written in place (get_buffer bounded them by the segment). The transfer
        # may have been refused meanwhile (refuse_transfer): then they are skipped like any refused data.
        if self._seg_accept and lent.obj is self._in_buffer:
            self._in_bytes += nbytes
        self._seg_remaining -= nbytes
        if self._seg_remaining == 0:
            self._finish_segment()

    def recycle_buffer(self, buffer: bytearray) -> None:
        """The node is done with a delivered transfer's `bytearray` and nothing refers to it any more: a later
        transfer may be received into it (fresh memory costs a page fault per 4 KiB, a third of the time spent
        on a large transfer). Keeps at most two, of `SPARE_BUFFERS_MAX_BYTES` in all; others are dropped."""
        if type(buffer) is not bytearray or not buffer or self._state is State.CLOSED:
            return
        if len(self._spares) < 2 and sum(map(len, self._spares)) + len(buffer) <= SPARE_BUFFERS_MAX_BYTES:
            if all(spare is not buffer for spare in self._spares) and buffer is not self._in_buffer:
                self._spares.append(buffer)

    def _new_buffer(self, size: int) -> bytearray:
        """A buffer of `size` bytes for an incoming transfer: a recycled one when one is big enough and not
        more than twice as big (shrinking it then keeps its memory), else a fresh one."""
        for i, spare in enumerate(self._spares):
            if size <= len(spare) < 2 * size:
                del self._spares[i]
                if len(spare) > size:
                    del spare[size:]
                return spare  # old bytes are overwritten: a transfer is delivered only once fully received
        return bytearray(size)

    def _receive(self, data) -> None:
        if self._state is State.TLS:
            self._buf += data
            return
        if self._buf:
            self._buf += data
            src: bytes | bytearray = self._buf
            self._buf = bytearray()
        else:
            src = data
        view = memoryview(src).cast("B")
        pos = self._consume(view)
        if pos < len(view) and self._state is not State.CLOSED:
            self._buf = bytearray(view[pos:])

    def _consume(self, view: memoryview) -> int:
        pos, n = 0, len(view)
        while pos < n and self._state is not State.CLOSED:
            remaining = self._seg_remaining
            if remaining is not None:
                take = min(remaining, n - pos)
                if self._seg_accept:
                    buffer = self._in_buffer
                    if buffer is not None:
                        buffer[self._in_bytes : self._in_bytes + take] = view[pos : pos + take]
                    # Large slices of an immutable received chunk are kept as views (joined once at END);
                    # small ones are copied, so a view never pins more than twice the data it holds.
                    elif take * 2 >= n and type(view.obj) is bytes:
                        self._in_parts.append(view[pos : pos + take])
                    else:
                        self._in_parts.append(bytes(view[pos : pos + take]))
                    self._in_bytes += take
                pos += take
                self._seg_remaining = remaining - take
                if self._seg_remaining == 0:
                    self._finish_segment()
                continue
            state = self._state
            if state is State.CONTACT:
                available = min(n - pos, CONTACT_HEADER_LENGTH)
                if bytes(view[pos : pos + min(available, 4)]) != MAGIC[: min(available, 4)]:
                    self._fail("contact header magic is not 'dtn!'", SessTermReason.CONTACT_FAILURE, send_term=False)
                if available < CONTACT_HEADER_LENGTH:
                    return pos
                version, flags = view[pos + 4], view[pos + 5]
                pos += CONTACT_HEADER_LENGTH
                self._on_contact_header(version, flags)
                continue
            if state is State.TLS:
                return pos
            new_pos = self._parse_message(view, pos)
            if new_pos < 0:
                return pos
            pos = new_pos
        return pos

    def _parse_message(self, view: memoryview, pos: int) -> int:
        """Parse one message at `pos`; -1 when more bytes are needed. Declared lengths are checked against
        the limits before waiting for them, so a partial header never grows past the limits."""
        n = len(view)
        mtype = view[pos]
        if mtype == MessageType.XFER_SEGMENT:
            if n - pos < 10:
                return -1
            flags = view[pos + 1]
            tid = _U64.unpack_from(view, pos + 2)[0]
            p = pos + 10
            items_raw = b""
            if flags & _START:
                if n - p < 4:
                    return -1
                items_length = _U32.unpack_from(view, p)[0]
                if items_length > self.config.max_extension_items_bytes:
                    self._fail(
                        f"transfer extension items of {items_length} bytes exceed the limit",
                        SessTermReason.RESOURCE_EXHAUSTION,
                    )
                if n - p - 4 < items_length + 8:
                    return -1
                items_raw = bytes(view[p + 4 : p + 4 + items_length])
                p += 4 + items_length
            elif n - p < 8:
                return -1
            length = _U64.unpack_from(view, p)[0]
            p += 8
            if length > self.config.segment_mru_bytes:
                self._fail(
                    f"segment of {length} bytes exceeds our segment MRU of {self.config.segment_mru_bytes} bytes",
                    SessTermReason.RESOURCE_EXHAUSTION,
                )
            self._seg_flags = flags & 0x03
            self._seg_tid = tid
            self._seg_length = length
            self._seg_accept = False
            action = TRANSITIONS[self._state].get(MessageType.XFER_SEGMENT, REJECT)
            if action == REJECT:
                self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, mtype)
            else:
                getattr(self, action)(self._seg_flags, tid, items_raw, length)
            self._seg_remaining = length
            if length == 0 and self._state is not State.CLOSED:
                self._finish_segment()
            return p
        if mtype == MessageType.XFER_ACK:
            if n - pos < 18:
                return -1
            self._dispatch(mtype, _ACK_BODY.unpack_from(view, pos + 1))
            return pos + 18
        if mtype == MessageType.KEEPALIVE:
            self._dispatch(mtype, ())
            return pos + 1
        if mtype == MessageType.XFER_REFUSE:
            if n - pos < 10:
                return -1
            self._dispatch(mtype, _REFUSE_BODY.unpack_from(view, pos + 1))
            return pos + 10
        if mtype == MessageType.SESS_TERM or mtype == MessageType.MSG_REJECT:
            if n - pos < 3:
                return -1
            self._dispatch(mtype, (view[pos + 1], view[pos + 2]))
            return pos + 3
        if mtype == MessageType.SESS_INIT:
            if n - pos < _SESS_INIT_FIXED_LENGTH:
                return -1
            keepalive_s, segment_mru, transfer_mru, id_length = _SESS_INIT_FIXED.unpack_from(view, pos + 1)
            p = pos + _SESS_INIT_FIXED_LENGTH
            if n - p < id_length + 4:
                return -1
            node_id_raw = bytes(view[p : p + id_length])
            items_length = _U32.unpack_from(view, p + id_length)[0]
            if items_length > self.config.max_extension_items_bytes:
                self._fail(
                    f"session extension items of {items_length} bytes exceed the limit",
                    SessTermReason.RESOURCE_EXHAUSTION,
                )
            p += id_length + 4
            if n - p < items_length:
                return -1
            items_raw = bytes(view[p : p + items_length])
            self._dispatch(mtype, (keepalive_s, segment_mru, transfer_mru, node_id_raw, items_raw))
            return p + items_length
        # RFC 9174 §4.5: unknown type -> MSG_REJECT(Message Type Unknown) and close the TCP connection (its
        # length is unknown, so nothing after it can be parsed).
        self._queue(MsgReject(MsgRejectReason.MESSAGE_TYPE_UNKNOWN, mtype))
        self._fail(f"unknown message type 0x{mtype:02x}", SessTermReason.UNKNOWN, send_term=False)
        return -1  # not reached

    def _dispatch(self, mtype: int, fields: tuple) -> None:
        action = TRANSITIONS[self._state].get(mtype, REJECT)  # IntEnum keys hash as ints
        if action == REJECT:
            self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, mtype)
            self._note_received(mtype)
            return
        self._note_received(mtype)
        getattr(self, action)(*fields)

    # ---------------------------------------------------------------------------------------- handlers
    def _on_contact_header(self, version: int, flags: int) -> None:
        """RFC 9174 §4.3: version and CAN_TLS negotiation."""
        peer_can_tls = bool(flags & ContactFlag.CAN_TLS)
        self._events.append(ev.ContactHeaderReceived(version, peer_can_tls))
        if self.role is Role.PASSIVE:
            # The passive entity answers with its own contact header, even to refuse the version.
            self._send_contact_header()
            if version != VERSION:
                self._fail(f"peer speaks TCPCL version {version}", SessTermReason.VERSION_MISMATCH)
            if self._refuse_after_contact is not None:
                self._terminate(self._refuse_after_contact)
                return
        elif version != VERSION:
            # The active entity closes the TCP connection on a different version (RFC 9174 §4.3).
            self._fail(f"peer answered TCPCL version {version}", SessTermReason.VERSION_MISMATCH, send_term=False)
        self.tls = self._can_tls and peer_can_tls
        if self.config.require_tls and not self.tls:
            self._fail("TLS is required by policy but was not negotiated", SessTermReason.CONTACT_FAILURE)
        if self.tls:
            self._state = State.TLS
            self._events.append(ev.StartTls())
        else:
            self._send_sess_init()

    def _on_sess_init(self, keepalive_s, segment_mru, transfer_mru, node_id_raw, items_raw) -> None:
        """RFC 9174 §4.6 and §4.7: validate and negotiate."""
        try:
            node_id = node_id_raw.decode("utf-8")
        except UnicodeDecodeError:
            self._fail("SESS_INIT node ID is not UTF-8", SessTermReason.CONTACT_FAILURE)
        if not _looks_like_node_id(node_id):
            self._fail(f"SESS_INIT node ID {node_id!r} is not a URI", SessTermReason.CONTACT_FAILURE)
        if segment_mru == 0 or transfer_mru == 0:
            self._fail("SESS_INIT MRU of zero is unacceptable", SessTermReason.CONTACT_FAILURE)
        items = parse_extension_items(items_raw)
        if items is None:
            self._fail("malformed session extension items", SessTermReason.CONTACT_FAILURE)
        # RFC 9174 §4.8: no session extension type is known to us; a critical one ends the session.
        if any(item.critical for item in items):
            self._fail("unknown critical session extension item", SessTermReason.CONTACT_FAILURE)
        # An active peer without a client certificate, accepted on purpose (accept_no_client_cert): its node ID
        # comes only from this SESS_INIT.
        anonymous_ok = (self._peer_cert_node_ids is None and self.role is Role.PASSIVE
                        and self.config.accept_no_client_cert)
        if self.tls and self.config.require_node_id_auth and not anonymous_ok:
            if not self._peer_cert_node_ids or node_id not in self._peer_cert_node_ids:
                self._fail(
                    f"peer node ID {node_id!r} is not authenticated by its certificate "
                    f"(certificate names {sorted(self._peer_cert_node_ids or ())})",
                    SessTermReason.CONTACT_FAILURE,
                )
        self.peer_node_id = node_id
        self.keepalive_s = min(keepalive_s, self.config.keepalive_s)
        self.peer_segment_mru_bytes = segment_mru
        self.peer_transfer_mru_bytes = transfer_mru
        self._state = State.ESTABLISHED
        self._last_rx_s = self._last_tx_s = self._last_activity_s = self._now_s
        self._events.append(
            ev.SessionEstablished(node_id, self.keepalive_s, segment_mru, transfer_mru, self.tls, items)
        )

    def _on_sess_init_while_ending(self, *fields) -> None:
        """We refused right after the contact headers (e.g. BUSY): the peer's SESS_INIT crossed our SESS_TERM
        and is expected; a SESS_INIT after establishment is not (RFC 9174 §5.1.2)."""
        if self.peer_node_id is not None:
            self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.SESS_INIT)

    def _on_segment_header(self, flags: int, tid: int, items_raw: bytes, length: int) -> None:
        """RFC 9174 §5.2.2: decide whether this segment's data is kept, and refuse what breaks a limit."""
        if flags & _START:
            if self._in_tid is not None and not self._in_refused:
                self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.XFER_SEGMENT)
                return
            if self._last_in_tid is not None and tid <= self._last_in_tid:
                # Transfer IDs only increase within a session (RFC 9174 §5.2.1): a reused ID is unexpected.
                self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.XFER_SEGMENT)
                return
            self._last_in_tid = tid
            self._in_tid = tid
            self._in_refused = False
            self._in_parts = []
            self._in_buffer = None
            self._in_bytes = 0
            self._in_declared_bytes = None
            if self._state is State.ENDING:
                self._refuse_incoming(XferRefuseReason.SESSION_TERMINATING)
                return
            items = parse_extension_items(items_raw)
            if items is None:
                self._refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
                return
            self._in_items = items
            for item in items:
                if item.item_type == TransferExtensionType.TRANSFER_LENGTH:
                    if len(item.value) != 8:
                        self._refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
                        return
                    self._in_declared_bytes = _U64.unpack(item.value)[0]
                elif item.critical:
                    # RFC 9174 §5.2.5: unknown critical transfer extension -> XFER_REFUSE(Extension Failure).
                    self._refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
                    return
            if self._in_declared_bytes is not None and self._in_declared_bytes > self.config.transfer_mru_bytes:
                self._refuse_incoming(XferRefuseReason.NO_RESOURCES)
                return
            declared = self._in_declared_bytes
            if (
                declared is not None and declared >= self.config.preallocate_min_bytes
                and self._pending_bytes + declared <= self.config.max_buffered_bytes
            ):
                self._in_buffer = self._new_buffer(declared)
        else:
            if tid != self._in_tid:
                self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.XFER_SEGMENT)
                return
            if self._in_refused:
                return  # segments already in flight when we refused: skip silently
        total = self._in_bytes + length
        if total > self.config.transfer_mru_bytes:
            self._refuse_incoming(XferRefuseReason.NO_RESOURCES)
        elif self._in_declared_bytes is not None and total > self._in_declared_bytes:
            self._refuse_incoming(XferRefuseReason.NOT_ACCEPTABLE)
        elif self._pending_bytes + total > self.config.max_buffered_bytes:
            self._refuse_incoming(XferRefuseReason.NO_RESOURCES)
        else:
            self._seg_accept = True

    def _finish_segment(self) -> None:
        self._seg_remaining = None
        flags, tid = self._seg_flags, self._seg_tid
        self._note_received(MessageType.XFER_SEGMENT)
        if not self._seg_accept:
            if flags & _END and tid == self._in_tid and self._in_refused:
                self._in_tid = None
                self._check_ending_done()
            return
        self._seg_accept = False
        received = self._in_bytes
        self._events.append(ev.XferSegmentReceived(tid, int(flags), self._seg_length))
        if not flags & _END:
            self._queue_ack(tid, received, flags)
            return
        if self._in_declared_bytes is not None and received != self._in_declared_bytes:
            self._refuse_incoming(XferRefuseReason.NOT_ACCEPTABLE)
            self._in_tid = None
            return
        if self._in_buffer is not None:
            data = self._in_buffer  # filled exactly: received == declared == its length
        else:
            parts = self._in_parts
            data = parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)
        self._in_parts = []
        self._in_buffer = None
        self._in_bytes = 0
        self._in_tid = None
        self._pending[tid] = _Pending(received, flags)
        self._pending_bytes += received
        self._events.append(ev.TransferReceived(tid, data, self._in_items))

    def _on_xfer_ack(self, flags: int, tid: int, acked: int) -> None:
        out = self._out.get(tid)
        if out is None or acked < out.acked_bytes or acked > out.sent_bytes:
            self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.XFER_ACK)
            return
        out.acked_bytes = acked
        self._events.append(ev.XferAckReceived(tid, acked, flags))
        if flags & _END and out.finished_sending and acked == out.total_bytes:
            del self._out[tid]
            self._events.append(ev.TransferAcked(tid, acked))
            self._check_ending_done()

    def _on_xfer_refuse(self, reason: int, tid: int) -> None:
        out = self._out.pop(tid, None)
        if out is None:
            if tid >= self._next_out_tid:
                self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.XFER_REFUSE)
            return  # a refusal racing our completed transfer's final ack: nothing to do
        if self._sending_tid == tid:
            self._sending_tid = None
        self._events.append(ev.TransferRefused(tid, enum_or_int(XferRefuseReason, reason)))
        self._check_ending_done()

    def _on_keepalive(self) -> None:
        self._events.append(ev.KeepaliveReceived())

    def _on_msg_reject(self, reason: int, rejected_type: int) -> None:
        self._events.append(ev.MessageRejected(enum_or_int(MsgRejectReason, reason), rejected_type))

    def _on_sess_term(self, flags: int, reason: int) -> None:
        """RFC 9174 §6.1: answer a SESS_TERM with an identical one carrying REPLY."""
        reply = bool(flags & SessTermFlag.REPLY)
        if self._term_received:
            self._reject(MsgRejectReason.MESSAGE_UNEXPECTED, MessageType.SESS_TERM)
            return
        self._term_received = True
        reason_value = enum_or_int(SessTermReason, reason)
        self._events.append(ev.SessTermReceived(reason_value, reply))
        if self.term_reason is None:
            self.term_reason = reason_value
        if not self._term_sent:
            self._queue(SessTerm(reason, reply=True))
            self._term_sent = True
        self._enter_ending()
        self._check_ending_done()  # an in-progress transfer may still finish (RFC 9174 §6.1)

    # ------------------------------------------------------------------------------------------ helpers
    def _tick(self, now_s: float | None) -> None:
        if now_s is not None:
            self._now_s = max(self._now_s, float(now_s))

    def _queue(self, msg: Message) -> None:
        self._outbox.append(encode(msg))
        if not isinstance(msg, ContactHeader):
            self._note_sent(_MESSAGE_TYPES[type(msg)])

    def _queue_ack(self, tid: int, length_bytes: int, flags: int) -> None:
        """XFER_ACK on the hot path, packed directly (RFC 9174 §5.2.3)."""
        self._outbox.append(_ACK_MESSAGE.pack(MessageType.XFER_ACK, flags, tid, length_bytes))
        self._last_tx_s = self._last_activity_s = self._now_s

    def _note_sent(self, mtype: int) -> None:
        self._last_tx_s = self._now_s
        if mtype != MessageType.KEEPALIVE:
            self._last_activity_s = self._now_s

    def _note_received(self, mtype: int) -> None:
        self._last_rx_s = self._now_s
        if mtype != MessageType.KEEPALIVE:
            self._last_activity_s = self._now_s

    def _send_contact_header(self) -> None:
        self._outbox.append(encode(ContactHeader(can_tls=self._can_tls)))
        self._contact_sent = True

    def _send_sess_init(self) -> None:
        c = self.config
        self._queue(SessInit(c.keepalive_s, c.segment_mru_bytes, c.transfer_mru_bytes, c.node_id, c.session_extensions))
        self._state = State.SESS_INIT

    def _allocate_transfer_id(self) -> int:
        tid = self._next_out_tid
        if tid > U64_MAX:
            # RFC 9174 §5.2.1: transfer IDs are exhausted, the session must end.
            self._terminate(SessTermReason.RESOURCE_EXHAUSTION)
            raise LocalProtocolError("transfer IDs exhausted", reason_code=SessTermReason.RESOURCE_EXHAUSTION)
        self._next_out_tid = tid + 1
        return tid

    def _send_raw_segment(self, msg: XferSegment) -> None:
        flags = int(msg.flags) & 0x03
        if len(msg.data) > self.peer_segment_mru_bytes:
            raise LocalProtocolError("segment exceeds the peer's segment MRU")
        if flags & _START:
            if self._state is not State.ESTABLISHED or self._sending_tid is not None:
                raise LocalProtocolError("cannot start a transfer now")
            if msg.transfer_id != self._next_out_tid:
                raise LocalProtocolError(f"the next transfer ID is {self._next_out_tid}")
            self._allocate_transfer_id()
            out = _Outgoing(memoryview(b""), msg.extensions, raw=True, started=True)
            self._out[msg.transfer_id] = out
            self._sending_tid = msg.transfer_id
        else:
            out = self._out.get(msg.transfer_id)
            if out is None or not out.raw or self._sending_tid != msg.transfer_id:
                raise LocalProtocolError(f"transfer {msg.transfer_id} is not being sent")
        out.sent_bytes += len(msg.data)
        out.total_bytes = out.sent_bytes
        if flags & _END:
            out.finished_sending = True
            self._sending_tid = None
        self._outbox.append(encode(msg))
        self._note_sent(MessageType.XFER_SEGMENT)

    def _refuse_incoming(self, reason: XferRefuseReason, *, emit: bool = True) -> None:
        tid = self._in_tid
        self._in_refused = True
        self._in_parts = []
        self._in_buffer = None
        self._in_bytes = 0
        self._seg_accept = False
        self._queue(XferRefuse(tid, reason))
        if emit:
            self._events.append(ev.IncomingTransferRefused(tid, reason))

    def _reject(self, reason: MsgRejectReason, mtype: int) -> None:
        self._queue(MsgReject(reason, mtype))

    def _terminate(self, reason: int) -> None:
        self._queue(SessTerm(reason))
        self._term_sent = True
        if self.term_reason is None:
            self.term_reason = enum_or_int(SessTermReason, reason)
        self._enter_ending()
        self._check_ending_done()

    def _enter_ending(self) -> None:
        if self._state is not State.ENDING:
            self._state = State.ENDING
            self._ending_deadline_s = self._now_s + self.config.term_timeout_s

    def _check_ending_done(self) -> None:
        if (
            self._state is State.ENDING
            and self._term_sent
            and self._term_received
            and (self._in_tid is None or self._in_refused)
            and not self._pending
            and not self._out
        ):
            self._close(self.term_reason, clean=True)

    def _close(self, reason: int | None, *, clean: bool) -> None:
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        self._seg_remaining = None
        self._in_parts = []
        self._in_buffer = None
        self._spares = []
        self._in_bytes = 0
        self._buf = bytearray()
        self._events.append(ev.SessionEnded(reason, clean))

    def _fail(self, message: str, reason: SessTermReason, *, send_term: bool = True) -> None:
        """A peer violation that ends the session: queue SESS_TERM (when allowed) and raise."""
        if send_term and self._contact_sent and self._state not in (State.TLS, State.CLOSED) and not self._term_sent:
            self._queue(SessTerm(reason))
            self._term_sent = True
        self._close(reason, clean=False)
        raise RemoteProtocolError(message, reason_code=reason)

    def _on_eof(self) -> None:
        clean = self._term_sent and self._term_received and not self._pending and not self._out
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
