"""The TCPCLv4 session machine: negotiation, transfers, limits, timers and termination (RFC 9174)."""

import pytest

from dtn.errors import ConfigError, LocalProtocolError, RemoteProtocolError
from dtn.tcpcl import (
    ContactHeader,
    ExtensionItem,
    IncomingTransferRefused,
    Keepalive,
    KeepaliveReceived,
    MessageRejected,
    MsgReject,
    MsgRejectReason,
    Role,
    SENDABLE,
    SessInit,
    SessionEnded,
    SessionEstablished,
    Session,
    SessTerm,
    SessTermReason,
    SessTermReceived,
    StartTls,
    State,
    TRANSITIONS,
    TcpclConfig,
    TransferAcked,
    TransferReceived,
    TransferRefused,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    XferSegmentReceived,
    encode,
    transfer_length_item,
)

from .machines import ACTIVE_ID, PASSIVE_ID, config, established_pair, passive_after_contact, passive_established, pump

START, END = XferSegmentFlag.START, XferSegmentFlag.END


def test_handshake_negotiates_minimum_keepalive_and_peer_mrus():
    a = Session(config(ACTIVE_ID, keepalive_s=10, segment_mru_bytes=5000), Role.ACTIVE)
    p = Session(config(PASSIVE_ID, keepalive_s=4, transfer_mru_bytes=7000), Role.PASSIVE)
    out = a.start()
    assert out == b"dtn!\x04\x00"
    pump(a, p, out)
    (ch, est) = a.events()
    assert ch.version == 4 and not ch.can_tls
    assert est == SessionEstablished(PASSIVE_ID, 4, 1 << 20, 7000, False, ())
    assert p.events()[-1].peer_segment_mru_bytes == 5000
    assert a.keepalive_s == p.keepalive_s == 4


def test_the_passive_entity_waits_for_the_active_contact_header():
    p = Session(config(PASSIVE_ID), Role.PASSIVE)
    assert p.start() == b""
    assert p.data_to_send() == b""


def test_active_must_send_its_contact_header_before_receiving():
    a = Session(config(), Role.ACTIVE)
    with pytest.raises(LocalProtocolError):
        a.receive_data(b"dtn!\x04\x00")


def test_transfer_is_segmented_acked_per_segment_and_final_ack_waits_for_accept():
    a, p = established_pair(passive_kwargs={}, active_kwargs={"send_segment_bytes": 1000})
    tid, out = a.send_transfer(b"x" * 2500)
    p.receive_data(out)
    events = p.events()
    assert [type(e) for e in events] == [XferSegmentReceived] * 3 + [TransferReceived]
    assert events[-1].data == b"x" * 2500
    assert events[-1].extensions == (transfer_length_item(2500),)
    acks = p.data_to_send()
    assert acks == encode(XferAck(tid, 1000, START)) + encode(XferAck(tid, 2000, XferSegmentFlag.NONE))
    a.receive_data(acks)
    assert not any(isinstance(e, TransferAcked) for e in a.events())
    final = p.accept_transfer(tid)
    assert final == encode(XferAck(tid, 2500, END))
    a.receive_data(final)
    assert a.events()[-1] == TransferAcked(tid, 2500)


def test_segments_respect_the_peer_segment_mru():
    a, p = established_pair(passive_kwargs={"segment_mru_bytes": 100})
    tid = a.begin_transfer(b"y" * 250)
    sizes = [len(s) for s in a.transfer_segments(tid)]
    assert len(sizes) == 3
    assert a.next_segment(tid) is None


def test_transfer_ids_increase_and_transfers_do_not_interleave():
    a, p = established_pair()
    t0 = a.begin_transfer(b"a" * 10)
    with pytest.raises(LocalProtocolError):
        a.begin_transfer(b"b")
    list(a.transfer_segments(t0))
    t1 = a.begin_transfer(b"b")
    assert t1 == t0 + 1


def test_transfer_larger_than_peer_transfer_mru_is_our_error():
    a, p = established_pair(passive_kwargs={"transfer_mru_bytes": 10})
    with pytest.raises(LocalProtocolError):
        a.begin_transfer(b"z" * 11)


