"""Licklider Transmission Protocol (RFC 5326), sans-IO: no sockets, no clock, no trio.

`segments` encodes and decodes segments (SDNVs, extensions); `engine.LtpEngine` runs export and import sessions
(red and green parts, checkpoints, reports, retransmission, cancellation, timers suspended while a span is down);
`aggregation` packs several bundles into one block and splits a received block back into bundles. The Trio UDP
adapter is `dtn.cla.ltp`; docs/ltp.md explains the whole.
"""

from .aggregation import Aggregator, split_bundles
from .engine import (
    BUNDLE_PROTOCOL_CLIENT_ID,
    BlockReceived,
    Event,
    ExportCancelled,
    ExportCompleted,
    GreenReceived,
    ImportCancelled,
    LtpConfig,
    LtpEngine,
)
from .segments import CancelReason, SegmentType, decode_segment, decode_sdnv, encode_sdnv, encode_segment

__all__ = [
    "Aggregator",
    "split_bundles",
    "BUNDLE_PROTOCOL_CLIENT_ID",
    "BlockReceived",
    "Event",
    "ExportCancelled",
    "ExportCompleted",
    "GreenReceived",
    "ImportCancelled",
    "LtpConfig",
    "LtpEngine",
    "CancelReason",
    "SegmentType",
    "decode_segment",
    "decode_sdnv",
    "encode_sdnv",
    "encode_segment",
]
