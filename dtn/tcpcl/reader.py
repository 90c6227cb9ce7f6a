"""TCPCLv4 reader: received bytes in, message objects out (pure; no I/O). The mirror of `messages.encode`.

    reader = Reader(segment_mru_bytes=..., max_extension_items_bytes=...)
    reader.feed(chunk)                              # any chunking
    while (item := reader.next_item()) is not NEED_DATA:
        ...   # ContactHeader, SessInit, XferAck, XferRefuse, Keepalive, SessTerm, MsgReject,
              # SegmentHeader then its SegmentData pieces, or UnknownMessage

Every message but XFER_SEGMENT comes out whole, as the same frozen value object `messages.encode` takes. An
XFER_SEGMENT comes out as its `SegmentHeader` and then its data in `SegmentData` pieces as the bytes arrive
(the last piece has `end=True`, also for a segment of no data), so a segment's data is never buffered twice.

Declared lengths are checked against the limits before the reader waits for them, so a partial message held
here never grows past `max_extension_items_bytes` plus 65 KiB. A stream that cannot be read on raises
`ReadError` (a `RemoteProtocolError` carrying the SESS_TERM reason, and whether a SESS_TERM may be sent).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dtn.errors import RemoteProtocolError

from .messages import (
    CONTACT_HEADER_LENGTH,
    MAGIC,
    ContactFlag,
    ContactHeader,
    ExtensionItem,
    ExtensionItemFlag,
    Keepalive,
    MessageType,
    MsgReject,
    SessInit,
    SessTerm,
    SessTermFlag,
    SessTermReason,
    XferAck,
    XferRefuse,
    XferSegmentFlag,
)


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
"""`Reader.next_item()` has nothing whole to return until more bytes are fed."""


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """Everything of an XFER_SEGMENT before its data, RFC 9174 §5.2.2 (`extensions_raw` only with START)."""

    transfer_id: int
    flags: int
    extensions_raw: bytes
    length_bytes: int


@dataclass(frozen=True, slots=True)
class SegmentData:
    """A piece of the current segment's data; `end` on the segment's last piece. `data` is bytes or a
    read-only memoryview of received bytes (immutable either way)."""

    data: bytes | memoryview
    end: bool


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message type code RFC 9174 §4.5 does not define; nothing after it can be parsed."""

    type_code: int


class ReadError(RemoteProtocolError):
    """The received stream breaks the framing or a limit; `send_term` tells whether a SESS_TERM may follow
    (not after a bad contact header magic, RFC 9174 §4.3)."""

    def __init__(self, message: str, reason_code: int, *, send_term: bool = True) -> None:
        super().__init__(message, reason_code=reason_code)
        self.send_term = send_term


Item = (
    ContactHeader
    | SessInit
    | XferAck
    | XferRefuse
    | Keepalive
    | SessTerm
    | MsgReject
    | SegmentHeader
    | SegmentData
    | UnknownMessage
)

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_SEGMENT_FIXED = struct.Struct("!BQ")  # flags, transfer ID (after the type byte)
_SESS_INIT_FIXED = struct.Struct("!HQQH")
_ACK_BODY = struct.Struct("!BQQ")
_REFUSE_BODY = struct.Struct("!BQ")
_ITEM_HEADER = struct.Struct("!BHH")
_START = int(XferSegmentFlag.START)
_FIXED_LENGTH = {  # whole length of the messages that have no variable part
    MessageType.XFER_ACK: 18,
    MessageType.XFER_REFUSE: 10,
    MessageType.KEEPALIVE: 1,
    MessageType.SESS_TERM: 3,
    MessageType.MSG_REJECT: 3,
}


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