def test_node_refusal_sends_xfer_refuse_and_sender_stops():
    a, p = established_pair(active_kwargs={"send_segment_bytes": 10})
    tid = a.begin_transfer(b"q" * 100)
    p.receive_data(a.next_segment(tid))
    p.events()
    a.receive_data(p.data_to_send() + p.refuse_transfer(tid, XferRefuseReason.NO_RESOURCES))
    assert a.events()[-1] == TransferRefused(tid, XferRefuseReason.NO_RESOURCES)
    assert a.next_segment(tid) is None
    assert not a.sending


def test_transfer_over_our_transfer_mru_is_refused_with_no_resources():
    p = passive_established(transfer_mru_bytes=100)
    seg = XferSegment(0, b"x" * 60, START)
    p.receive_data(encode(seg) + encode(XferSegment(0, b"x" * 60, END)))
    assert p.data_to_send() == encode(XferAck(0, 60, START)) + encode(XferRefuse(0, XferRefuseReason.NO_RESOURCES))
    assert IncomingTransferRefused(0, XferRefuseReason.NO_RESOURCES) in p.events()
    assert p.buffered_bytes == 0


def test_declared_transfer_length_over_mru_is_refused_at_start():
    p = passive_established(transfer_mru_bytes=100)
    p.receive_data(encode(XferSegment(0, b"x", START, (transfer_length_item(1000),))))
    assert p.data_to_send() == encode(XferRefuse(0, XferRefuseReason.NO_RESOURCES))


def test_data_beyond_declared_length_is_not_acceptable():
    p = passive_established()
    p.receive_data(encode(XferSegment(0, b"x" * 10, START | END, (transfer_length_item(5),))))
    assert p.data_to_send() == encode(XferRefuse(0, XferRefuseReason.NOT_ACCEPTABLE))


def test_max_buffered_bytes_counts_transfers_awaiting_the_node():
    p = passive_established(max_buffered_bytes=150)
    p.receive_data(encode(XferSegment(0, b"a" * 100)))
    assert isinstance(p.events()[-1], TransferReceived)
    p.receive_data(encode(XferSegment(1, b"b" * 100)))
    assert p.data_to_send() == encode(XferRefuse(1, XferRefuseReason.NO_RESOURCES))
    p.accept_transfer(0)
    p.receive_data(encode(XferSegment(2, b"c" * 100)))
    assert isinstance(p.events()[-1], TransferReceived)


def test_unknown_critical_transfer_extension_is_refused_with_extension_failure():
    p = passive_established()
    p.receive_data(encode(XferSegment(0, b"data", START | END, (ExtensionItem(0x7777, b"?", critical=True),))))
    assert p.data_to_send() == encode(XferRefuse(0, XferRefuseReason.EXTENSION_FAILURE))
    # a non-critical unknown item is ignored
    p.receive_data(encode(XferSegment(1, b"data", START | END, (ExtensionItem(0x7777, b"?"),))))
    assert isinstance(p.events()[-1], TransferReceived)


def test_unknown_critical_session_extension_ends_with_contact_failure():
    p = passive_after_contact()
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(encode(SessInit(30, 100, 100, ACTIVE_ID, (ExtensionItem(0x55, b"", critical=True),))))
    assert info.value.reason_code == SessTermReason.CONTACT_FAILURE
    assert p.data_to_send() == encode(SessTerm(SessTermReason.CONTACT_FAILURE))
    assert p.closed


def test_second_sess_init_is_rejected_as_unexpected_and_session_goes_on():
    p = passive_established()
    p.receive_data(encode(SessInit(30, 100, 100, ACTIVE_ID)))
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x07))
    assert p.established


def test_segment_without_start_and_reused_transfer_id_are_unexpected():
    p = passive_established()
    p.receive_data(encode(XferSegment(5, b"abc", END)))
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x01))
    p.receive_data(encode(XferSegment(5, b"abc")))
    p.accept_transfer(5)
    p.events()
    p.receive_data(encode(XferSegment(5, b"abc")))
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x01))
    assert p.events() == []
    p.receive_data(encode(XferSegment(4, b"abc")))
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x01))


def test_oversize_segment_ends_the_session_with_resource_exhaustion():
    p = passive_established(segment_mru_bytes=100)
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(encode(XferSegment(0, b"x" * 101))[:30])
    assert info.value.reason_code == SessTermReason.RESOURCE_EXHAUSTION
    assert p.data_to_send() == encode(SessTerm(SessTermReason.RESOURCE_EXHAUSTION))


