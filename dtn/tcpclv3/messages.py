"""TCPCLv3 wire format, RFC 7242: SDNVs, the contact header (§4.1) and the six messages (§5).

Every message starts with one byte: the type in the high four bits, flags in the low four (§5.1). Lengths are
SDNVs (RFC 7242 §2.1 via RFC 5050 §4.1): seven bits per byte, most significant first, high bit set on every
byte but the last. We bound an SDNV to 10 bytes and 64 bits; anything longer is a `DecodeError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from dtn.errors import DecodeError, EncodeError

MAGIC = b"dtn!"
VERSION = 3
MAX_SDNV_BYTES = 10
U64_MAX = (1 << 64) - 1
CONTACT_FIXED_BYTES = 8  # magic, version, flags, keepalive_interval


class ContactFlag(IntFlag):
    """Contact header flags, RFC 7242 §4.1."""

    REQUEST_ACK = 0x01
    REACTIVE_FRAGMENTATION = 0x02
    ALLOW_REFUSAL = 0x04
    REQUEST_LENGTH = 0x08


class MessageType(IntEnum):
    """RFC 7242 §5.1 (high nibble of the first byte)."""

    DATA_SEGMENT = 0x1
    ACK_SEGMENT = 0x2
    REFUSE_BUNDLE = 0x3
    KEEPALIVE = 0x4
    SHUTDOWN = 0x5
    LENGTH = 0x6


class SegmentFlag(IntFlag):
    """DATA_SEGMENT flags, RFC 7242 §5.2: S marks the first segment of a bundle, E the last."""

    END = 0x1
    START = 0x2


class RefuseReason(IntEnum):
    """REFUSE_BUNDLE reason codes (the flags nibble), RFC 7242 §5.4."""

    UNKNOWN = 0x0
    COMPLETED = 0x1
    NO_RESOURCES = 0x2
    RETRANSMIT = 0x3


class ShutdownFlag(IntFlag):
    """SHUTDOWN flags, RFC 7242 §6.1: a reason byte and/or a reconnection delay SDNV follow."""

    DELAY = 0x1
    REASON = 0x2


class ShutdownReason(IntEnum):
    """SHUTDOWN reason codes, RFC 7242 §6.1."""

    IDLE_TIMEOUT = 0x00
    VERSION_MISMATCH = 0x01
    BUSY = 0x02


@dataclass(frozen=True, slots=True)
class ContactHeader:
    """RFC 7242 §4.1. `keepalive_s` is the 16-bit keepalive_interval; `eid` the local EID (an SDNV length, then
    the bytes)."""

    eid: str
    flags: ContactFlag = ContactFlag(0)
    keepalive_s: int = 0
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class DataSegment:
    """RFC 7242 §5.2."""

    data: bytes
    flags: SegmentFlag = SegmentFlag.START | SegmentFlag.END


@dataclass(frozen=True, slots=True)
class AckSegment:
    """RFC 7242 §5.3: the cumulative number of bytes of the current bundle received so far."""

    length: int


@dataclass(frozen=True, slots=True)
class RefuseBundle:
    """RFC 7242 §5.4: refuses the first bundle not yet fully acknowledged or refused."""

    reason: int = RefuseReason.UNKNOWN


@dataclass(frozen=True, slots=True)
class Keepalive:
    """RFC 7242 §5.6."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """RFC 7242 §6.1; `reason` and `delay_s` are optional."""

    reason: int | None = None
    delay_s: int | None = None


@dataclass(frozen=True, slots=True)
class Length:
    """RFC 7242 §5.5: the total length of the next bundle."""

    length: int


Message = DataSegment | AckSegment | RefuseBundle | Keepalive | Shutdown | Length


def sdnv_encode(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U64_MAX:
        raise EncodeError(f"SDNV value must be an integer in 0..2**64-1, got {value!r}")
    out = bytearray([value & 0x7F])
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.reverse()
    return bytes(out)


def sdnv_decode(buf, pos: int, *, base_offset: int = 0) -> tuple[int, int] | None:
    """(value, position after it), or None when `buf` ends inside the SDNV. DecodeError past 10 bytes or 64 bits."""
    value = 0
    end = min(len(buf), pos + MAX_SDNV_BYTES)
    i = pos
    while i < end:
        byte = buf[i]
        value = (value << 7) | (byte & 0x7F)
        i += 1
        if not byte & 0x80:
            if value > U64_MAX:
                raise DecodeError("SDNV value exceeds 64 bits", offset=base_offset + pos)
            return value, i
    if i - pos >= MAX_SDNV_BYTES:
        raise DecodeError(f"SDNV longer than {MAX_SDNV_BYTES} bytes", offset=base_offset + pos)
    return None


def encode_contact_header(header: ContactHeader) -> bytes:
    if not 0 <= header.keepalive_s <= 0xFFFF:
        raise EncodeError(f"keepalive_s must be in 0..65535, got {header.keepalive_s}")
    eid = header.eid.encode("utf-8")
    return (
        MAGIC + struct.pack("!BBH", header.version, int(header.flags), header.keepalive_s) + sdnv_encode(len(eid)) + eid
    )


def data_segment_header(flags: int, length: int) -> bytes:
    return bytes([(MessageType.DATA_SEGMENT << 4) | (flags & 0x3)]) + sdnv_encode(length)


def encode(msg: Message | ContactHeader) -> bytes:
    """The wire bytes of one message (or of a contact header)."""
    if isinstance(msg, ContactHeader):
        return encode_contact_header(msg)
    if isinstance(msg, DataSegment):
        return data_segment_header(int(msg.flags), len(msg.data)) + bytes(msg.data)
    if isinstance(msg, AckSegment):
        return bytes([MessageType.ACK_SEGMENT << 4]) + sdnv_encode(msg.length)
    if isinstance(msg, RefuseBundle):
        if not 0 <= int(msg.reason) <= 0xF:
            raise EncodeError(f"REFUSE_BUNDLE reason must fit in 4 bits, got {msg.reason}")
        return bytes([(MessageType.REFUSE_BUNDLE << 4) | int(msg.reason)])
    if isinstance(msg, Keepalive):
        return bytes([MessageType.KEEPALIVE << 4])
    if isinstance(msg, Shutdown):
        flags = (ShutdownFlag.REASON if msg.reason is not None else 0) | (
            ShutdownFlag.DELAY if msg.delay_s is not None else 0
        )
        out = bytearray([(MessageType.SHUTDOWN << 4) | int(flags)])
        if msg.reason is not None:
            if not 0 <= int(msg.reason) <= 0xFF:
                raise EncodeError(f"SHUTDOWN reason must fit in a byte, got {msg.reason}")
            out.append(int(msg.reason))
        if msg.delay_s is not None:
            out += sdnv_encode(msg.delay_s)
        return bytes(out)
    if isinstance(msg, Length):
        return bytes([MessageType.LENGTH << 4]) + sdnv_encode(msg.length)
    raise EncodeError(f"not a TCPCLv3 message: {msg!r}")


def parse_contact_header(buf, *, max_eid_bytes: int) -> tuple[ContactHeader, int] | None:
    """(header, bytes used) or None if incomplete. DecodeError for a wrong magic, an EID longer than
    `max_eid_bytes` or not UTF-8. The version is returned as sent (the session answers a mismatch)."""
    have = min(len(buf), 4)
    if bytes(buf[:have]) != MAGIC[:have]:
        raise DecodeError("contact header magic is not 'dtn!'", offset=0)
    if len(buf) >= 5 and buf[4] != VERSION:
        # Another version's header need not have our layout (TCPCLv4's is 6 bytes): report it at once.
        return ContactHeader("", ContactFlag(0), 0, buf[4]), 5
    if len(buf) < CONTACT_FIXED_BYTES:
        return None
    version, flags, keepalive_s = struct.unpack_from("!BBH", buf, 4)
    got = sdnv_decode(buf, CONTACT_FIXED_BYTES)
    if got is None:
        return None
    eid_len, pos = got
    if eid_len > max_eid_bytes:
        raise DecodeError(
            f"contact header EID of {eid_len} bytes exceeds the limit of {max_eid_bytes}", offset=CONTACT_FIXED_BYTES
        )
    if len(buf) < pos + eid_len:
        return None
    try:
        eid = bytes(buf[pos : pos + eid_len]).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("contact header EID is not UTF-8", offset=pos) from None
    return ContactHeader(eid, ContactFlag(flags & 0xFF), keepalive_s, version), pos + eid_len


__all__ = [
    "MAGIC",
    "VERSION",
    "MAX_SDNV_BYTES",
    "ContactFlag",
    "MessageType",
    "SegmentFlag",
    "RefuseReason",
    "ShutdownFlag",
    "ShutdownReason",
    "ContactHeader",
    "DataSegment",
    "AckSegment",
    "RefuseBundle",
    "Keepalive",
    "Shutdown",
    "Length",
    "Message",
    "sdnv_encode",
    "sdnv_decode",
    "encode",
    "encode_contact_header",
    "data_segment_header",
    "parse_contact_header",
]
