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
    raw = session_init[-(5 + 2 + 5):]
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