def test_wrong_magic_closes_without_sess_term_as_soon_as_it_is_seen():
    p = Session(config(PASSIVE_ID), Role.PASSIVE)
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(b"GE")
    assert info.value.reason_code == SessTermReason.CONTACT_FAILURE
    assert p.data_to_send() == b""
    assert p.events() == [SessionEnded(SessTermReason.CONTACT_FAILURE, False)]


def test_version_3_gets_our_contact_header_and_version_mismatch():
    p = Session(config(PASSIVE_ID), Role.PASSIVE)
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(b"dtn!\x03\x00\x00\x00")
    assert info.value.reason_code == SessTermReason.VERSION_MISMATCH
    assert p.data_to_send() == b"dtn!\x04\x00" + encode(SessTerm(SessTermReason.VERSION_MISMATCH))


def test_active_closes_on_a_passive_with_another_version():
    a = Session(config(), Role.ACTIVE)
    a.start()
    with pytest.raises(RemoteProtocolError):
        a.receive_data(b"dtn!\x05\x00")
    assert a.data_to_send() == b""


def test_unknown_message_type_gets_msg_reject_and_close():
    p = passive_established()
    with pytest.raises(RemoteProtocolError):
        p.receive_data(b"\x09whatever")
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_TYPE_UNKNOWN, 0x09))
    assert p.closed


def test_messages_before_sess_init_are_unexpected():
    p = passive_after_contact()
    p.receive_data(encode(Keepalive()) + encode(XferSegment(0, b"abc")))
    assert p.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 4)) + encode(
        MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 1)
    )
    assert p.state is State.SESS_INIT


def test_invalid_peer_node_id_and_zero_mru_are_contact_failures():
    for bad in (SessInit(30, 100, 100, "no scheme"), SessInit(30, 0, 100, ACTIVE_ID)):
        p = passive_after_contact()
        with pytest.raises(RemoteProtocolError) as info:
            p.receive_data(encode(bad))
        assert info.value.reason_code == SessTermReason.CONTACT_FAILURE
    p = passive_after_contact()
    with pytest.raises(RemoteProtocolError):
        p.receive_data(encode(SessInit(30, 100, 100, ACTIVE_ID))[:21] + b"\xff\xfe" + b"\x00" * 9)


def test_sess_term_is_answered_and_session_closes_cleanly():
    a, p = established_pair()
    p.receive_data(a.close(SessTermReason.BUSY))
    assert p.events() == [SessTermReceived(SessTermReason.BUSY, False), SessionEnded(SessTermReason.BUSY, True)]
    reply = p.data_to_send()
    assert reply == encode(SessTerm(SessTermReason.BUSY, reply=True))
    a.receive_data(reply)
    assert a.events() == [SessTermReceived(SessTermReason.BUSY, True), SessionEnded(SessTermReason.BUSY, True)]
    with pytest.raises(LocalProtocolError):
        a.begin_transfer(b"late")


def test_transfer_in_progress_finishes_while_ending_and_new_ones_are_refused():
    a, p = established_pair(active_kwargs={"send_segment_bytes": 10})
    tid = a.begin_transfer(b"m" * 20)
    p.receive_data(a.next_segment(tid))
    a.receive_data(p.data_to_send() + p.close(SessTermReason.UNKNOWN))
    assert a.state is State.ENDING and p.state is State.ENDING
    p.receive_data(a.data_to_send() + a.next_segment(tid))
    received = [e for e in p.events() if isinstance(e, TransferReceived)]
    assert received and received[0].data == b"m" * 20
    a.receive_data(p.data_to_send() + p.accept_transfer(tid))
    assert a.events()[-2:] == [TransferAcked(tid, 20), SessionEnded(SessTermReason.UNKNOWN, True)]
    assert p.closed or p.state is State.ENDING
    # a START arriving while ending is refused with SESSION_TERMINATING
    q = passive_established()
    q.receive_data(encode(XferSegment(0, b"old")) + encode(SessTerm(SessTermReason.UNKNOWN)))
    q.data_to_send()
    assert q.state is State.ENDING  # transfer 0 still awaits the node
    q.receive_data(encode(XferSegment(1, b"new")))
    assert q.data_to_send() == encode(XferRefuse(1, XferRefuseReason.SESSION_TERMINATING))
    q.accept_transfer(0)
    assert q.closed


