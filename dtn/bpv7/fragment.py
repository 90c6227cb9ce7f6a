"""Fragmentation and reassembly, RFC 9171 §5.8 and §5.9.

A fragment is a bundle whose primary block has IS_FRAGMENT set, the offset of its payload within the original
application data unit (ADU) and the ADU's total length. The fragment with offset 0 carries every extension block
of the original; the others carry only blocks flagged REPLICATE_IN_FRAGMENTS. Fragmenting a fragment keeps
offsets relative to the original ADU.
"""

from __future__ import annotations

import bisect
import dataclasses

from dtn.bpv7._cbor import MAJOR_BYTES, head
from dtn.bpv7.bundle import BlockFlag, BlockType, Bundle, BundleFlag, CanonicalBlock
from dtn.bpv7.codec import encode_parts
from dtn.errors import DecodeError, EncodeError


def _size(bundle: Bundle) -> int:
    return sum(len(part) for part in encode_parts(bundle))


def _make_fragment(
    bundle: Bundle, extension: list[CanonicalBlock], payload_block: CanonicalBlock, offset: int, total: int, data
) -> Bundle:
    primary = dataclasses.replace(
        bundle.primary,
        flags=bundle.primary.flags | BundleFlag.IS_FRAGMENT,
        fragment_offset=offset,
        total_adu_length=total,
    )
    payload = dataclasses.replace(payload_block, data=data)
    return Bundle(primary, (*extension, payload))


def fragment(bundle: Bundle, max_bundle_bytes: int) -> list[Bundle]:
    """Split `bundle` into fragments whose encodings are each at most `max_bundle_bytes` (RFC 9171 §5.8).

    Returns [bundle] unchanged when it already fits. Payload data are zero-copy slices of the original.
    Raises EncodeError if the bundle is flagged MUST_NOT_FRAGMENT, has no payload block, or if the limit cannot
    hold a fragment with at least one payload byte.
    """
    if _size(bundle) <= max_bundle_bytes:
        return [bundle]
    p = bundle.primary
    if p.flags & BundleFlag.MUST_NOT_FRAGMENT:
        raise EncodeError("the bundle is flagged MUST_NOT_FRAGMENT (RFC 9171 §4.2.3)")
    payload_block = bundle.payload_block
    if payload_block is None:
        raise EncodeError("the bundle has no payload block to fragment")
    data = memoryview(payload_block.data).cast("B")
    if p.is_fragment:
        base, total = p.fragment_offset or 0, p.total_adu_length or 0
    else:
        base, total = 0, len(data)
    extension = [b for b in bundle.blocks if b is not payload_block]
    replicated = [b for b in extension if b.flags & BlockFlag.REPLICATE_IN_FRAGMENTS]
    fragments: list[Bundle] = []
    start = 0
    while start < len(data):
        blocks = extension if base + start == 0 else replicated
        # Encoded size = size with an empty payload + payload length + growth of the byte string's CBOR head.
        overhead = _size(_make_fragment(bundle, blocks, payload_block, base + start, total, b""))
        room = max_bundle_bytes - overhead
        length = min(len(data) - start, room)
        while length > 0 and length + len(head(MAJOR_BYTES, length)) - 1 > room:
            length -= 1
        if length <= 0:
            raise EncodeError(
                f"max_bundle_bytes={max_bundle_bytes} cannot hold a fragment with any payload "
                f"(fragment overhead is {overhead} bytes)"
            )
        fragments.append(
            _make_fragment(bundle, blocks, payload_block, base + start, total, data[start : start + length])
        )
        start += length
    return fragments


