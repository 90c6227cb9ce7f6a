"""Block aggregation: several bundles in one LTP block, as ION and HDTN do.

An LTP block for the Bundle Protocol client (service ID 1) is one or more encoded BPv7 bundles back to back;
each bundle is one CBOR item, so the receiver splits the block by walking CBOR item boundaries
(`split_bundles`). The sender side (`Aggregator`) collects bundles until the block reaches `size_limit_bytes`
or the first bundle has waited `time_limit_s`, whichever comes first; a bundle larger than the limit travels
alone.
"""

from __future__ import annotations

from dtn.errors import DecodeError

MAX_CBOR_DEPTH = 64


def _item_end(data: bytes | memoryview, pos: int, depth: int = 0) -> int:
    """The offset just after the CBOR item starting at `pos` (RFC 8949 §3). Raises `DecodeError`."""
    if depth > MAX_CBOR_DEPTH:
        raise DecodeError("CBOR nested too deeply", offset=pos)
    n = len(data)
    if pos >= n:
        raise DecodeError("truncated CBOR item", offset=pos)
    head = data[pos]
    major, info = head >> 5, head & 0x1F
    pos += 1
    if info < 24:
        value = info
    elif info <= 27:
        width = 1 << (info - 24)
        if pos + width > n:
            raise DecodeError("truncated CBOR head", offset=pos)
        value = int.from_bytes(data[pos : pos + width], "big")
        pos += width
    elif info == 31 and major in (2, 3, 4, 5):
        # Indefinite length: items (chunks) up to a break byte.
        while True:
            if pos >= n:
                raise DecodeError("indefinite-length CBOR item without a break", offset=pos)
            if data[pos] == 0xFF:
                return pos + 1
            pos = _item_end(data, pos, depth + 1)
            if major == 5:
                pos = _item_end(data, pos, depth + 1)
    else:
        raise DecodeError(f"invalid CBOR initial byte 0x{head:02x}", offset=pos - 1)
    if major in (0, 1, 7):
        return pos
    if major in (2, 3):
        if pos + value > n:
            raise DecodeError("CBOR string longer than the block", offset=pos)
        return pos + value
    if major == 6:
        return _item_end(data, pos, depth + 1)
    count = value * (2 if major == 5 else 1)
    if count > n - pos:
        raise DecodeError("CBOR container longer than the block", offset=pos)
    for _ in range(count):
        pos = _item_end(data, pos, depth + 1)
    return pos


def split_bundles(block: bytes) -> list[bytes]:
    """The bundles of a received block (one CBOR item each). Raises `DecodeError` on a malformed block."""
    out = []
    pos = 0
    view = memoryview(block)
    while pos < len(block):
        end = _item_end(view, pos)
        out.append(bytes(view[pos:end]))
        pos = end
    if not out:
        raise DecodeError("empty block", offset=0)
    return out


class Aggregator:
    """Bundles in, blocks out. `add` returns the blocks that became ready; `deadline_s()` is when the pending
    block must go even if not full; `flush()` returns it (None if empty)."""

    def __init__(self, *, size_limit_bytes: int = 64 * 1024, time_limit_s: float = 0.1) -> None:
        if size_limit_bytes < 1 or time_limit_s < 0:
            raise ValueError("size_limit_bytes must be >= 1 and time_limit_s >= 0")
        self.size_limit_bytes = size_limit_bytes
        self.time_limit_s = time_limit_s
        self._parts: list[bytes] = []
        self._size = 0
        self._since_s: float | None = None

    @property
    def pending_bytes(self) -> int:
        return self._size

    def add(self, bundle: bytes, now_s: float) -> list[bytes]:
        ready = []
        if self._parts and self._size + len(bundle) > self.size_limit_bytes:
            ready.append(self._take())
        self._parts.append(bytes(bundle))
        self._size += len(bundle)
        if self._since_s is None:
            self._since_s = now_s
        if self._size >= self.size_limit_bytes or self.time_limit_s == 0:
            ready.append(self._take())
        return ready

    def deadline_s(self) -> float | None:
        return None if self._since_s is None else self._since_s + self.time_limit_s

    def flush(self) -> bytes | None:
        return self._take() if self._parts else None

    def _take(self) -> bytes:
        block = b"".join(self._parts)
        self._parts, self._size, self._since_s = [], 0, None
        return block
