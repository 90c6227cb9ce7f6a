"""The TCPCLv3 machine without sockets: codec round trips, negotiation, acks in order, refusals, timers,
hostile bytes, and a property test of two machines over any chunking."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.errors import DecodeError, LocalProtocolError
from dtn.tcpclv3 import (
    AckSegment,
    ContactFlag,
    ContactHeader,
    DataSegment,
    Keepalive,
    Length,
    RefuseBundle,
    RefuseReason,
    Session,
    SessionEnded,
    SessionEstablished,
    Shutdown,
    ShutdownReason,
    State,
    TcpclV3Config,
    TransferAcked,
    TransferReceived,
    TransferRefused,
    encode,
    parse_contact_header,
    sdnv_decode,
    sdnv_encode,
)
from dtn.tcpclv3.session import IncomingTransferRefused, KeepaliveReceived, ShutdownReceived


def pair(a_cfg=None, b_cfg=None):
    a = Session(a_cfg or TcpclV3Config("ipn:1.0"))
    b = Session(b_cfg or TcpclV3Config("ipn:2.0"))
    wa, wb = a.start(), b.start()
    a.receive_data(wb)
    b.receive_data(wa)
    return a, b


def pump(src: Session, dst: Session, data: bytes, chunk: int = 1 << 30) -> None:
    for i in range(0, len(data), chunk):
        dst.receive_data(data[i : i + chunk])


@given(st.integers(0, (1 << 64) - 1))
def test_sdnv_round_trip(value):
    raw = sdnv_encode(value)
    assert sdnv_decode(raw, 0) == (value, len(raw))
    assert sdnv_decode(raw[:-1], 0) is None


def test_sdnv_known_values_and_limits():
    assert sdnv_encode(0) == b"\x00" and sdnv_encode(127) == b"\x7f" and sdnv_encode(128) == b"\x81\x00"
    assert sdnv_encode(0xABC) == b"\x95\x3c"  # RFC 5050 §4.1 example: 0xABC -> 10010101 00111100
    with pytest.raises(DecodeError, match="longer than 10"):
        sdnv_decode(b"\x80" * 11, 0)
    with pytest.raises(DecodeError, match="64 bits"):
        sdnv_decode(b"\xff" * 9 + b"\x7f", 0)


def test_contact_header_bytes():
    raw = encode(ContactHeader("ipn:1.0", ContactFlag.REQUEST_ACK, 15))
    assert raw == b"dtn!\x03\x01\x00\x0f\x07ipn:1.0"
    assert parse_contact_header(raw, max_eid_bytes=64) == (
        ContactHeader("ipn:1.0", ContactFlag.REQUEST_ACK, 15),
        len(raw),
    )
    assert parse_contact_header(raw[:9], max_eid_bytes=64) is None
    with pytest.raises(DecodeError, match="magic"):
        parse_contact_header(b"dtx!", max_eid_bytes=64)
    with pytest.raises(DecodeError, match="exceeds"):
        parse_contact_header(raw, max_eid_bytes=3)


def test_message_bytes_match_rfc_7242_layout():
    assert encode(DataSegment(b"ab")) == b"\x13\x02ab"
    assert encode(DataSegment(b"ab", flags=0)) == b"\x10\x02ab"
    assert encode(AckSegment(300)) == b"\x20\x82\x2c"
    assert encode(RefuseBundle(RefuseReason.NO_RESOURCES)) == b"\x32"
    assert encode(Keepalive()) == b"\x40"
    assert encode(Shutdown()) == b"\x50"
    assert encode(Shutdown(ShutdownReason.BUSY, 10)) == b"\x53\x02\x0a"
    assert encode(Length(5)) == b"\x60\x05"


def test_negotiation():
    a, b = pair(
        TcpclV3Config("ipn:1.0", keepalive_s=30),
        TcpclV3Config("ipn:2.0", keepalive_s=10, allow_refusal=False, request_length=True),
    )
    est = [e for e in a.events() if isinstance(e, SessionEstablished)][0]
    assert est.peer_eid == "ipn:2.0" and est.keepalive_s == 10 and est.acks and not est.refusal and est.send_length
    assert a.send_length and not b.send_length
    a2, b2 = pair(TcpclV3Config("ipn:1.0", keepalive_s=0), TcpclV3Config("ipn:2.0", request_acks=False))
    assert a2.keepalive_s == 0 and not a2.acks and not b2.acks


def test_final_ack_waits_for_accept_and_later_acks_queue_behind_it():
    a, b = pair(TcpclV3Config("ipn:1.0", segment_bytes=4))
    a.events(), b.events()
    t1, w1 = a.send_bundle(b"12345678")
    t2, w2 = a.send_bundle(b"abcdef")
    b.receive_data(w1 + w2)
    got = [e for e in b.events() if isinstance(e, TransferReceived)]
    assert [e.data for e in got] == [b"12345678", b"abcdef"]
    out = b.data_to_send()
    assert out == encode(AckSegment(4))  # only the first bundle's non-final ack: its final one waits
    out = b.accept_transfer(got[0].transfer_id)
    assert out == encode(AckSegment(8)) + encode(AckSegment(4))
    a.receive_data(out)
    assert [e for e in a.events() if isinstance(e, TransferAcked)] == [TransferAcked(t1, 8)]
    a.receive_data(b.refuse_transfer(got[1].transfer_id, RefuseReason.RETRANSMIT))
    assert [e for e in a.events() if isinstance(e, TransferRefused)] == [TransferRefused(t2, RefuseReason.RETRANSMIT)]
    with pytest.raises(LocalProtocolError):
        b.accept_transfer(99)


def test_refusal_completed_counts_as_delivered():
    a, b = pair()
    tid, wire = a.send_bundle(b"x")
    a.events()
    a.receive_data(encode(RefuseBundle(RefuseReason.COMPLETED)))
    assert a.events() == [TransferAcked(tid, 1)]


def test_length_sent_when_peer_asks_and_oversized_bundle_refused_before_its_data():
    a, b = pair(TcpclV3Config("ipn:1.0"), TcpclV3Config("ipn:2.0", request_length=True, max_bundle_bytes=10))
    a.events(), b.events()
    tid, wire = a.send_bundle(b"y" * 20)
    assert wire.startswith(encode(Length(20)))
    b.receive_data(wire)
    assert IncomingTransferRefused(1, RefuseReason.NO_RESOURCES) in b.events()
    a.receive_data(b.data_to_send())
    assert a.events() == [TransferRefused(tid, RefuseReason.NO_RESOURCES)]
    tid2, wire = a.send_bundle(b"ok")
    b.receive_data(wire)
    assert [e.data for e in b.events() if isinstance(e, TransferReceived)] == [b"ok"]


def test_without_refusal_store_full_ends_session_busy():
    a, b = pair(TcpclV3Config("ipn:1.0", allow_refusal=False))
    b.events()
    tid, wire = a.send_bundle(b"z")
    b.receive_data(wire)
    (got,) = [e for e in b.events() if isinstance(e, TransferReceived)]
    out = b.refuse_transfer(got.transfer_id, RefuseReason.NO_RESOURCES)
    assert out == encode(Shutdown(ShutdownReason.BUSY)) and b.closed


def test_keepalive_and_idle_timeout():
    a, b = pair(TcpclV3Config("ipn:1.0", keepalive_s=5), TcpclV3Config("ipn:2.0", keepalive_s=5))
    a.data_to_send()
    assert a.timer_deadline_s() == 5
    a.handle_timer(5.0)
    assert a.data_to_send() == encode(Keepalive())
    b.receive_data(encode(Keepalive()), now_s=5.0)
    assert KeepaliveReceived() in b.events()
    a.receive_data(encode(Keepalive()), now_s=5.0)  # the peer's keepalive
    a.handle_timer(10.0)
    assert a.data_to_send() == encode(Keepalive()) and not a.closed
    a.handle_timer(14.9)
    assert not a.closed  # heard at 5: idle only at 5 + 2 x 5
    a.handle_timer(15.0)
    assert a.closed and a.data_to_send() == encode(Shutdown(ShutdownReason.IDLE_TIMEOUT))


def test_contact_timeout_and_version_mismatch():
    s = Session(TcpclV3Config("ipn:1.0", contact_timeout_s=2))
    s.start()
    s.handle_timer(2.0)
    assert s.closed and s.events()[-1].error.startswith("no contact header")
    s = Session(TcpclV3Config("ipn:1.0"))
    s.start()
    s.receive_data(b"dtn!\x04\x00\x00\x00")
    assert s.closed and s.data_to_send() == encode(Shutdown(ShutdownReason.VERSION_MISMATCH))


def test_shutdown_exchange_is_clean():
    a, b = pair()
    a.events(), b.events()
    b.receive_data(a.close(ShutdownReason.BUSY))
    assert b.events() == [ShutdownReceived(ShutdownReason.BUSY, None), SessionEnded(True, ShutdownReason.BUSY, None)]
    assert a.state is State.ENDING
    a.receive_data(b.data_to_send())
    assert a.closed and a.events()[-1].clean


@pytest.mark.parametrize(
    "hostile, why",
    [
        (b"\x00", "unknown TCPCLv3 message type"),
        (b"\xf0", "unknown TCPCLv3 message type"),
        (b"\x11\x01a", "never started"),
        (b"\x12\x01a\x12\x01b", "previous one is incomplete"),
        (b"\x20\x05", "no bundle of ours"),
        (b"\x30", "no bundle of ours"),
        (b"\x1f\x01a", "reserved flag"),
        (b"\x60" + b"\xff" * 11, "SDNV"),
    ],
)
def test_hostile_messages_end_the_session_with_shutdown(hostile, why):
    a, b = pair()
    a.events()
    a.data_to_send()
    a.receive_data(hostile)
    ended = a.events()[-1]
    assert isinstance(ended, SessionEnded) and not ended.clean and why in ended.error
    assert a.data_to_send().endswith(encode(Shutdown()))


def test_huge_announced_segment_without_refusal_ends_session_not_memory():
    a, b = pair(TcpclV3Config("ipn:1.0", allow_refusal=False, max_bundle_bytes=1000))
    a.events()
    a.receive_data(b"\x13" + sdnv_encode(1 << 40) + b"x" * 100)
    assert a.closed and "max_bundle_bytes" in a.events()[-1].error and a.buffered_bytes == 0


@settings(max_examples=60, deadline=None)
@given(
    bundles=st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=8),
    segment=st.integers(1, 700),
    chunk=st.integers(1, 500),
    acks=st.booleans(),
    length=st.booleans(),
)
def test_two_machines_deliver_every_bundle_in_order_over_any_chunking(bundles, segment, chunk, acks, length):
    a, b = pair(
        TcpclV3Config("ipn:1.0", segment_bytes=segment, request_acks=acks),
        TcpclV3Config("ipn:2.0", request_length=length, request_acks=acks),
    )
    a.events(), b.events()
    ids = []
    for data in bundles:
        tid, wire = a.send_bundle(data)
        ids.append(tid)
        pump(a, b, wire, chunk)
        for e in b.events():
            if isinstance(e, TransferReceived):
                assert e.data == data
                pump(b, a, b.accept_transfer(e.transfer_id), chunk)
        pump(b, a, b.data_to_send(), chunk)
    acked = [e.transfer_id for e in a.events() if isinstance(e, TransferAcked)]
    assert acked == (ids if acks else [])
    assert not a.closed and not b.closed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_random_bytes_never_raise_and_stay_bounded(junk, chunk):
    a, b = pair(TcpclV3Config("ipn:1.0", max_bundle_bytes=64))
    for i in range(0, len(junk), chunk):
        a.receive_data(junk[i : i + chunk])
    assert a.buffered_bytes <= 64 + 200
    for e in a.events():
        assert not isinstance(e, TransferReceived) or len(e.data) <= 64
