"""Events a TCPCLv4 `Session` reports, in the order things happened on the wire (pure value objects)."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import ExtensionItem


@dataclass(frozen=True, slots=True)
class ContactHeaderReceived:
    """The peer's contact header, RFC 9174 §4.2."""

    version: int
    can_tls: bool


@dataclass(frozen=True, slots=True)
class StartTls:
    """Both contact headers set CAN_TLS (RFC 9174 §4.4): the adapter must flush `data_to_send()`, run the TLS
    handshake (the active entity is the TLS client) over the raw stream, then call `Session.tls_established()`.
    Bytes the peer sent after its contact header are in `Session.take_trailing_data()`."""


@dataclass(frozen=True, slots=True)
class SessionEstablished:
    """Both SESS_INIT messages exchanged; negotiated parameters, RFC 9174 §4.7."""

    peer_node_id: str
    keepalive_s: int
    peer_segment_mru_bytes: int
    peer_transfer_mru_bytes: int
    tls: bool
    peer_extensions: tuple[ExtensionItem, ...] = ()


@dataclass(frozen=True, slots=True)
class XferSegmentReceived:
    """One whole XFER_SEGMENT of an accepted incoming transfer (data goes into the transfer)."""

    transfer_id: int
    flags: int
    data_length_bytes: int


@dataclass(frozen=True, slots=True)
class TransferReceived:
    """An incoming transfer is complete (END segment received). Its final XFER_ACK is held back until the
    node calls `Session.accept_transfer(transfer_id)` (the bundle is durable) or `refuse_transfer(...)`."""

    transfer_id: int
    data: bytes
    extensions: tuple[ExtensionItem, ...] = ()


@dataclass(frozen=True, slots=True)
class XferAckReceived:
    """The peer acknowledged `acked_length_bytes` of our transfer (cumulative), RFC 9174 §5.2.3."""

    transfer_id: int
    acked_length_bytes: int
    flags: int


@dataclass(frozen=True, slots=True)
class TransferAcked:
    """The peer acknowledged our whole transfer (final XFER_ACK with END)."""

    transfer_id: int
    length_bytes: int


@dataclass(frozen=True, slots=True)
class TransferRefused:
    """The peer refused our transfer (XFER_REFUSE), RFC 9174 §5.2.4; `reason` is an XferRefuseReason or int."""

    transfer_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class IncomingTransferRefused:
    """We refused the peer's transfer because of a limit or extension (XFER_REFUSE sent)."""

    transfer_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class KeepaliveReceived:
    """A KEEPALIVE, RFC 9174 §5.1.1."""


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """The peer rejected one of our messages (MSG_REJECT), RFC 9174 §5.1.2."""

    reason: int
    rejected_message_type: int


@dataclass(frozen=True, slots=True)
class SessTermReceived:
    """The peer sent SESS_TERM, RFC 9174 §6.1; `reply` tells whether it answers ours."""

    reason: int
    reply: bool


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session is over: the adapter closes the connection now. `clean` is True when both SESS_TERM
    messages were exchanged and no transfer was left in progress; `reason` is the SESS_TERM reason (None when
    the connection simply closed)."""

    reason: int | None
    clean: bool


Event = (
    ContactHeaderReceived
    | StartTls
    | SessionEstablished
    | XferSegmentReceived
    | TransferReceived
    | XferAckReceived
    | TransferAcked
    | TransferRefused
    | IncomingTransferRefused
    | KeepaliveReceived
    | MessageRejected
    | SessTermReceived
    | SessionEnded
)