def test_keepalive_is_sent_and_silence_ends_with_idle_timeout():
    a, p = established_pair(active_kwargs={"keepalive_s": 10}, passive_kwargs={"keepalive_s": 10})
    assert a.timer_deadline_s() == 10.0
    a.handle_timer(10.0)
    assert a.data_to_send() == encode(Keepalive())
    p.receive_data(encode(Keepalive()), now_s=10.0)
    assert p.events() == [KeepaliveReceived()]
    a.handle_timer(19.9)
    a.data_to_send()
    a.handle_timer(20.0)
    assert encode(SessTerm(SessTermReason.IDLE_TIMEOUT)) in a.data_to_send()
    assert a.state is State.ENDING
    a.handle_timer(20.0 + a.config.term_timeout_s)
    assert a.events()[-1] == SessionEnded(SessTermReason.IDLE_TIMEOUT, False)


def test_zero_keepalive_disables_keepalives():
    a, p = established_pair(active_kwargs={"keepalive_s": 0})
    assert a.keepalive_s == p.keepalive_s == 0
    assert a.timer_deadline_s() is None


def test_idle_timeout_ignores_keepalives():
    p = passive_established(keepalive_s=5, idle_timeout_s=12.0)
    for t in (4.0, 8.0, 11.0):
        p.receive_data(encode(Keepalive()), now_s=t)
        p.handle_timer(t)
    p.data_to_send()
    p.handle_timer(12.0)
    assert p.data_to_send() == encode(SessTerm(SessTermReason.IDLE_TIMEOUT))


def test_session_init_timeout():
    p = Session(config(PASSIVE_ID, session_init_timeout_s=3.0), Role.PASSIVE, now_s=100.0)
    p.receive_data(b"dtn!")
    assert p.timer_deadline_s() == 103.0
    p.handle_timer(103.0)
    assert p.data_to_send() == b""  # no contact header sent yet: just close
    assert p.events()[-1] == SessionEnded(SessTermReason.CONTACT_FAILURE, False)
    q = passive_after_contact(session_init_timeout_s=3.0)
    q.handle_timer(3.0)
    assert q.data_to_send() == encode(SessTerm(SessTermReason.CONTACT_FAILURE))


def test_tls_negotiation_and_node_id_authentication():
    a = Session(config(ACTIVE_ID, can_tls=True), Role.ACTIVE)
    p = Session(config(PASSIVE_ID, can_tls=True), Role.PASSIVE)
    p.receive_data(a.start() + b"\x16\x03\x01 tls bytes")
    assert p.events()[-1] == StartTls()
    assert p.state is State.TLS
    assert p.data_to_send() == b"dtn!\x04\x01"
    assert p.take_trailing_data() == b"\x16\x03\x01 tls bytes"
    a.receive_data(b"dtn!\x04\x01")
    assert isinstance(a.events()[-1], StartTls)
    # after the handshake each side knows the Node IDs the peer's certificate names
    out_p = p.tls_established({ACTIVE_ID})
    pump(a, p, a.tls_established({PASSIVE_ID}))
    a.receive_data(out_p)
    assert a.established and p.established and a.tls and p.tls
    assert a.events()[-1].tls


def test_node_id_not_in_certificate_is_a_contact_failure():
    a = Session(config(ACTIVE_ID, can_tls=True), Role.ACTIVE)
    p = Session(config(PASSIVE_ID, can_tls=True), Role.PASSIVE)
    p.receive_data(a.start())
    a.receive_data(p.data_to_send())
    out_a = a.tls_established({PASSIVE_ID})
    p.tls_established({"ipn:99.0"})
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(out_a)
    assert info.value.reason_code == SessTermReason.CONTACT_FAILURE
    assert encode(SessTerm(SessTermReason.CONTACT_FAILURE)) in p.data_to_send()


def test_require_tls_refuses_a_peer_without_it():
    p = Session(config(PASSIVE_ID, can_tls=True, require_tls=True), Role.PASSIVE)
    with pytest.raises(RemoteProtocolError) as info:
        p.receive_data(encode(ContactHeader(can_tls=False)))
    assert info.value.reason_code == SessTermReason.CONTACT_FAILURE
    assert p.data_to_send() == b"dtn!\x04\x01" + encode(SessTerm(SessTermReason.CONTACT_FAILURE))