class Reassembler:
    """Collects fragments of any number of bundles and returns each original bundle once complete (§5.9).

    Fragments may arrive in any order and may overlap (re-fragmentation); overlapping bytes must agree.
    `add()` raises DecodeError on a non-fragment, on a fragment running past its total ADU length, on a total
    ADU length that differs from the other fragments', and on overlaps carrying different data.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int, int], _Pieces] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def pending_ids(self) -> list[tuple[str, int, int]]:
        """(source, creation time, sequence) of each bundle still incomplete."""
        return list(self._pending)

    def discard(self, key: tuple[str, int, int]) -> None:
        self._pending.pop(key, None)

    def add(self, fragment_bundle: Bundle) -> Bundle | None:
        p = fragment_bundle.primary
        if not p.is_fragment or p.fragment_offset is None or p.total_adu_length is None:
            raise DecodeError("not a fragment (IS_FRAGMENT, fragment offset and total ADU length are required)")
        key = (str(p.source), p.creation_time_ms, p.sequence)
        pieces = self._pending.get(key)
        if pieces is None:
            pieces = self._pending[key] = _Pieces(p.total_adu_length)
        elif pieces.total != p.total_adu_length:
            raise DecodeError(
                f"fragment of {key[0]} {key[1]} {key[2]} says total ADU length {p.total_adu_length}, "
                f"earlier fragments said {pieces.total}"
            )
        pieces.add(p.fragment_offset, memoryview(fragment_bundle.payload).cast("B"), fragment_bundle)
        if not pieces.complete():
            return None
        del self._pending[key]
        return pieces.reassemble()


class _Pieces:
    def __init__(self, total: int) -> None:
        self.total = total
        self.starts: list[int] = []
        self.chunks: list[memoryview] = []
        self.first: Bundle | None = None
        self.covered = 0

    def add(self, offset: int, data: memoryview, bundle: Bundle) -> None:
        end = offset + len(data)
        if end > self.total:
            raise DecodeError(f"fragment [{offset}, {end}) runs past the total ADU length {self.total}")
        if offset == 0 and self.first is None:
            self.first = bundle
        index = bisect.bisect_left(self.starts, offset)
        # Every stored chunk that overlaps [offset, end) must agree with the new data on the overlap.
        for other_start, other in zip(self.starts, self.chunks):
            if other_start >= end:
                break
            lo, hi = max(offset, other_start), min(end, other_start + len(other))
            if lo < hi and data[lo - offset : hi - offset] != other[lo - other_start : hi - other_start]:
                raise DecodeError(f"overlapping fragments disagree on ADU bytes [{lo}, {hi})")
        self.starts.insert(index, offset)
        self.chunks.insert(index, data)

    def complete(self) -> bool:
        reach = 0
        for start, chunk in zip(self.starts, self.chunks):
            if start > reach:
                return False
            reach = max(reach, start + len(chunk))
        return reach >= self.total

    def gaps(self) -> list[tuple[int, int]]:
        missing, reach = [], 0
        for start, chunk in zip(self.starts, self.chunks):
            if start > reach:
                missing.append((reach, start))
            reach = max(reach, start + len(chunk))
        if reach < self.total:
            missing.append((reach, self.total))
        return missing

    def reassemble(self) -> Bundle:
        adu = bytearray(self.total)
        for start, chunk in zip(self.starts, self.chunks):
            adu[start : start + len(chunk)] = chunk
        first = self.first
        assert first is not None  # complete() implies a chunk starts at offset 0
        primary = dataclasses.replace(
            first.primary,
            flags=first.primary.flags & ~BundleFlag.IS_FRAGMENT,
            fragment_offset=None,
            total_adu_length=None,
        )
        payload_block = first.payload_block
        assert payload_block is not None
        blocks = [b for b in first.blocks if b.type != BlockType.PAYLOAD]
        return Bundle(primary, (*blocks, dataclasses.replace(payload_block, data=bytes(adu))))


def reassemble(fragments: list[Bundle]) -> Bundle:
    """The original bundle from all of its fragments, in any order (RFC 9171 §5.9).

    Raises DecodeError if they belong to different bundles, disagree, or leave a gap.
    """
    if not fragments:
        raise DecodeError("no fragments to reassemble")
    keys = {(str(f.primary.source), f.primary.creation_time_ms, f.primary.sequence) for f in fragments}
    if len(keys) > 1:
        raise DecodeError(f"fragments of {len(keys)} different bundles")
    pieces: _Pieces | None = None
    for piece in fragments:
        p = piece.primary
        if not p.is_fragment or p.fragment_offset is None or p.total_adu_length is None:
            raise DecodeError("not a fragment (IS_FRAGMENT, fragment offset and total ADU length are required)")
        if pieces is None:
            pieces = _Pieces(p.total_adu_length)
        elif pieces.total != p.total_adu_length:
            raise DecodeError(f"fragments disagree on the total ADU length ({pieces.total} vs {p.total_adu_length})")
        pieces.add(p.fragment_offset, memoryview(piece.payload).cast("B"), piece)
    assert pieces is not None
    if not pieces.complete():
        gaps = ", ".join(f"[{a}, {b})" for a, b in pieces.gaps())
        raise DecodeError(f"incomplete: ADU bytes {gaps} are missing")
    return pieces.reassemble()
