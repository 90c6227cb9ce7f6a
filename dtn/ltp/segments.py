"""LTP segments (RFC 5326 §3): SDNV integers, the header, data, report, report-ack and cancel segments.

A segment is: one control byte (version 0 in the high nibble, the segment type flags in the low nibble), the
session ID (originator engine ID and session number, both SDNVs), one byte of extension counts (header count in
the high nibble, trailer count in the low nibble), the header extensions, the content, the trailer extensions.
Extensions are kept as (tag, value) pairs: we never add any and pass through the ones we receive.

Every integer field is an SDNV (RFC 5326 §2 refers to RFC 6256's encoding: 7 bits per byte, high bit set on all
but the last byte). An integer must fit in 64 bits, as in ION and HDTN; a longer SDNV is a `DecodeError`, so a
hostile peer cannot make us build huge integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from dtn.errors import DecodeError, EncodeError

MAX_SDNV_VALUE = 2**64 - 1
LTP_VERSION = 0


class SegmentType(IntEnum):
    """Segment type codes, RFC 5326 §3.1.1 (the low nibble of the control byte)."""

    RED = 0x0  # red data, not a checkpoint
    RED_CHECKPOINT = 0x1  # red data, checkpoint, not end of red part
    RED_CHECKPOINT_EORP = 0x2  # red data, checkpoint, end of red part, not end of block
    RED_CHECKPOINT_EORP_EOB = 0x3  # red data, checkpoint, end of red part, end of block
    GREEN = 0x4  # green data, not end of block
    GREEN_UNDEFINED_5 = 0x5
    GREEN_UNDEFINED_6 = 0x6
    GREEN_EOB = 0x7  # green data, end of block
    REPORT = 0x8  # RS
    REPORT_ACK = 0x9  # RA
    CONTROL_UNDEFINED_A = 0xA
    CONTROL_UNDEFINED_B = 0xB
    CANCEL_FROM_SENDER = 0xC  # CS
    CANCEL_ACK_TO_SENDER = 0xD  # CAS
    CANCEL_FROM_RECEIVER = 0xE  # CR
    CANCEL_ACK_TO_RECEIVER = 0xF  # CAR


class CancelReason(IntEnum):
    """Reason codes of cancel segments, RFC 5326 §3.2.4."""

    USR_CNCLD = 0  # client service cancelled the session
    UNREACH = 1  # unreachable client service
    RLEXC = 2  # retransmission limit exceeded
    MISCOLORED = 3  # red data above green data, or green below red
    SYS_CNCLD = 4  # a system error condition (here also: resource limits, inactivity)
    RXMTCYCEXC = 5  # retransmission-cycles limit exceeded


DATA_TYPES = frozenset(range(0x0, 0x8))
CHECKPOINT_TYPES = frozenset(
    {SegmentType.RED_CHECKPOINT, SegmentType.RED_CHECKPOINT_EORP, SegmentType.RED_CHECKPOINT_EORP_EOB}
)


# -- SDNV ------------------------------------------------------------------------------------------------------
def encode_sdnv(value: int) -> bytes:
    """Self-delimiting numeric value: big-endian groups of 7 bits, continuation bit on all but the last byte."""
    if value < 0 or value > MAX_SDNV_VALUE:
        raise EncodeError(f"SDNV value out of range 0..2**64-1: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray((value & 0x7F,))
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.reverse()
    return bytes(out)


def decode_sdnv(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """(value, offset after it). Raises `DecodeError` on truncation or a value above 64 bits."""
    value = 0
    start = offset
    end = len(data)
    while True:
        if offset >= end:
            raise DecodeError("truncated SDNV", offset=start)
        byte = data[offset]
        offset += 1
        value = (value << 7) | (byte & 0x7F)
        if value > MAX_SDNV_VALUE:
            raise DecodeError("SDNV exceeds 64 bits", offset=start)
        if not byte & 0x80:
            return value, offset
        if offset - start >= 10:
            raise DecodeError("SDNV longer than 10 bytes", offset=start)


def sdnv_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


# -- segments --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Claim:
    """One reception claim of a report segment: `offset` is relative to the report's lower bound."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class DataContent:
    """Data segment content, RFC 5326 §3.2.1. Serial numbers are present only in checkpoints."""

    client_service_id: int
    offset: int
    data: bytes
    checkpoint_serial: int | None = None
    report_serial: int | None = None