def test_peer_msg_reject_and_refuse_are_reported():
    a, p = established_pair()
    a.receive_data(encode(MsgReject(MsgRejectReason.MESSAGE_UNSUPPORTED, 4)))
    assert a.events() == [MessageRejected(MsgRejectReason.MESSAGE_UNSUPPORTED, 4)]
    a.receive_data(encode(XferAck(77, 1, END)))  # unknown transfer: unexpected
    assert a.data_to_send() == encode(MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 2))


def test_local_misuse_raises_local_protocol_error():
    a = Session(config(), Role.ACTIVE)
    with pytest.raises(LocalProtocolError):
        a.send(Keepalive())
    with pytest.raises(LocalProtocolError):
        a.begin_transfer(b"x")
    with pytest.raises(LocalProtocolError):
        a.tls_established(set())
    a2, p2 = established_pair()
    with pytest.raises(LocalProtocolError):
        p2.accept_transfer(12)
    with pytest.raises(LocalProtocolError):
        a2.send(SessInit(1, 1, 1, "ipn:1.0"))
    with pytest.raises(LocalProtocolError):
        Session("not a config")


def test_raw_segments_through_send():
    a, p = established_pair()
    out = a.send(XferSegment(0, b"ab", START)) + a.send(XferSegment(0, b"cd", END))
    p.receive_data(out)
    assert p.events()[-1].data == b"abcd"
    a.receive_data(p.data_to_send() + p.send(XferAck(0, 4, END)))
    assert a.events()[-1] == TransferAcked(0, 4)
    with pytest.raises(LocalProtocolError):
        a.send(XferSegment(5, b"x", END))


def test_eof_ends_the_session():
    a, p = established_pair()
    p.receive_data(b"")
    assert p.events() == [SessionEnded(None, False)]
    assert p.closed


def test_transition_table_covers_every_state():
    assert set(TRANSITIONS) == set(State) == set(SENDABLE)
    for state in (State.ESTABLISHED, State.ENDING, State.SESS_INIT):
        assert len(TRANSITIONS[state]) == 7


def test_config_validation():
    with pytest.raises(ConfigError):
        TcpclConfig("not-a-uri")
    with pytest.raises(ConfigError):
        TcpclConfig("ipn:1.0", keepalive_s=70000)
    with pytest.raises(ConfigError):
        TcpclConfig("ipn:1.0", segment_mru_bytes=0)
    with pytest.raises(ConfigError):
        TcpclConfig("ipn:1.0", require_tls=True)
    with pytest.raises(ConfigError):
        TcpclConfig("ipn:1.0", idle_timeout_s=-1)
    with pytest.raises(ConfigError):
        TcpclConfig("ipn:1.0", ssl_context_server="nope")


def test_passive_can_refuse_right_after_its_contact_header():
    p = Session(config(PASSIVE_ID), Role.PASSIVE)
    assert p.close(SessTermReason.BUSY) == b""
    p.receive_data(encode(ContactHeader()))
    assert p.data_to_send() == b"dtn!\x04\x00" + encode(SessTerm(SessTermReason.BUSY))
    p.receive_data(encode(SessInit(0, 10, 10, ACTIVE_ID)) + encode(SessTerm(SessTermReason.BUSY, reply=True)))
    assert p.events()[-1] == SessionEnded(SessTermReason.BUSY, True)
    assert p.data_to_send() == b""  # the crossing SESS_INIT is not rejected


def test_next_state_table_leads_every_state_to_closed():
    from dtn.tcpcl import NEXT_STATE

    assert not any(state is State.CLOSED for state, _ in NEXT_STATE)  # nothing leaves CLOSED
    reachable, frontier = {State.CONTACT}, [State.CONTACT]
    while frontier:
        state = frontier.pop()
        for (source, _), target in NEXT_STATE.items():
            if source is state and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(State)
    for state in set(State) - {State.CLOSED}:
        assert NEXT_STATE[(state, "closed")] is State.CLOSED


def test_an_unknown_trigger_is_a_local_bug():
    a, _ = established_pair()
    with pytest.raises(LocalProtocolError):
        a.move("no such trigger")
