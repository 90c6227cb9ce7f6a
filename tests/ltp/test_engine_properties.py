"""Two engines through a lossy, duplicating, reordering link (hypothesis): the LTP service guarantees."""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtn.ltp.segments import CancelReason
from dtn.twin.udp_emulator import Impairments

from .sim import run_pair


def _blocks(draw_sizes, seed):
    rng = random.Random(seed)
    out = []
    for size, red_fraction in draw_sizes:
        data = rng.randbytes(size)
        out.append((data, round(size * red_fraction)))
    return out


def check_guarantees(out, *, expect_all_delivered: bool = False):
    assert out.quiet, f"still busy at {out.end_s} s"
    assert out.counts == ((0, 0), (0, 0)), f"sessions left open: {out.counts}"
    assert out.import_bytes_left == 0
    for number, (data, red) in out.sent.items():
        delivered = out.delivered.get(number, [])
        assert len(delivered) <= 1, "a red part delivered twice"
        if red == 0:
            assert not delivered
            assert number in out.completed  # green only: complete once sent
            continue
        if delivered:
            assert delivered[0] == data[:red], "red part corrupted"
        if number in out.completed:
            assert delivered, "sender completed a session whose red part never arrived"
        else:
            cancels = out.export_cancelled.get(number)
            assert cancels, f"session {number}: neither completed nor cancelled"
            assert all(c.reason in set(CancelReason) for c in cancels)
            if not delivered and number in out.seen_by_receiver:
                assert out.import_cancelled.get(number), "receiver knew the session but reported no cancel"
        if expect_all_delivered:
            assert delivered
    for number, cancels in out.import_cancelled.items():
        if number in out.sent and out.sent[number][1]:
            assert out.export_cancelled.get(number) or number in out.completed
    for (number, offset), times in out.green_transmissions.items():
        assert times == 1, f"green data at {offset} of session {number} sent {times} times"
    for number, segments in out.green.items():
        data, red = out.sent[number]
        for offset, chunk in segments:
            assert offset >= red and data[offset : offset + len(chunk)] == chunk


sizes = st.lists(st.tuples(st.integers(1, 20000), st.sampled_from([1.0, 1.0, 0.5, 0.0])), min_size=1, max_size=6)
impairments = st.builds(
    Impairments,
    owlt_s=st.sampled_from([0.0, 0.05, 1.3]),
    loss=st.floats(0, 0.5),
    burst_start=st.sampled_from([0.0, 0.0, 0.01, 0.05]),
    burst_length=st.sampled_from([1.0, 3.0, 10.0]),
    duplicate=st.floats(0, 0.2),
    reorder=st.floats(0, 0.3),
    reorder_s=st.sampled_from([0.001, 0.05, 0.5]),
)


@settings(
    max_examples=int(os.environ.get("LTP_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(sizes=sizes, forward=impairments, backward=impairments, seed=st.integers(0, 2**16))
def test_red_delivered_once_or_cancelled_on_both_sides(sizes, forward, backward, seed):
    backward = backward.with_(owlt_s=forward.owlt_s)
    out, _, _ = run_pair(_blocks(sizes, seed), forward=forward, backward=backward, seed=seed)
    check_guarantees(out)


@settings(max_examples=int(os.environ.get("LTP_EXAMPLES", 25)), deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**16), loss=st.floats(0, 0.1))
def test_moderate_loss_delivers_everything(sizes, seed, loss):
    imp = Impairments(owlt_s=1.3, loss=loss, duplicate=0.02, reorder=0.05, reorder_s=0.05)
    out, _, _ = run_pair(_blocks(sizes, seed), forward=imp, backward=imp, seed=seed, config={"max_retransmissions": 20})
    check_guarantees(out, expect_all_delivered=True)


@settings(max_examples=int(os.environ.get("LTP_EXAMPLES", 15)), deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**16), down_s=st.floats(50, 500))
def test_timers_suspended_while_the_span_is_down(sizes, seed, down_s):
    """A contact gap far longer than every retransmission limit cancels nothing (RFC 5326 §6.2)."""
    imp = Impairments(owlt_s=0.5, loss=0.2)
    out, _, _ = run_pair(
        _blocks(sizes, seed),
        forward=imp,
        backward=imp,
        seed=seed,
        down=[(0.3, 0.3 + down_s), (down_s + 2.0, 2 * down_s + 2.0)],
        config={"max_retransmissions": 20, "inactivity_s": 30.0},
    )
    check_guarantees(out, expect_all_delivered=True)
    assert not out.export_cancelled
    # A receiver that lost the first green segment of an all-green block cannot tell it from a block whose red
    # part is missing: it gives up on it after the inactivity time (a harmless cancel: the sender is done).
    red_sessions = {n for n, (_, red) in out.sent.items() if red}
    assert not red_sessions & set(out.import_cancelled)


def test_one_way_link_cancels_with_a_reason_on_both_sides():
    blocks = [(bytes(range(256)) * 20, 5120)]
    out, a, b = run_pair(blocks, forward=Impairments(owlt_s=0.1), backward=Impairments(owlt_s=0.1, up=False))
    check_guarantees(out)
    (number,) = out.sent
    assert out.delivered[number]  # the data went through; the reports never came back
    assert [c.reason for c in out.export_cancelled[number]] == [CancelReason.RLEXC]
    assert out.import_cancelled[number][0].reason in (CancelReason.RLEXC, CancelReason.SYS_CNCLD)


def test_total_loss_cancels_the_sender_and_the_receiver_never_heard():
    blocks = [(b"x" * 3000, 3000)]
    out, _, _ = run_pair(blocks, forward=Impairments(up=False), backward=Impairments())
    check_guarantees(out)
    (number,) = out.sent
    assert out.export_cancelled[number][0].reason == CancelReason.RLEXC
    assert number not in out.seen_by_receiver


def test_import_session_limit_refuses_with_a_cancel():
    blocks = [(bytes([i]) * 500, 500) for i in range(6)]
    out, _, b = run_pair(
        blocks, forward=Impairments(owlt_s=0.1), backward=Impairments(owlt_s=0.1), config={"max_import_sessions": 2}
    )
    check_guarantees(out)
    assert out.max_imports <= 2
    refused = [n for n, c in out.export_cancelled.items() if c[0].reason == CancelReason.SYS_CNCLD and c[0].by_peer]
    assert refused and len(refused) + len(out.completed) == 6


def test_a_hostile_offset_does_not_allocate_the_block():
    """One segment naming offset 200 MiB holds its own bytes only; the import byte budget refuses the rest."""
    from dtn.ltp import LtpConfig, LtpEngine
    from dtn.ltp.engine import ImportCancelled
    from dtn.ltp.segments import SegmentType, encode_data

    b = LtpEngine(LtpConfig(engine_id=2, max_import_bytes=10_000))
    b.add_span(1)
    b.set_span_up(1, True, 0.0)
    b.receive_datagram(encode_data(SegmentType.RED, 1, 7, 1, 200 * 1024 * 1024, b"x" * 1000), 0.0)
    assert b.import_bytes() == 1000
    for i in range(20):
        b.receive_datagram(encode_data(SegmentType.RED, 1, 8 + i, 1, 0, b"y" * 1000), 0.0)
    assert b.import_bytes() <= 10_000
    assert any(isinstance(e, ImportCancelled) and e.reason == CancelReason.SYS_CNCLD for e in b.events())
