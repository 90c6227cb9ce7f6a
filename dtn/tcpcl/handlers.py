"""What each received TCPCLv4 message does to a `Session` (RFC 9174 §4 to §6). Pure; no I/O.

Each handler is `handler(session, message)`. Which handler runs in which state is decided only by
`dtn.tcpcl.table.TRANSITIONS`; state changes go only through `session.move(trigger)`, which looks the next state
up in `dtn.tcpcl.table.NEXT_STATE`. Handlers use the session's internals: they are the session's receive half,
kept in their own module so each module stays readable.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from . import events as ev
from .config import Role, _looks_like_node_id
from .messages import (
    VERSION,
    ContactHeader,
    Keepalive,
    MessageType,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermReason,
    TransferExtensionType,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegmentFlag,
    enum_or_int,
)
from .reader import SegmentData, SegmentHeader, parse_extension_items
from .transfers import IncomingTransfer, ReceivedTransfer

if TYPE_CHECKING:
    from .session import Session

_U64 = struct.Struct("!Q")
_START = int(XferSegmentFlag.START)  # plain ints on the per-segment path: IntFlag arithmetic is slow
_END = int(XferSegmentFlag.END)


def message_type(msg) -> int:
    """The RFC 9174 §4.5 type code of a received item (a segment header counts as XFER_SEGMENT)."""
    return _TYPE_CODES[type(msg)]


def reject_unexpected(s: Session, msg) -> None:
    """RFC 9174 §5.1.2: MSG_REJECT(MESSAGE_UNEXPECTED) and go on (a rejected segment's data is skipped)."""
    s.reject(MsgRejectReason.MESSAGE_UNEXPECTED, message_type(msg))


def on_contact_header(s: Session, msg: ContactHeader) -> None:
    """RFC 9174 §4.3: version and CAN_TLS negotiation."""
    s.emit(ev.ContactHeaderReceived(msg.version, msg.can_tls))
    if s.role is Role.PASSIVE:
        # The passive entity answers with its own contact header, even to refuse the version.
        s.send_contact_header()
        if msg.version != VERSION:
            s.fail(f"peer speaks TCPCL version {msg.version}", SessTermReason.VERSION_MISMATCH)
        if s.refuse_after_contact is not None:
            s.terminate(s.refuse_after_contact)
            return
    elif msg.version != VERSION:
        # The active entity closes the TCP connection on a different version (RFC 9174 §4.3).
        s.fail(f"peer answered TCPCL version {msg.version}", SessTermReason.VERSION_MISMATCH, send_term=False)
    s.tls = s.can_tls and msg.can_tls
    if s.config.require_tls and not s.tls:
        s.fail("TLS is required by policy but was not negotiated", SessTermReason.CONTACT_FAILURE)
    if s.tls:
        s.move("contact_tls")
        s.emit(ev.StartTls())
    else:
        s.send_sess_init()


def on_sess_init(s: Session, msg: SessInit) -> None:
    """RFC 9174 §4.6 and §4.7: validate and negotiate."""
    node_id = msg.node_id
    if not _looks_like_node_id(node_id):
        s.fail(f"SESS_INIT node ID {node_id!r} is not a URI", SessTermReason.CONTACT_FAILURE)
    if msg.segment_mru_bytes == 0 or msg.transfer_mru_bytes == 0:
        s.fail("SESS_INIT MRU of zero is unacceptable", SessTermReason.CONTACT_FAILURE)
    # RFC 9174 §4.8: no session extension type is known to us; a critical one ends the session.
    if any(item.critical for item in msg.extensions):
        s.fail("unknown critical session extension item", SessTermReason.CONTACT_FAILURE)
    # An active peer without a client certificate, accepted on purpose (accept_no_client_cert): its node ID
    # comes only from this SESS_INIT.
    anonymous_ok = s.peer_cert_node_ids is None and s.role is Role.PASSIVE and s.config.accept_no_client_cert
    if s.tls and s.config.require_node_id_auth and not anonymous_ok:
        names = s.peer_cert_node_ids
        if not names or node_id not in names:
            s.fail(
                f"peer node ID {node_id!r} is not authenticated by its certificate "
                f"(certificate names {sorted(names or ())})",
                SessTermReason.CONTACT_FAILURE,
            )
    s.peer_node_id = node_id
    s.keepalive_s = min(msg.keepalive_s, s.config.keepalive_s)
    s.peer_segment_mru_bytes = msg.segment_mru_bytes
    s.peer_transfer_mru_bytes = msg.transfer_mru_bytes
    s.move("sess_init_received")
    s.note_established()
    s.emit(
        ev.SessionEstablished(
            node_id, s.keepalive_s, msg.segment_mru_bytes, msg.transfer_mru_bytes, s.tls, msg.extensions
        )
    )


def on_sess_init_while_ending(s: Session, msg: SessInit) -> None:
    """We refused right after the contact headers (e.g. BUSY): the peer's SESS_INIT crossed our SESS_TERM
    and is expected; a SESS_INIT after establishment is not (RFC 9174 §5.1.2)."""
    if s.peer_node_id is not None:
        reject_unexpected(s, msg)


def on_segment_header(s: Session, seg: SegmentHeader) -> None:
    """RFC 9174 §5.2.2: decide whether this segment's data is kept, and refuse what breaks a limit."""
    tid = seg.transfer_id
    incoming = s.incoming
    if seg.flags & _START:
        if incoming is not None and not incoming.refused:
            reject_unexpected(s, seg)
            return
        if s.last_incoming_tid is not None and tid <= s.last_incoming_tid:
            # Transfer IDs only increase within a session (RFC 9174 §5.2.1): a reused ID is unexpected.
            reject_unexpected(s, seg)
            return
        s.last_incoming_tid = tid
        incoming = s.incoming = IncomingTransfer(tid)
        if s.ending:
            s.refuse_incoming(XferRefuseReason.SESSION_TERMINATING)
            return
        items = parse_extension_items(seg.extensions_raw)
        if items is None:
            s.refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
            return
        incoming.extensions = items
        for item in items:
            if item.item_type == TransferExtensionType.TRANSFER_LENGTH:
                if len(item.value) != 8:
                    s.refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
                    return
                incoming.declared_bytes = _U64.unpack(item.value)[0]
            elif item.critical:
                # RFC 9174 §5.2.5: unknown critical transfer extension -> XFER_REFUSE(Extension Failure).
                s.refuse_incoming(XferRefuseReason.EXTENSION_FAILURE)
                return
        if incoming.declared_bytes is not None and incoming.declared_bytes > s.config.transfer_mru_bytes:
            s.refuse_incoming(XferRefuseReason.NO_RESOURCES)
            return
    elif incoming is None or tid != incoming.transfer_id:
        reject_unexpected(s, seg)
        return
    elif incoming.refused:
        return  # segments already in flight when we refused: skip silently
    total = incoming.received_bytes + seg.length_bytes
    if total > s.config.transfer_mru_bytes:
        s.refuse_incoming(XferRefuseReason.NO_RESOURCES)
    elif incoming.declared_bytes is not None and total > incoming.declared_bytes:
        s.refuse_incoming(XferRefuseReason.NOT_ACCEPTABLE)
    elif s.pending_bytes + total > s.config.max_buffered_bytes:
        s.refuse_incoming(XferRefuseReason.NO_RESOURCES)
    else:
        s.keep_segment = True


def on_segment_data(s: Session, piece: SegmentData) -> None:
    """Segment data goes into the incoming transfer when its header was accepted, else it is skipped."""
    if s.keep_segment:
        s.incoming.add(piece.data)
    if piece.end:
        finish_segment(s)


def finish_segment(s: Session) -> None:
    """The last byte of a segment arrived: acknowledge it, or complete the transfer (RFC 9174 §5.2.3)."""
    seg = s.segment
    s.segment = None
    s.note_received(MessageType.XFER_SEGMENT)
    incoming = s.incoming
    if not s.keep_segment:
        if seg.flags & _END and incoming is not None and seg.transfer_id == incoming.transfer_id and incoming.refused:
            s.incoming = None
            s.check_ending_done()
        return
    s.keep_segment = False
    tid, received = incoming.transfer_id, incoming.received_bytes
    s.emit(ev.XferSegmentReceived(tid, seg.flags, seg.length_bytes))
    if not seg.flags & _END:
        s.queue_ack(tid, received, seg.flags)
        return
    if incoming.declared_bytes is not None and received != incoming.declared_bytes:
        s.refuse_incoming(XferRefuseReason.NOT_ACCEPTABLE)
        s.incoming = None
        return
    s.incoming = None
    s.pending[tid] = ReceivedTransfer(received, seg.flags)
    s.pending_bytes += received
    s.emit(ev.TransferReceived(tid, incoming.take_data(), incoming.extensions))


def on_xfer_ack(s: Session, msg: XferAck) -> None:
    tid, acked = msg.transfer_id, msg.acked_length_bytes
    out = s.outgoing.get(tid)
    if out is None or acked < out.acked_bytes or acked > out.sent_bytes:
        reject_unexpected(s, msg)
        return
    out.acked_bytes = acked
    flags = int(msg.flags)
    s.emit(ev.XferAckReceived(tid, acked, flags))
    if flags & _END and out.finished_sending and acked == out.total_bytes:
        del s.outgoing[tid]
        s.emit(ev.TransferAcked(tid, acked))
        s.check_ending_done()


def on_xfer_refuse(s: Session, msg: XferRefuse) -> None:
    tid = msg.transfer_id
    out = s.outgoing.pop(tid, None)
    if out is None:
        if tid >= s.next_outgoing_tid:
            reject_unexpected(s, msg)
        return  # a refusal racing our completed transfer's final ack: nothing to do
    if s.sending_tid == tid:
        s.sending_tid = None
    s.emit(ev.TransferRefused(tid, enum_or_int(XferRefuseReason, msg.reason)))
    s.check_ending_done()


def on_keepalive(s: Session, msg: Keepalive) -> None:
    s.emit(ev.KeepaliveReceived())


def on_msg_reject(s: Session, msg: MsgReject) -> None:
    s.emit(ev.MessageRejected(enum_or_int(MsgRejectReason, msg.reason), msg.rejected_message_type))


def on_sess_term(s: Session, msg: SessTerm) -> None:
    """RFC 9174 §6.1: answer a SESS_TERM with an identical one carrying REPLY."""
    if s.term_received:
        reject_unexpected(s, msg)
        return
    s.term_received = True
    reason = enum_or_int(SessTermReason, msg.reason)
    s.emit(ev.SessTermReceived(reason, msg.reply))
    if s.term_reason is None:
        s.term_reason = reason
    if not s.term_sent:
        s.queue(SessTerm(msg.reason, reply=True))
        s.term_sent = True
    s.move("terminating")
    s.check_ending_done()  # an in-progress transfer may still finish (RFC 9174 §6.1)


_TYPE_CODES: dict[type, int] = {
    SessInit: MessageType.SESS_INIT,
    SegmentHeader: MessageType.XFER_SEGMENT,
    XferAck: MessageType.XFER_ACK,
    XferRefuse: MessageType.XFER_REFUSE,
    Keepalive: MessageType.KEEPALIVE,
    SessTerm: MessageType.SESS_TERM,
    MsgReject: MessageType.MSG_REJECT,
}
