"""TCPCLv4 (RFC 9174) as a sans-IO state machine: no sockets, no clock, no trio.

`Session` takes received bytes and the current time and returns events and bytes to send; `dtn.cla` pumps
bytes between a Trio stream and a `Session`. See docs/tcpcl.md.
"""

from .config import KiB, MiB, Role, TcpclConfig
from .events import (
    ContactHeaderReceived,
    Event,
    IncomingTransferRefused,
    KeepaliveReceived,
    MessageRejected,
    SessionEnded,
    SessionEstablished,
    SessTermReceived,
    StartTls,
    TransferAcked,
    TransferReceived,
    TransferRefused,
    XferAckReceived,
    XferSegmentReceived,
)
from .messages import (
    MAGIC,
    VERSION,
    ContactFlag,
    ContactHeader,
    ExtensionItem,
    ExtensionItemFlag,
    Keepalive,
    Message,
    MessageType,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermFlag,
    SessTermReason,
    TransferExtensionType,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    encode,
    encode_extension_items,
    transfer_length_item,
)
from .reader import NEED_DATA, Reader, SegmentData, SegmentHeader, UnknownMessage
from .session import NEXT_STATE, SENDABLE, TRANSITIONS, Session, State, parse_extension_items

__all__ = [
    "KiB", "MiB", "Role", "TcpclConfig",
    "ContactHeaderReceived", "Event", "IncomingTransferRefused", "KeepaliveReceived", "MessageRejected",
    "SessionEnded", "SessionEstablished", "SessTermReceived", "StartTls", "TransferAcked", "TransferReceived",
    "TransferRefused", "XferAckReceived", "XferSegmentReceived",
    "MAGIC", "VERSION", "ContactFlag", "ContactHeader", "ExtensionItem", "ExtensionItemFlag", "Keepalive",
    "Message", "MessageType", "MsgReject", "MsgRejectReason", "SessInit", "SessTerm", "SessTermFlag",
    "SessTermReason", "TransferExtensionType", "XferAck", "XferRefuse", "XferRefuseReason", "XferSegment",
    "XferSegmentFlag", "encode", "encode_extension_items", "transfer_length_item",
    "NEED_DATA", "Reader", "SegmentData", "SegmentHeader", "UnknownMessage",
    "NEXT_STATE", "SENDABLE", "TRANSITIONS", "Session", "State", "parse_extension_items",
]
