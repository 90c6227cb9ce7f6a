"""Exact wire bytes of every TCPCLv4 message (RFC 9174 §4.2, §4.6, §5.1, §5.2, §6.1)."""

import pytest

from dtn.errors import EncodeError
from dtn.tcpcl import (
    ContactHeader,
    ExtensionItem,
    Keepalive,
    MessageType,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermReason,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    encode,
    parse_extension_items,
    transfer_length_item,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_codes_match_the_rfc_tables():
    assert [int(t) for t in MessageType] == [1, 2, 3, 4, 5, 6, 7]
    assert MessageType.SESS_INIT == 0x07 and MessageType.XFER_SEGMENT == 0x01
    assert SessTermReason.VERSION_MISMATCH == 2 and SessTermReason.RESOURCE_EXHAUSTION == 5
    assert XferRefuseReason.SESSION_TERMINATING == 6 and XferRefuseReason.EXTENSION_FAILURE == 5
    assert MsgRejectReason.MESSAGE_UNEXPECTED == 3
    assert XferSegmentFlag.START == 0x02 and XferSegmentFlag.END == 0x01


@pytest.mark.parametrize(
    "msg, wire",
    [
        (ContactHeader(), b"dtn!\x04\x00"),
        (ContactHeader(can_tls=True), b"dtn!\x04\x01"),
        (
            SessInit(30, 1024, 4096, "ipn:1.0"),
            h("07 001e 0000000000000400 0000000000001000 0007") + b"ipn:1.0" + h("00000000"),
        ),
        (
            XferSegment(1, b"abc"),
            h("01 03 0000000000000001 00000000 0000000000000003 616263"),
        ),
        (
            XferSegment(1, b"abc", XferSegmentFlag.START, (transfer_length_item(3),)),
            h("01 02 0000000000000001 0000000d 00 0001 0008 0000000000000003 0000000000000003 616263"),
        ),
        (XferSegment(9, b"z", XferSegmentFlag.END), h("01 01 0000000000000009 0000000000000001 7a")),
        (XferAck(1, 3, XferSegmentFlag.END), h("02 01 0000000000000001 0000000000000003")),
        (XferRefuse(1, XferRefuseReason.NO_RESOURCES), h("03 02 0000000000000001")),
        (Keepalive(), h("04")),
        (SessTerm(SessTermReason.IDLE_TIMEOUT, reply=True), h("05 01 01")),
        (MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 7), h("06 03 07")),
    ],
)
def test_encode_exact_bytes(msg, wire):
    assert encode(msg) == wire


def test_extension_items_round_trip_and_critical_flag():
    items = (ExtensionItem(0x1234, b"\x01\x02", critical=True), ExtensionItem(1, b""))
    session_init = encode(SessInit(0, 1, 1, "dtn://a/", items))
    raw = session_init[-(5 + 2 + 5) :]
    assert raw[0] == 0x01  # CRITICAL
    assert parse_extension_items(raw) == items
    assert parse_extension_items(raw[:-1]) is None  # truncated list does not parse


@pytest.mark.parametrize(
    "msg",
    [
        SessInit(1 << 16, 1, 1, "ipn:1.0"),
        SessInit(1, -1, 1, "ipn:1.0"),
        XferAck(1 << 64, 0),
        XferRefuse(1, 256),
        SessTerm(300),
        "not a message",
    ],
)
def test_encode_rejects_out_of_range(msg):
    with pytest.raises(EncodeError):
        encode(msg)


# ------------------------------------------------------------------------------- the reader mirrors encode()
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dtn.tcpcl import NEED_DATA, Reader, SegmentData, SegmentHeader, encode_extension_items  # noqa: E402
from dtn.tcpcl.messages import ContactHeader, Keepalive, MsgReject, SessInit, SessTerm, XferAck, XferRefuse  # noqa: E402

from ..conftest import examples  # noqa: E402

_u64 = st.integers(0, (1 << 64) - 1)
_items = st.lists(
    st.builds(ExtensionItem, st.integers(0, 0xFFFF), st.binary(max_size=8), st.booleans()), max_size=2
).map(tuple)
_messages = st.one_of(
    st.builds(XferAck, _u64, _u64, st.integers(0, 3)),
    st.builds(XferRefuse, _u64, st.integers(0, 255)),
    st.just(Keepalive()),
    st.builds(SessTerm, st.integers(0, 255), st.booleans()),
    st.builds(MsgReject, st.integers(0, 255), st.integers(0, 255)),
    st.builds(SessInit, st.integers(0, 0xFFFF), _u64, _u64, st.text(min_size=1, max_size=20), _items),
)


def _read_all(reader: Reader, wire: bytes, cuts: list[int]) -> list:
    items = []
    bounds = [0] + sorted(c % (len(wire) + 1) for c in cuts) + [len(wire)]
    for start, end in zip(bounds, bounds[1:]):
        reader.feed(wire[start:end])
        while (item := reader.next_item()) is not NEED_DATA:
            items.append(bytes(item.data) if isinstance(item, SegmentData) else item)
    return items


@settings(max_examples=examples(200))
@given(msgs=st.lists(_messages, max_size=6), can_tls=st.booleans(), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_reader_returns_what_encode_wrote_in_any_chunking(msgs, can_tls, cuts):
    reader = Reader(segment_mru_bytes=1 << 20, max_extension_items_bytes=1 << 16)
    wire = encode(ContactHeader(can_tls=can_tls)) + b"".join(encode(m) for m in msgs)
    assert _read_all(reader, wire, cuts) == [ContactHeader(can_tls=can_tls), *msgs]
    assert reader.buffered_bytes == 0


@settings(max_examples=examples(100))
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_reader_streams_segment_data_in_pieces(data, cuts):
    reader = Reader(segment_mru_bytes=1 << 20, max_extension_items_bytes=1 << 16)
    length_item = (transfer_length_item(len(data)),)
    wire = encode(ContactHeader()) + encode(XferSegment(7, data, XferSegmentFlag.START, length_item))
    items = _read_all(reader, wire, cuts)
    assert items[1] == SegmentHeader(7, int(XferSegmentFlag.START), encode_extension_items(length_item), len(data))
    assert b"".join(items[2:]) == data