class Reader:
    """Incremental TCPCLv4 parser. It starts expecting a contact header, then reads messages; `pause()` stops
    it (TLS takes over the stream) and `take_buffered()` hands back the bytes not yet read."""

    def __init__(self, *, segment_mru_bytes: int, max_extension_items_bytes: int) -> None:
        self.segment_mru_bytes = segment_mru_bytes
        self.max_extension_items_bytes = max_extension_items_bytes
        self._data: bytes | bytearray = b""  # received, not yet read from `_pos` on
        self._pos = 0
        self._contact = True  # the next thing on the wire is the contact header
        self._paused = False
        self._seg_remaining: int | None = None  # data bytes of the current segment still to come

    @property
    def buffered_bytes(self) -> int:
        return len(self._data) - self._pos

    @property
    def in_segment_data(self) -> bool:
        return self._seg_remaining is not None

    def feed(self, data) -> None:
        """Append received bytes (any bytes-like object; it is copied unless it is `bytes`)."""
        if not data:
            return
        if self._pos >= len(self._data):
            self._data = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return
        # A partial message is waiting (bounded by the limits): extend it in place.
        if type(self._data) is not bytearray:
            self._data = bytearray(memoryview(self._data)[self._pos :])
        elif self._pos:
            del self._data[: self._pos]
        self._pos = 0
        self._data += data

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        """Read messages again (after TLS); bytes buffered before are dropped (they were the TLS stream's)."""
        self._paused = False
        self._contact = False
        self._data, self._pos = b"", 0

    def take_buffered(self) -> bytes:
        out = bytes(memoryview(self._data)[self._pos :])
        self._data, self._pos = b"", 0
        return out

    def next_item(self) -> Item | _NeedData:
        """The next whole message (or segment header / data piece), or NEED_DATA."""
        if self._paused:
            return NEED_DATA
        data, pos = self._data, self._pos
        available = len(data) - pos
        remaining = self._seg_remaining
        if remaining is not None:
            if remaining and not available:
                return NEED_DATA
            take = min(remaining, available)
            left = remaining - take
            self._seg_remaining = None if left == 0 else left
            self._pos = pos + take
            if type(data) is bytes:
                # Slices of an immutable chunk stay views unless they are small next to it (then a copy, so a
                # kept view never pins much more than the data it holds).
                piece = memoryview(data)[pos : pos + take] if take * 2 >= len(data) else data[pos : pos + take]
            else:
                piece = bytes(data[pos : pos + take])
            return SegmentData(piece, left == 0)
        if not available:
            return NEED_DATA
        if self._contact:
            return self._read_contact_header(data, pos, available)
        mtype = data[pos]
        if mtype == MessageType.XFER_SEGMENT:
            return self._read_segment_header(data, pos, available)
        fixed = _FIXED_LENGTH.get(mtype)
        if fixed is not None:
            if available < fixed:
                return NEED_DATA
            self._pos = pos + fixed
            return _read_fixed(mtype, data, pos)
        if mtype == MessageType.SESS_INIT:
            return self._read_sess_init(data, pos, available)
        self._pos = len(data)  # its length is unknown: nothing after it can be read
        return UnknownMessage(mtype)

    # ------------------------------------------------------------------------------------------ parts
    def _read_contact_header(self, data, pos: int, available: int) -> ContactHeader | _NeedData:
        """RFC 9174 §4.2; the magic is checked on every byte as it arrives."""
        prefix = min(available, len(MAGIC))
        if bytes(data[pos : pos + prefix]) != MAGIC[:prefix]:
            raise ReadError("contact header magic is not 'dtn!'", SessTermReason.CONTACT_FAILURE, send_term=False)
        if available < CONTACT_HEADER_LENGTH:
            return NEED_DATA
        version, flags = data[pos + 4], data[pos + 5]
        self._pos = pos + CONTACT_HEADER_LENGTH
        self._contact = False
        return ContactHeader(can_tls=bool(flags & ContactFlag.CAN_TLS), version=version)

    def _read_segment_header(self, data, pos: int, available: int) -> SegmentHeader | _NeedData:
        if available < 10:
            return NEED_DATA
        flags, tid = _SEGMENT_FIXED.unpack_from(data, pos + 1)
        p = pos + 10
        end = pos + available
        items_raw = b""
        if flags & _START:
            if end - p < 4:
                return NEED_DATA
            items_length = _U32.unpack_from(data, p)[0]
            if items_length > self.max_extension_items_bytes:
                raise ReadError(
                    f"transfer extension items of {items_length} bytes exceed the limit",
                    SessTermReason.RESOURCE_EXHAUSTION,
                )
            if end - p - 4 < items_length + 8:
                return NEED_DATA
            items_raw = bytes(data[p + 4 : p + 4 + items_length])
            p += 4 + items_length
        elif end - p < 8:
            return NEED_DATA
        length = _U64.unpack_from(data, p)[0]
        if length > self.segment_mru_bytes:
            raise ReadError(
                f"segment of {length} bytes exceeds our segment MRU of {self.segment_mru_bytes} bytes",
                SessTermReason.RESOURCE_EXHAUSTION,
            )
        self._pos = p + 8
        self._seg_remaining = length
        return SegmentHeader(tid, flags & 0x03, items_raw, length)

    def _read_sess_init(self, data, pos: int, available: int) -> SessInit | _NeedData:
        """RFC 9174 §4.6 (the session checks the values; the reader only that they are well formed)."""
        fixed_end = pos + 1 + _SESS_INIT_FIXED.size
        end = pos + available
        if end < fixed_end:
            return NEED_DATA
        keepalive_s, segment_mru, transfer_mru, id_length = _SESS_INIT_FIXED.unpack_from(data, pos + 1)
        p = fixed_end
        if end - p < id_length + 4:
            return NEED_DATA
        node_id_raw = bytes(data[p : p + id_length])
        items_length = _U32.unpack_from(data, p + id_length)[0]
        if items_length > self.max_extension_items_bytes:
            raise ReadError(
                f"session extension items of {items_length} bytes exceed the limit", SessTermReason.RESOURCE_EXHAUSTION
            )
        p += id_length + 4
        if end - p < items_length:
            return NEED_DATA
        items = parse_extension_items(data[p : p + items_length])
        if items is None:
            raise ReadError("malformed session extension items", SessTermReason.CONTACT_FAILURE)
        try:
            node_id = node_id_raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ReadError("SESS_INIT node ID is not UTF-8", SessTermReason.CONTACT_FAILURE) from None
        self._pos = p + items_length
        return SessInit(keepalive_s, segment_mru, transfer_mru, node_id, items)


def _read_fixed(mtype: int, data, pos: int):
    if mtype == MessageType.XFER_ACK:
        flags, tid, acked = _ACK_BODY.unpack_from(data, pos + 1)
        return XferAck(tid, acked, flags)
    if mtype == MessageType.KEEPALIVE:
        return Keepalive()
    if mtype == MessageType.XFER_REFUSE:
        reason, tid = _REFUSE_BODY.unpack_from(data, pos + 1)
        return XferRefuse(tid, reason)
    if mtype == MessageType.SESS_TERM:
        return SessTerm(data[pos + 2], reply=bool(data[pos + 1] & SessTermFlag.REPLY))
    return MsgReject(data[pos + 1], data[pos + 2])


__all__ = [
    "NEED_DATA",
    "Reader",
    "ReadError",
    "SegmentData",
    "SegmentHeader",
    "UnknownMessage",
    "parse_extension_items",
]
