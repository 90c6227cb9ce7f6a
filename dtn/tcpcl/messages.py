"""TCPCLv4 wire values and messages, RFC 9174 §4 and §5 (pure; no I/O).

Every message is a frozen value object; `encode(msg)` turns one into its exact wire bytes. Encoding never
validates protocol state (the `Session` machine does that), so tests can build hostile byte streams with
the same functions the machine uses. Decoding lives in `dtn.tcpcl.session`, which parses incrementally.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from dtn.errors import EncodeError

MAGIC = b"dtn!"
"""Contact header magic, RFC 9174 §4.2."""

VERSION = 4
"""The TCPCL version this module implements, RFC 9174 §4.2."""

CONTACT_HEADER_LENGTH = 6
U16_MAX = (1 << 16) - 1
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1


class ContactFlag(IntFlag):
    """Contact header flags, RFC 9174 §4.2 (Table 2)."""

    NONE = 0x00
    CAN_TLS = 0x01


class MessageType(IntEnum):
    """Message type codes, RFC 9174 §4.5 (Table 3)."""

    XFER_SEGMENT = 0x01
    XFER_ACK = 0x02
    XFER_REFUSE = 0x03
    KEEPALIVE = 0x04
    SESS_TERM = 0x05
    MSG_REJECT = 0x06
    SESS_INIT = 0x07


class ExtensionItemFlag(IntFlag):
    """Session and transfer extension item flags, RFC 9174 §4.8 and §5.2.5 (Tables 5 and 10)."""

    NONE = 0x00
    CRITICAL = 0x01


class SessionExtensionType(IntEnum):
    """Session extension item types, RFC 9174 §9.3. None is defined beyond the reserved value."""

    RESERVED = 0x0000


class TransferExtensionType(IntEnum):
    """Transfer extension item types, RFC 9174 §9.4."""

    RESERVED = 0x0000
    TRANSFER_LENGTH = 0x0001


class XferSegmentFlag(IntFlag):
    """XFER_SEGMENT (and XFER_ACK) message flags, RFC 9174 §5.2.2 (Table 7)."""

    NONE = 0x00
    END = 0x01
    START = 0x02


class SessTermFlag(IntFlag):
    """SESS_TERM message flags, RFC 9174 §6.1 (Table 12)."""

    NONE = 0x00
    REPLY = 0x01


class SessTermReason(IntEnum):
    """SESS_TERM reason codes, RFC 9174 §6.1 (Table 13)."""

    UNKNOWN = 0x00
    IDLE_TIMEOUT = 0x01
    VERSION_MISMATCH = 0x02
    BUSY = 0x03
    CONTACT_FAILURE = 0x04
    RESOURCE_EXHAUSTION = 0x05


class XferRefuseReason(IntEnum):
    """XFER_REFUSE reason codes, RFC 9174 §5.2.4 (Table 9)."""

    UNKNOWN = 0x00
    COMPLETED = 0x01
    NO_RESOURCES = 0x02
    RETRANSMIT = 0x03
    NOT_ACCEPTABLE = 0x04
    EXTENSION_FAILURE = 0x05
    SESSION_TERMINATING = 0x06


class MsgRejectReason(IntEnum):
    """MSG_REJECT reason codes, RFC 9174 §5.1.2 (Table 6)."""

    MESSAGE_TYPE_UNKNOWN = 0x01
    MESSAGE_UNSUPPORTED = 0x02
    MESSAGE_UNEXPECTED = 0x03


def enum_or_int(enum_type, value: int):
    """`enum_type(value)` when the code is known, else the plain int (unknown codes are kept, not fatal)."""
    try:
        return enum_type(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class ExtensionItem:
    """One session or transfer extension item, RFC 9174 §4.8 and §5.2.5."""

    item_type: int
    value: bytes = b""
    critical: bool = False

    @property
    def flags(self) -> ExtensionItemFlag:
        return ExtensionItemFlag.CRITICAL if self.critical else ExtensionItemFlag.NONE


def transfer_length_item(length_bytes: int) -> ExtensionItem:
    """The Transfer Length extension item, RFC 9174 §5.2.5.1 (not critical, as the RFC recommends)."""
    _check_uint("transfer length", length_bytes, U64_MAX)
    return ExtensionItem(TransferExtensionType.TRANSFER_LENGTH, struct.pack("!Q", length_bytes))


@dataclass(frozen=True, slots=True)
class ContactHeader:
    """Contact header, RFC 9174 §4.2: magic "dtn!", version, flags."""

    can_tls: bool = False
    version: int = VERSION
    magic: bytes = MAGIC

    @property
    def flags(self) -> ContactFlag:
        return ContactFlag.CAN_TLS if self.can_tls else ContactFlag.NONE


@dataclass(frozen=True, slots=True)
class SessInit:
    """SESS_INIT, RFC 9174 §4.6."""

    keepalive_s: int
    segment_mru_bytes: int
    transfer_mru_bytes: int
    node_id: str
    extensions: tuple[ExtensionItem, ...] = ()


@dataclass(frozen=True, slots=True)
class XferSegment:
    """XFER_SEGMENT, RFC 9174 §5.2.2. `extensions` are only encoded when START is set."""

    transfer_id: int
    data: bytes
    flags: XferSegmentFlag = XferSegmentFlag.START | XferSegmentFlag.END
    extensions: tuple[ExtensionItem, ...] = ()


@dataclass(frozen=True, slots=True)
class XferAck:
    """XFER_ACK, RFC 9174 §5.2.3: flags mirror the acknowledged segment, length is cumulative."""

    transfer_id: int
    acked_length_bytes: int
    flags: XferSegmentFlag = XferSegmentFlag.NONE


@dataclass(frozen=True, slots=True)
class XferRefuse:
    """XFER_REFUSE, RFC 9174 §5.2.4."""

    transfer_id: int
    reason: int = XferRefuseReason.UNKNOWN


@dataclass(frozen=True, slots=True)
class Keepalive:
    """KEEPALIVE, RFC 9174 §5.1.1 (a bare message header)."""


@dataclass(frozen=True, slots=True)
class SessTerm:
    """SESS_TERM, RFC 9174 §6.1."""

    reason: int = SessTermReason.UNKNOWN
    reply: bool = False

    @property
    def flags(self) -> SessTermFlag:
        return SessTermFlag.REPLY if self.reply else SessTermFlag.NONE


@dataclass(frozen=True, slots=True)
class MsgReject:
    """MSG_REJECT, RFC 9174 §5.1.2: the reason and the rejected message's type code."""

    reason: int
    rejected_message_type: int


