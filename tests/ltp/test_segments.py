"""LTP segment codec (RFC 5326 §3): SDNVs, every segment type, extensions, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.errors import DecodeError, EncodeError
from dtn.ltp.segments import (
    CancelReason,
    Claim,
    DataContent,
    ReportContent,
    Segment,
    SegmentType,
    decode_sdnv,
    decode_segment,
    encode_data,
    encode_sdnv,
    encode_segment,
)

u64 = st.integers(0, 2**64 - 1)


def test_sdnv_known_values():
    # RFC 6256 §2.1 examples: 0xABC -> 0x95 0x3C; 0x1234 -> 0xA4 0x34; 0x4234 -> 0x81 0x84 0x34; 0x7F -> 0x7F
    assert encode_sdnv(0xABC) == b"\x95\x3c"
    assert encode_sdnv(0x1234) == b"\xa4\x34"
    assert encode_sdnv(0x4234) == b"\x81\x84\x34"
    assert encode_sdnv(0x7F) == b"\x7f"
    assert encode_sdnv(0) == b"\x00"
    assert decode_sdnv(b"\x81\x84\x34", 0) == (0x4234, 3)


@given(u64)
def test_sdnv_round_trip(value):
    data = encode_sdnv(value)
    assert decode_sdnv(data + b"\x00", 0) == (value, len(data))


def test_sdnv_limits():
    with pytest.raises(EncodeError):
        encode_sdnv(2**64)
    with pytest.raises(EncodeError):
        encode_sdnv(-1)
    with pytest.raises(DecodeError):
        decode_sdnv(b"\x82" + b"\x80" * 9 + b"\x00", 0)  # 2**70: above 64 bits
    with pytest.raises(DecodeError):
        decode_sdnv(b"\x81\x80", 0)  # truncated


def test_red_checkpoint_layout_byte_by_byte():
    data = encode_data(SegmentType.RED_CHECKPOINT_EORP_EOB, 1, 300, 1, 0, b"hi", 5, 0)
    # control (version 0, type 3), engine 1, session 300 = 0x82 0x2c, ext counts 0, client 1, offset 0,
    # length 2, checkpoint serial 5, report serial 0, data
    assert data == bytes([0x03, 0x01, 0x82, 0x2C, 0x00, 0x01, 0x00, 0x02, 0x05, 0x00]) + b"hi"


data_types = st.sampled_from(
    [
        SegmentType.RED,
        SegmentType.RED_CHECKPOINT,
        SegmentType.RED_CHECKPOINT_EORP,
        SegmentType.RED_CHECKPOINT_EORP_EOB,
        SegmentType.GREEN,
        SegmentType.GREEN_EOB,
    ]
)
extensions = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=20)), max_size=3).map(tuple)


@st.composite
def segments(draw):
    kind = draw(st.sampled_from(["data", "report", "ra", "cancel", "cancel_ack"]))
    engine, session = draw(u64), draw(u64)
    if kind == "data":
        t = draw(data_types)
        cp = t in (SegmentType.RED_CHECKPOINT, SegmentType.RED_CHECKPOINT_EORP, SegmentType.RED_CHECKPOINT_EORP_EOB)
        content = DataContent(
            draw(u64), draw(u64), draw(st.binary(max_size=100)), draw(u64) if cp else None, draw(u64) if cp else None
        )
    elif kind == "report":
        t = SegmentType.REPORT
        lower = draw(st.integers(0, 2**40))
        claims = draw(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=10))
        upper = lower + max([o + n for o, n in claims], default=0) + draw(st.integers(0, 10))
        content = ReportContent(draw(u64), draw(u64), upper, lower, tuple(Claim(o, n) for o, n in claims))
    elif kind == "ra":
        t, content = SegmentType.REPORT_ACK, draw(u64)
    elif kind == "cancel":
        t = draw(st.sampled_from([SegmentType.CANCEL_FROM_SENDER, SegmentType.CANCEL_FROM_RECEIVER]))
        content = draw(st.integers(0, 255))
    else:
        t = draw(st.sampled_from([SegmentType.CANCEL_ACK_TO_SENDER, SegmentType.CANCEL_ACK_TO_RECEIVER]))
        content = None
    return Segment(t, engine, session, content, draw(extensions), draw(extensions))


@given(segments())
def test_segment_round_trip(segment):
    assert decode_segment(encode_segment(segment)) == segment


@given(segments(), st.data())
def test_truncation_and_garbage_are_decode_errors(segment, data):
    wire = encode_segment(segment)
    cut = data.draw(st.integers(0, len(wire) - 1))
    try:
        decode_segment(wire[:cut])
    except DecodeError:
        pass
    else:  # a shorter prefix can only decode when the segment ends with variable data
        assert segment.is_data or segment.type in (SegmentType.REPORT,)
    with pytest.raises(DecodeError):
        decode_segment(wire + b"\x00")


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(blob):
    try:
        decode_segment(blob)
    except DecodeError:
        pass


@pytest.mark.parametrize(
    "blob, reason",
    [
        (b"", "empty"),
        (b"\x10\x01\x01\x00", "version"),
        (b"\x05\x01\x01\x00\x01\x00\x00", "undefined"),
        (b"\x0a\x01\x01\x00", "undefined"),
        (b"\x0c\x01\x01\x00", "reason"),
        (b"\x08\x01\x01\x00\x01\x01\x05\x06\x00", "lower bound"),
        (b"\x08\x01\x01\x00\x01\x01\x05\x00\xff\x7f", "claim count"),
    ],
)
def test_malformed_segments_name_the_problem(blob, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_segment(blob)


def test_cancel_reason_codes_match_rfc_5326():
    assert [c.value for c in CancelReason] == [0, 1, 2, 3, 4, 5]
    assert CancelReason.RLEXC == 2 and CancelReason.RXMTCYCEXC == 5


def test_encode_refuses_undefined_types():
    with pytest.raises(EncodeError):
        encode_segment(Segment(SegmentType.CONTROL_UNDEFINED_A, 1, 1))