@dataclass(frozen=True, slots=True)
class ReportContent:
    """Report segment content, RFC 5326 §3.2.2."""

    report_serial: int
    checkpoint_serial: int
    upper_bound: int
    lower_bound: int
    claims: tuple[Claim, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """One LTP segment. `content` is DataContent, ReportContent, the report serial (RA), the reason code
    (CS/CR) or None (CAS/CAR)."""

    type: SegmentType
    engine_id: int  # the session originator
    session_number: int
    content: DataContent | ReportContent | int | None = None
    header_extensions: tuple[tuple[int, bytes], ...] = field(default=())
    trailer_extensions: tuple[tuple[int, bytes], ...] = field(default=())

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES

    @property
    def is_red(self) -> bool:
        return self.type <= SegmentType.RED_CHECKPOINT_EORP_EOB

    @property
    def is_checkpoint(self) -> bool:
        return self.type in CHECKPOINT_TYPES

    @property
    def is_eorp(self) -> bool:
        return self.type in (SegmentType.RED_CHECKPOINT_EORP, SegmentType.RED_CHECKPOINT_EORP_EOB)

    @property
    def is_eob(self) -> bool:
        return self.type in (SegmentType.RED_CHECKPOINT_EORP_EOB, SegmentType.GREEN_EOB)


def data_segment_type(*, red: bool, checkpoint: bool, eorp: bool, eob: bool) -> SegmentType:
    """The type code of a data segment with these properties (a red EORP is always a checkpoint)."""
    if red:
        if eorp:
            return SegmentType.RED_CHECKPOINT_EORP_EOB if eob else SegmentType.RED_CHECKPOINT_EORP
        return SegmentType.RED_CHECKPOINT if checkpoint else SegmentType.RED
    return SegmentType.GREEN_EOB if eob else SegmentType.GREEN


def header_bytes(type_code: int, engine_id: int, session_number: int) -> bytes:
    """Control byte, session ID and an extension-count byte of zero (no extensions)."""
    return bytes(((LTP_VERSION << 4) | type_code,)) + encode_sdnv(engine_id) + encode_sdnv(session_number) + b"\x00"


def _data_body(
    type_code: int,
    client_service_id: int,
    offset: int,
    data: bytes | memoryview,
    checkpoint_serial: int | None,
    report_serial: int | None,
) -> bytes:
    parts = [encode_sdnv(client_service_id), encode_sdnv(offset), encode_sdnv(len(data))]
    if type_code in CHECKPOINT_TYPES:
        if checkpoint_serial is None or report_serial is None:
            raise EncodeError("a checkpoint needs a checkpoint serial and a report serial number")
        parts.append(encode_sdnv(checkpoint_serial))
        parts.append(encode_sdnv(report_serial))
    parts.append(bytes(data))
    return b"".join(parts)


def _report_body(report: ReportContent) -> bytes:
    if report.lower_bound > report.upper_bound:
        raise EncodeError("report lower bound above upper bound")
    parts = [
        encode_sdnv(report.report_serial),
        encode_sdnv(report.checkpoint_serial),
        encode_sdnv(report.upper_bound),
        encode_sdnv(report.lower_bound),
        encode_sdnv(len(report.claims)),
    ]
    for claim in report.claims:
        parts.append(encode_sdnv(claim.offset))
        parts.append(encode_sdnv(claim.length))
    return b"".join(parts)


def _reason_byte(reason: int) -> bytes:
    if not 0 <= reason <= 0xFF:
        raise EncodeError(f"cancel reason out of range: {reason}")
    return bytes((reason,))


def encode_data(
    type_code: int,
    engine_id: int,
    session_number: int,
    client_service_id: int,
    offset: int,
    data: bytes | memoryview,
    checkpoint_serial: int | None = None,
    report_serial: int | None = None,
) -> bytes:
    """A data segment without extensions (what the engine sends)."""
    if type_code not in DATA_TYPES:
        raise EncodeError("not a data segment type")
    return header_bytes(type_code, engine_id, session_number) + _data_body(
        type_code, client_service_id, offset, data, checkpoint_serial, report_serial
    )


def encode_report(engine_id: int, session_number: int, report: ReportContent) -> bytes:
    return header_bytes(SegmentType.REPORT, engine_id, session_number) + _report_body(report)


def encode_report_ack(engine_id: int, session_number: int, report_serial: int) -> bytes:
    return header_bytes(SegmentType.REPORT_ACK, engine_id, session_number) + encode_sdnv(report_serial)


def encode_cancel(type_code: int, engine_id: int, session_number: int, reason: int) -> bytes:
    if type_code not in (SegmentType.CANCEL_FROM_SENDER, SegmentType.CANCEL_FROM_RECEIVER):
        raise EncodeError("not a cancel segment type")
    return header_bytes(type_code, engine_id, session_number) + _reason_byte(reason)


def encode_cancel_ack(type_code: int, engine_id: int, session_number: int) -> bytes:
    if type_code not in (SegmentType.CANCEL_ACK_TO_SENDER, SegmentType.CANCEL_ACK_TO_RECEIVER):
        raise EncodeError("not a cancel-acknowledgment segment type")
    return header_bytes(type_code, engine_id, session_number)


def encode_segment(segment: Segment) -> bytes:
    """Any segment, extensions included (RFC 5326 §3.1.5)."""
    t = segment.type
    c = segment.content
    if t in (
        SegmentType.GREEN_UNDEFINED_5,
        SegmentType.GREEN_UNDEFINED_6,
        SegmentType.CONTROL_UNDEFINED_A,
        SegmentType.CONTROL_UNDEFINED_B,
    ):
        raise EncodeError(f"segment type 0x{int(t):x} is undefined")
    if t in DATA_TYPES:
        if not isinstance(c, DataContent):
            raise EncodeError("a data segment needs DataContent")
        body = _data_body(t, c.client_service_id, c.offset, c.data, c.checkpoint_serial, c.report_serial)
    elif t == SegmentType.REPORT:
        if not isinstance(c, ReportContent):
            raise EncodeError("a report segment needs ReportContent")
        body = _report_body(c)
    elif t == SegmentType.REPORT_ACK:
        body = encode_sdnv(int(c))  # type: ignore[arg-type]
    elif t in (SegmentType.CANCEL_FROM_SENDER, SegmentType.CANCEL_FROM_RECEIVER):
        body = _reason_byte(int(c))  # type: ignore[arg-type]
    else:
        body = b""
    hx, tx = segment.header_extensions, segment.trailer_extensions
    if len(hx) > 15 or len(tx) > 15:
        raise EncodeError("at most 15 header and 15 trailer extensions")
    out = bytearray(((LTP_VERSION << 4) | t,))
    out += encode_sdnv(segment.engine_id) + encode_sdnv(segment.session_number)
    out.append((len(hx) << 4) | len(tx))
    for tag, value in hx:
        out += bytes((tag,)) + encode_sdnv(len(value)) + value
    out += body
    for tag, value in tx:
        out += bytes((tag,)) + encode_sdnv(len(value)) + value
    return bytes(out)


def _extensions(data: bytes, pos: int, count: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    out = []
    for _ in range(count):
        if pos >= len(data):
            raise DecodeError("truncated extension", offset=pos)
        tag = data[pos]
        length, pos = decode_sdnv(data, pos + 1)
        if pos + length > len(data):
            raise DecodeError("extension longer than the segment", offset=pos)
        out.append((tag, bytes(data[pos : pos + length])))
        pos += length
    return tuple(out), pos


def decode_segment(data: bytes) -> Segment:
    """Parse one segment (one UDP datagram). Raises `DecodeError` with the byte offset on any malformation."""
    data = bytes(data)
    if not data:
        raise DecodeError("empty segment", offset=0)
    control = data[0]
    if control >> 4 != LTP_VERSION:
        raise DecodeError(f"unsupported LTP version {control >> 4}", offset=0)
    t = SegmentType(control & 0x0F)
    engine_id, pos = decode_sdnv(data, 1)
    session_number, pos = decode_sdnv(data, pos)
    if pos >= len(data):
        raise DecodeError("truncated header", offset=pos)
    counts = data[pos]
    pos += 1
    hx, pos = _extensions(data, pos, counts >> 4)
    trailer_count = counts & 0x0F
    content: DataContent | ReportContent | int | None
    if t in DATA_TYPES:
        if t in (SegmentType.GREEN_UNDEFINED_5, SegmentType.GREEN_UNDEFINED_6):
            raise DecodeError(f"undefined data segment type 0x{int(t):x}", offset=0)
        csid, pos = decode_sdnv(data, pos)
        offset, pos = decode_sdnv(data, pos)
        length, pos = decode_sdnv(data, pos)
        cp = rp = None
        if t in CHECKPOINT_TYPES:
            cp, pos = decode_sdnv(data, pos)
            rp, pos = decode_sdnv(data, pos)
        if pos + length > len(data):
            raise DecodeError(f"data length {length} exceeds the segment", offset=pos)
        content = DataContent(csid, offset, data[pos : pos + length], cp, rp)
        pos += length
    elif t == SegmentType.REPORT:
        rs, pos = decode_sdnv(data, pos)
        cp, pos = decode_sdnv(data, pos)
        upper, pos = decode_sdnv(data, pos)
        lower, pos = decode_sdnv(data, pos)
        count, pos = decode_sdnv(data, pos)
        if lower > upper:
            raise DecodeError("report lower bound above upper bound", offset=pos)
        if count > len(data) - pos:  # every claim takes at least two bytes: bounds the list before building it
            raise DecodeError(f"claim count {count} exceeds the segment", offset=pos)
        claims = []
        for _ in range(count):
            c_off, pos = decode_sdnv(data, pos)
            c_len, pos = decode_sdnv(data, pos)
            if lower + c_off + c_len > upper:
                raise DecodeError("reception claim beyond the report's upper bound", offset=pos)
            claims.append(Claim(c_off, c_len))
        content = ReportContent(rs, cp, upper, lower, tuple(claims))
    elif t == SegmentType.REPORT_ACK:
        content, pos = decode_sdnv(data, pos)
    elif t in (SegmentType.CANCEL_FROM_SENDER, SegmentType.CANCEL_FROM_RECEIVER):
        if pos >= len(data):
            raise DecodeError("cancel segment without a reason code", offset=pos)
        content = data[pos]
        pos += 1
    elif t in (SegmentType.CANCEL_ACK_TO_SENDER, SegmentType.CANCEL_ACK_TO_RECEIVER):
        content = None
    else:
        raise DecodeError(f"undefined control segment type 0x{int(t):x}", offset=0)
    tx, pos = _extensions(data, pos, trailer_count)
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} trailing bytes after the segment", offset=pos)
    return Segment(t, engine_id, session_number, content, hx, tx)