Message = ContactHeader | SessInit | XferSegment | XferAck | XferRefuse | Keepalive | SessTerm | MsgReject

_U8 = struct.Struct("!B")
_SESS_INIT_FIXED = struct.Struct("!BHQQH")  # type, keepalive, segment MRU, transfer MRU, node ID length
_SEGMENT_FIXED = struct.Struct("!BBQ")  # type, flags, transfer ID
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_XFER_ACK = struct.Struct("!BBQQ")
_XFER_REFUSE = struct.Struct("!BBQ")
_TWO_U8 = struct.Struct("!BBB")
_ITEM_HEADER = struct.Struct("!BHH")


def _check_uint(name: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise EncodeError(f"{name} must be an integer in 0..{maximum}, got {value!r}")


def encode_extension_items(items: tuple[ExtensionItem, ...] | list[ExtensionItem]) -> bytes:
    """Extension items list, RFC 9174 §4.8: flags (U8), type (U16), length (U16), value."""
    parts = []
    for item in items:
        _check_uint("extension item type", item.item_type, U16_MAX)
        _check_uint("extension item length", len(item.value), U16_MAX)
        parts.append(_ITEM_HEADER.pack(int(item.flags), item.item_type, len(item.value)))
        parts.append(bytes(item.value))
    return b"".join(parts)


def encode_segment_header(
    transfer_id: int, flags: XferSegmentFlag, data_length_bytes: int, extensions: tuple[ExtensionItem, ...] = ()
) -> bytes:
    """Everything of an XFER_SEGMENT before its data (lets a sender avoid building huge messages twice)."""
    _check_uint("transfer ID", transfer_id, U64_MAX)
    _check_uint("segment length", data_length_bytes, U64_MAX)
    flags = int(flags)
    head = _SEGMENT_FIXED.pack(MessageType.XFER_SEGMENT, flags & 0xFF, transfer_id)
    if flags & 0x02:  # START
        items = encode_extension_items(extensions)
        head += _U32.pack(len(items)) + items
    return head + _U64.pack(data_length_bytes)


def encode(msg: Message) -> bytes:
    """The exact wire bytes of one message (RFC 9174 §4.2, §4.6, §5.1, §5.2, §6.1)."""
    if isinstance(msg, XferSegment):
        return encode_segment_header(msg.transfer_id, msg.flags, len(msg.data), msg.extensions) + bytes(msg.data)
    if isinstance(msg, XferAck):
        _check_uint("transfer ID", msg.transfer_id, U64_MAX)
        _check_uint("acknowledged length", msg.acked_length_bytes, U64_MAX)
        return _XFER_ACK.pack(MessageType.XFER_ACK, int(msg.flags) & 0xFF, msg.transfer_id, msg.acked_length_bytes)
    if isinstance(msg, Keepalive):
        return _U8.pack(MessageType.KEEPALIVE)
    if isinstance(msg, XferRefuse):
        _check_uint("transfer ID", msg.transfer_id, U64_MAX)
        _check_uint("refuse reason", int(msg.reason), 0xFF)
        return _XFER_REFUSE.pack(MessageType.XFER_REFUSE, int(msg.reason), msg.transfer_id)
    if isinstance(msg, SessTerm):
        _check_uint("termination reason", int(msg.reason), 0xFF)
        return _TWO_U8.pack(MessageType.SESS_TERM, int(msg.flags), int(msg.reason))
    if isinstance(msg, MsgReject):
        _check_uint("reject reason", int(msg.reason), 0xFF)
        _check_uint("rejected message type", int(msg.rejected_message_type), 0xFF)
        return _TWO_U8.pack(MessageType.MSG_REJECT, int(msg.reason), int(msg.rejected_message_type))
    if isinstance(msg, SessInit):
        node_id = msg.node_id.encode("utf-8")
        _check_uint("keepalive interval", msg.keepalive_s, U16_MAX)
        _check_uint("segment MRU", msg.segment_mru_bytes, U64_MAX)
        _check_uint("transfer MRU", msg.transfer_mru_bytes, U64_MAX)
        _check_uint("node ID length", len(node_id), U16_MAX)
        items = encode_extension_items(msg.extensions)
        _check_uint("session extension items length", len(items), U32_MAX)
        return (
            _SESS_INIT_FIXED.pack(
                MessageType.SESS_INIT, msg.keepalive_s, msg.segment_mru_bytes, msg.transfer_mru_bytes, len(node_id)
            )
            + node_id
            + _U32.pack(len(items))
            + items
        )
    if isinstance(msg, ContactHeader):
        _check_uint("version", msg.version, 0xFF)
        if len(msg.magic) != 4:
            raise EncodeError("contact header magic must be 4 bytes")
        return bytes(msg.magic) + bytes([msg.version, int(msg.flags)])
    raise EncodeError(f"not a TCPCLv4 message: {msg!r}")
