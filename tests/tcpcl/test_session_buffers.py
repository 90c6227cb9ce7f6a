"""The machine's receive-buffer protocol (get_buffer / buffer_updated) and in-place transfer buffers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.errors import LocalProtocolError
from dtn.tcpcl import (
    ContactHeader,
    IncomingTransferRefused,
    Role,
    SessInit,
    Session,
    TransferReceived,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    encode,
    transfer_length_item,
)
from dtn.tcpcl.session import SPARE_BUFFERS_MAX_BYTES

from ..conftest import examples

START, END = int(XferSegmentFlag.START), int(XferSegmentFlag.END)
from .machines import ACTIVE_ID, PASSIVE_ID, config

LIMITS = dict(segment_mru_bytes=64, transfer_mru_bytes=400, max_buffered_bytes=600, keepalive_s=0)
PREFIX = encode(ContactHeader()) + encode(SessInit(0, 64, 400, ACTIVE_ID))


def passive(**kwargs) -> Session:
    return Session(config(PASSIVE_ID, **{**LIMITS, **kwargs}), Role.PASSIVE, now_s=0.0)


def feed_by_buffer(session: Session, stream: bytes, sizes: list[int]) -> None:
    """Deliver `stream` through get_buffer/buffer_updated, asking for the given sizes in turn."""
    pos, i = 0, 0
    while pos < len(stream) and not session.closed:
        buffer = session.get_buffer(sizes[i % len(sizes)] if sizes else 256)
        i += 1
        n = min(len(buffer), len(stream) - pos)
        buffer[:n] = stream[pos : pos + n]
        del buffer
        session.buffer_updated(n)
        pos += n


def collect(session: Session) -> tuple[list, bytes]:
    events = session.events()
    out = session.data_to_send()
    for event in events:
        if isinstance(event, TransferReceived):
            out += session.accept_transfer(event.transfer_id)
    return [(type(e).__name__, bytes(e.data) if isinstance(e, TransferReceived) else e) for e in events], out


transfers = st.lists(st.tuples(st.binary(max_size=150), st.integers(1, 64), st.booleans()), max_size=5)


def stream_of(items) -> bytes:
    """Transfers cut into segments; `declare` adds the Transfer Length extension."""
    out = PREFIX
    for tid, (data, seg, declare) in enumerate(items):
        chunks = [data[i : i + seg] for i in range(0, len(data), seg)] or [b""]
        for k, chunk in enumerate(chunks):
            flags = (START if k == 0 else 0) | (END if k == len(chunks) - 1 else 0)
            items_ = (transfer_length_item(len(data)),) if declare and k == 0 else ()
            out += encode(XferSegment(tid, chunk, flags, items_))
    return out


@settings(max_examples=examples(150))
@given(items=transfers, sizes=st.lists(st.integers(1, 300), max_size=6), threshold=st.sampled_from([0, 1, 40, 10**6]))
def test_buffer_protocol_gives_the_same_events_as_receive_data(items, sizes, threshold):
    stream = stream_of(items)
    a = passive(preallocate_min_bytes=threshold)
    a.receive_data(stream)
    b = passive(preallocate_min_bytes=threshold)
    feed_by_buffer(b, stream, sizes)
    assert collect(a) == collect(b)
    expected = [data for data, _, _ in items]
    received = [e for e in collect_again(stream, threshold, sizes) if isinstance(e, TransferReceived)]
    assert [bytes(e.data) for e in received] == expected
    for event, (data, _, declare) in zip(received, items):
        in_place = declare and len(data) >= threshold
        assert type(event.data) is (bytearray if in_place else bytes)


def collect_again(stream: bytes, threshold: int, sizes: list[int]) -> list:
    session = passive(preallocate_min_bytes=threshold)
    events = []
    feed_by_buffer(session, stream, sizes)
    for event in session.events():
        events.append(event)
        if isinstance(event, TransferReceived):
            session.accept_transfer(event.transfer_id)
    return events


def test_large_declared_transfer_is_written_in_place_and_recycled():
    session = passive(preallocate_min_bytes=100)
    data = bytes(range(200))
    stream = PREFIX + encode(XferSegment(0, data[:64], START, (transfer_length_item(200),)))
    stream += encode(XferSegment(0, data[64:128], 0)) + encode(XferSegment(0, data[128:192], 0))
    stream += encode(XferSegment(0, data[192:], END))
    seen_direct = []
    pos = 0
    while pos < len(stream):
        buffer = session.get_buffer(40)
        seen_direct.append(buffer.obj is not session._scratch)
        n = min(len(buffer), len(stream) - pos)
        buffer[:n] = stream[pos : pos + n]
        session.buffer_updated(n)
        pos += n
    assert any(seen_direct)  # segment data went straight into the transfer buffer
    (event,) = [e for e in session.events() if isinstance(e, TransferReceived)]
    assert type(event.data) is bytearray and event.data == data
    session.accept_transfer(0)
    first = event.data
    session.recycle_buffer(first)
    session.receive_data(
        encode(XferSegment(1, b"\x07" * 64, START, (transfer_length_item(150),)))
        + encode(XferSegment(1, b"\x07" * 64, 0)) + encode(XferSegment(1, b"\x07" * 22, END))
    )
    (second,) = [e for e in session.events() if isinstance(e, TransferReceived)]
    assert second.data is first and second.data == b"\x07" * 150  # reused, shrunk, fully overwritten


def test_recycle_keeps_at_most_two_buffers_within_the_limit():
    session = passive(preallocate_min_bytes=1)
    buffers = [bytearray(10) for _ in range(3)]
    for buffer in buffers:
        session.recycle_buffer(buffer)
    session.recycle_buffer(buffers[0])  # twice: kept once
    session.recycle_buffer(b"bytes are not reused")
    session.recycle_buffer(bytearray(SPARE_BUFFERS_MAX_BYTES + 1))
    assert session._spares == buffers[:2]


def test_refusal_while_a_buffer_is_lent_skips_the_rest_of_the_transfer():
    session = passive(preallocate_min_bytes=1, max_buffered_bytes=600)
    session.receive_data(PREFIX + encode(XferSegment(0, b"a" * 64, START, (transfer_length_item(100),)))[:-30])
    buffer = session.get_buffer(1000)
    assert len(buffer) == 30  # the rest of this segment, in the transfer buffer
    session.refuse_transfer(0, XferRefuseReason.NOT_ACCEPTABLE)
    buffer[:] = b"a" * 30
    session.buffer_updated(30)
    session.receive_data(encode(XferSegment(0, b"b" * 36, END)) + encode(XferSegment(1, b"ok", START | END)))
    events = session.events()
    assert not any(isinstance(e, TransferReceived) and e.transfer_id == 0 for e in events)
    assert [bytes(e.data) for e in events if isinstance(e, TransferReceived)] == [b"ok"]
    assert session.buffered_bytes == 2


def test_preallocation_respects_max_buffered_bytes():
    session = passive(preallocate_min_bytes=1, transfer_mru_bytes=400, max_buffered_bytes=300)
    session.receive_data(PREFIX + encode(XferSegment(0, b"x" * 10, START, (transfer_length_item(350),))))
    assert session._in_buffer is None  # would exceed max_buffered_bytes: not allocated up front
    session.receive_data(encode(XferSegment(0, b"x" * 64, 0)) * 5)
    assert any(isinstance(e, IncomingTransferRefused) for e in session.events())


def test_buffer_protocol_misuse_is_a_local_error_and_zero_is_end_of_stream():
    session = passive()
    with pytest.raises(LocalProtocolError):
        session.buffer_updated(1)
    buffer = session.get_buffer(16)
    assert len(buffer) == 16
    with pytest.raises(LocalProtocolError):
        session.buffer_updated(17)
    session.get_buffer(16)
    session.buffer_updated(0)
    assert session.closed
    active = Session(config(ACTIVE_ID), Role.ACTIVE)
    with pytest.raises(LocalProtocolError):
        active.get_buffer(16)  # before our contact header
