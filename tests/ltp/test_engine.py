"""Deterministic engine scenarios: timers, suspension, reports, late segments."""

from __future__ import annotations

from dtn.ltp import LtpConfig, LtpEngine
from dtn.ltp.engine import BlockReceived, ExportCancelled, ExportCompleted
from dtn.ltp.segments import CancelReason, SegmentType, decode_segment, encode_segment


def pair(**cfg):
    a = LtpEngine(LtpConfig(engine_id=1, mtu_bytes=200, timer_margin_s=1.0, max_retransmissions=3, **cfg))
    b = LtpEngine(LtpConfig(engine_id=2, mtu_bytes=200, timer_margin_s=1.0, max_retransmissions=3, **cfg))
    a.add_span(2, owlt_s=1.0)
    b.add_span(1, owlt_s=1.0)
    a.set_span_up(2, True, 0.0)
    b.set_span_up(1, True, 0.0)
    return a, b


def drain(engine, peer, now):
    out = []
    while (d := engine.next_segment(peer, now)) is not None:
        out.append(d)
    return out


def test_checkpoint_timer_is_2_owlt_plus_margin_from_transmission_and_suspended_while_down():
    a, _ = pair()
    a.send_block(2, b"x" * 500, 0.0)
    assert a.next_deadline_s() is None  # queued, not yet transmitted: no timer
    sent = drain(a, 2, 10.0)
    assert decode_segment(sent[-1]).type == SegmentType.RED_CHECKPOINT_EORP_EOB
    assert a.next_deadline_s() == 13.0  # 10 + 2 x 1.0 + 1.0
    a.set_span_up(2, False, 11.0)  # 2 s left on the timer
    assert a.next_deadline_s() is None
    a.handle_timers(5000.0)
    assert a.events() == [] and a.next_segment(2, 5000.0) is None
    a.set_span_up(2, True, 5000.0)
    assert a.next_deadline_s() == 5002.0
    a.handle_timers(5002.0)
    again = drain(a, 2, 5002.0)
    assert [decode_segment(d).type for d in again] == [SegmentType.RED_CHECKPOINT_EORP_EOB]
    assert a.stats["checkpoint_retransmissions"] == 1


def test_retransmission_limit_cancels_with_rlexc():
    a, _ = pair()
    number = a.send_block(2, b"y" * 100, 0.0)
    t, events, checkpoints = 0.0, [], 0
    while not events:
        checkpoints += sum(decode_segment(d).is_checkpoint for d in drain(a, 2, t))
        t += 3.0
        a.handle_timers(t)
        events = a.events()
    assert checkpoints == 4  # the first transmission and max_retransmissions = 3 more
    assert events == [ExportCancelled(2, number, CancelReason.RLEXC, False)]
    cs = [decode_segment(d) for d in drain(a, 2, t)]
    assert cs[0].type == SegmentType.CANCEL_FROM_SENDER and cs[0].content == CancelReason.RLEXC
    for _ in range(5):  # the cancel is retried, then the session is dropped
        t += 3.0
        a.handle_timers(t)
        drain(a, 2, t)
    assert a.session_counts() == (0, 0)


def test_gaps_are_resent_with_a_new_checkpoint_naming_the_report():
    a, b = pair()
    data = bytes(range(256)) * 4
    number = a.send_block(2, data, 0.0)
    segments = drain(a, 2, 0.0)
    for i, d in enumerate(segments):
        if i != 1:  # the second segment is lost
            b.receive_datagram(d, 1.0)
    reports = drain(b, 1, 1.0)
    assert len(reports) == 1
    rs = decode_segment(reports[0]).content
    assert rs.lower_bound == 0 and rs.upper_bound == len(data) and len(rs.claims) == 2
    for d in reports:
        a.receive_datagram(d, 2.0)
    resent = [decode_segment(d) for d in drain(a, 2, 2.0)]
    assert resent[0].type == SegmentType.REPORT_ACK
    assert len(resent) == 2 and resent[1].is_checkpoint and resent[1].content.report_serial == rs.report_serial
    for d in resent:
        b.receive_datagram(encode_segment(d), 3.0)
    assert [e for e in b.events() if isinstance(e, BlockReceived)] == [BlockReceived(1, number, 1, data)]
    for d in drain(b, 1, 3.0):
        a.receive_datagram(d, 4.0)
    assert ExportCompleted(2, number) in a.events()
    for d in drain(a, 2, 4.0):  # the last report acknowledged: the receiver closes too
        b.receive_datagram(d, 5.0)
    assert a.session_counts() == (0, 0) and b.session_counts() == (0, 0)


def test_a_late_checkpoint_for_a_finished_session_gets_a_full_report():
    a, b = pair()
    a.send_block(2, b"z" * 150, 0.0)
    segments = drain(a, 2, 0.0)
    for d in segments:
        b.receive_datagram(d, 1.0)
    for d in drain(b, 1, 1.0):
        a.receive_datagram(d, 2.0)
    for d in drain(a, 2, 2.0):
        b.receive_datagram(d, 3.0)
    assert b.session_counts() == (0, 0)
    b.receive_datagram(segments[-1], 4.0)  # the checkpoint again (duplicated on the link)
    (late,) = [decode_segment(d) for d in drain(b, 1, 4.0)]
    assert late.type == SegmentType.REPORT and late.content.claims[0].length == 150
    assert not [e for e in b.events() if isinstance(e, BlockReceived)][1:]  # delivered once
