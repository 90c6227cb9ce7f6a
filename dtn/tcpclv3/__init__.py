"""TCPCLv3 (RFC 7242) as a sans-IO state machine: no sockets, no clock, no trio.

ION's TCP convergence layer, and one that uD3TN, DTNME and HDTN speak too. `Session` takes received bytes and
the current time and returns events and bytes to send; `dtn.cla.tcpclv3` pumps bytes between a Trio stream and
a `Session`. See docs/cla.md.
"""

from .messages import (
    MAGIC,
    VERSION,
    AckSegment,
    ContactFlag,
    ContactHeader,
    DataSegment,
    Keepalive,
    Length,
    Message,
    MessageType,
    RefuseBundle,
    RefuseReason,
    SegmentFlag,
    Shutdown,
    ShutdownFlag,
    ShutdownReason,
    encode,
    parse_contact_header,
    sdnv_decode,
    sdnv_encode,
)
from .session import (
    TRANSITIONS,
    AckReceived,
    Event,
    IncomingTransferRefused,
    KeepaliveReceived,
    LengthReceived,
    Session,
    SessionEnded,
    SessionEstablished,
    ShutdownReceived,
    State,
    TcpclV3Config,
    TransferAcked,
    TransferReceived,
    TransferRefused,
)

__all__ = [
    "MAGIC", "VERSION", "AckSegment", "ContactFlag", "ContactHeader", "DataSegment", "Keepalive", "Length",
    "Message", "MessageType", "RefuseBundle", "RefuseReason", "SegmentFlag", "Shutdown", "ShutdownFlag",
    "ShutdownReason", "encode", "parse_contact_header", "sdnv_decode", "sdnv_encode",
    "TRANSITIONS", "AckReceived", "Event", "IncomingTransferRefused", "KeepaliveReceived", "LengthReceived",
    "Session", "SessionEnded", "SessionEstablished", "ShutdownReceived", "State", "TcpclV3Config",
    "TransferAcked", "TransferReceived", "TransferRefused",
]
