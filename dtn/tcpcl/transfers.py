"""The bookkeeping of one TCPCLv4 transfer each way, RFC 9174 §5.2 (pure value holders; no protocol logic)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import ExtensionItem


@dataclass(slots=True)
class IncomingTransfer:
    """The peer's transfer being received. Segments of two transfers never interleave (RFC 9174 §5.2.2), so a
    session has at most one. Its data is kept as received (bytes or views of immutable received chunks) and
    joined once, when the END segment arrives."""

    transfer_id: int
    extensions: tuple[ExtensionItem, ...] = ()
    declared_bytes: int | None = None  # from the Transfer Length extension (RFC 9174 §5.2.5.1)
    received_bytes: int = 0
    parts: list = field(default_factory=list)
    refused: bool = False  # XFER_REFUSE sent: later segments of it are skipped

    def add(self, piece) -> None:
        self.parts.append(piece)
        self.received_bytes += len(piece)

    def take_data(self) -> bytes:
        parts, self.parts = self.parts, []
        if len(parts) == 1 and type(parts[0]) is bytes:
            return parts[0]
        return b"".join(parts)

    def refuse(self) -> None:
        self.refused = True
        self.parts = []
        self.received_bytes = 0


@dataclass(slots=True)
class ReceivedTransfer:
    """A complete incoming transfer the node has not accepted or refused yet (its final XFER_ACK is held)."""

    length_bytes: int
    flags: int


@dataclass(slots=True)
class OutgoingTransfer:
    """One of our transfers, from its first segment to the peer's final XFER_ACK (or XFER_REFUSE)."""

    data: memoryview  # empty for a transfer sent segment by segment through send(XferSegment)
    extensions: tuple[ExtensionItem, ...]
    total_bytes: int = 0
    sent_bytes: int = 0
    acked_bytes: int = 0
    started: bool = False
    raw: bool = False  # sent segment by segment through send(XferSegment)
    finished_sending: bool = False
