"""Property tests of the TCPCLv4 machine: chunking never matters, hostile input never crashes it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.errors import RemoteProtocolError
from dtn.tcpcl import (
    ContactHeader,
    ExtensionItem,
    Keepalive,
    MsgReject,
    Role,
    SessInit,
    Session,
    SessTerm,
    TransferAcked,
    TransferReceived,
    XferAck,
    XferRefuse,
    XferSegment,
    encode,
)

from ..conftest import examples
from .machines import ACTIVE_ID, PASSIVE_ID, config, established_pair

LIMITS = dict(
    segment_mru_bytes=64,
    transfer_mru_bytes=200,
    max_buffered_bytes=300,
    max_extension_items_bytes=64,
    keepalive_s=5,
    idle_timeout_s=50.0,
)

ids = st.integers(0, 6)
small = st.binary(max_size=80)
items = st.lists(st.builds(ExtensionItem, st.integers(0, 3), st.binary(max_size=10), st.booleans()), max_size=2).map(
    tuple
)
messages = st.one_of(
    st.builds(XferSegment, ids, small, st.integers(0, 255), items),
    st.builds(XferAck, ids, st.integers(0, 300), st.integers(0, 3)),
    st.builds(XferRefuse, ids, st.integers(0, 8)),
    st.just(Keepalive()),
    st.builds(SessTerm, st.integers(0, 7), st.booleans()),
    st.builds(MsgReject, st.integers(0, 5), st.integers(0, 9)),
    st.builds(
        SessInit,
        st.integers(0, 100),
        st.integers(0, 100),
        st.integers(0, 300),
        st.sampled_from([ACTIVE_ID, "dtn://x/", "", "bad id"]),
        items,
    ),
)


def run_passive(stream: bytes, cuts: list[int]) -> tuple[list, bytes, int | None]:
    """Feed `stream` cut at `cuts` into a passive session; accept every transfer at the end."""
    session = Session(config(PASSIVE_ID, **LIMITS), Role.PASSIVE, now_s=0.0)
    events, out, error = [], b"", None
    bounds = [0] + sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]
    try:
        for start, end in zip(bounds, bounds[1:]):
            if end > start:
                session.receive_data(stream[start:end], now_s=1.0)
                events += session.events()
                out += session.data_to_send()
    except RemoteProtocolError as exc:
        assert exc.reason_code is not None
        error = exc.reason_code
    events += session.events()
    for event in events:
        if isinstance(event, TransferReceived) and not session.closed:
            out += session.accept_transfer(event.transfer_id)
    assert session.buffered_bytes <= LIMITS["max_buffered_bytes"]
    return events, out + session.data_to_send(), error


prefix = encode(ContactHeader()) + encode(SessInit(5, 64, 200, ACTIVE_ID))


@settings(max_examples=examples(200))
@given(
    body=st.lists(messages, max_size=12),
    garbage=st.binary(max_size=8),
    established=st.booleans(),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_chunking_gives_the_same_events_and_bytes(body, garbage, established, cuts):
    stream = (prefix if established else encode(ContactHeader())) + b"".join(encode(m) for m in body) + garbage
    assert run_passive(stream, cuts) == run_passive(stream, [])


@settings(max_examples=examples(300))
@given(stream=st.binary(max_size=200), cuts=st.lists(st.integers(0, 400), max_size=6), keep_prefix=st.booleans())
def test_random_bytes_never_crash_the_machine(stream, cuts, keep_prefix):
    run_passive((prefix if keep_prefix else b"") + stream, cuts)


@settings(max_examples=examples(200))
@given(body=st.lists(messages, max_size=15), timer_steps=st.lists(st.floats(0, 30), max_size=4))
def test_random_message_orders_to_an_active_entity(body, timer_steps):
    session = Session(config(ACTIVE_ID, **LIMITS), Role.ACTIVE, now_s=0.0)
    session.start()
    try:
        session.receive_data(encode(ContactHeader()) + encode(SessInit(3, 64, 200, PASSIVE_ID)))
        if session.established:
            session.begin_transfer(b"payload" * 5)
            list(session.transfer_segments(0))
        now = 0.0
        for message, step in zip(body, timer_steps + [0.0] * len(body)):
            now += step
            session.handle_timer(now)
            session.receive_data(encode(message), now_s=now)
    except RemoteProtocolError as exc:
        assert exc.reason_code is not None
    session.data_to_send()


@settings(max_examples=examples(100))
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    segment_bytes=st.integers(1, 128),
    mru=st.integers(1, 128),
)
def test_every_transfer_arrives_intact_and_is_acknowledged(payloads, segment_bytes, mru):
    a, p = established_pair(
        active_kwargs={"send_segment_bytes": segment_bytes},
        passive_kwargs={"segment_mru_bytes": mru, "transfer_mru_bytes": 1000},
    )
    delivered, acked = [], []
    for data in payloads:
        tid = a.begin_transfer(data)
        for segment in a.transfer_segments(tid):
            p.receive_data(segment)
            for event in p.events():
                if isinstance(event, TransferReceived):
                    delivered.append(event.data)
                    a.receive_data(p.data_to_send() + p.accept_transfer(event.transfer_id))
            if acks := p.data_to_send():  # b"" would mean end of stream
                a.receive_data(acks)
        acked += [e.transfer_id for e in a.events() if isinstance(e, TransferAcked)]
    assert delivered == payloads
    assert acked == list(range(len(payloads)))
