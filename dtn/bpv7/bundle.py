"""The bundle model, RFC 9171 §4: primary block, canonical blocks, bundles and bundle IDs.

Everything here is a frozen value. A decoded block remembers the exact bytes it was decoded from (`raw`, not part
of equality), so re-encoding an unchanged bundle reproduces its input byte for byte, CRCs and any non-canonical
but valid CBOR included; `dataclasses.replace()` (and every `with_*` helper) drops `raw`, so a changed block is
re-encoded canonically with a fresh CRC.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cbor2

from dtn.bpv7._cbor import UINT64_MAX, loads_strict, strict_item
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DTN_NONE, EID, eid_from_cbor, parse_eid
from dtn.errors import DecodeError, EncodeError

BP_VERSION = 7


class BundleFlag(enum.IntFlag):
    """Bundle processing control flags, RFC 9171 §4.2.3."""

    IS_FRAGMENT = 0x000001
    IS_ADMIN_RECORD = 0x000002
    MUST_NOT_FRAGMENT = 0x000004
    ACK_REQUESTED = 0x000020
    STATUS_TIME_REQUESTED = 0x000040
    REPORT_RECEPTION = 0x004000
    REPORT_FORWARDING = 0x010000
    REPORT_DELIVERY = 0x020000
    REPORT_DELETION = 0x040000


STATUS_REPORT_FLAGS = (
    BundleFlag.REPORT_RECEPTION | BundleFlag.REPORT_FORWARDING | BundleFlag.REPORT_DELIVERY | BundleFlag.REPORT_DELETION
)


class BlockFlag(enum.IntFlag):
    """Block processing control flags, RFC 9171 §4.2.4."""

    REPLICATE_IN_FRAGMENTS = 0x01
    REPORT_IF_UNPROCESSABLE = 0x02
    DELETE_IF_UNPROCESSABLE = 0x04
    DISCARD_IF_UNPROCESSABLE = 0x10


class BlockType(enum.IntEnum):
    """Block type codes, RFC 9171 §9.1 and RFC 9172 §11.1 (BIB, BCB)."""

    PAYLOAD = 1
    PREVIOUS_NODE = 6
    BUNDLE_AGE = 7
    HOP_COUNT = 10
    BIB = 11
    BCB = 12


_KNOWN_BLOCK_TYPES = {int(t): t for t in BlockType}


def block_type(code: int) -> int:
    """`BlockType` for a known code, the plain int otherwise (unknown types are preserved, RFC 9171 §4.3.2)."""
    return _KNOWN_BLOCK_TYPES.get(code, code)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimaryBlock:
    """Primary block, RFC 9171 §4.3.1. Times are DTN time (ms since 2000-01-01T00:00:00Z)."""

    destination: EID
    source: EID
    report_to: EID = DTN_NONE
    creation_time_ms: int = 0
    sequence: int = 0
    lifetime_ms: int = 3_600_000
    flags: BundleFlag = BundleFlag(0)
    crc_type: CrcType = CrcType.CRC32C
    fragment_offset: int | None = None
    total_adu_length: int | None = None
    version: int = BP_VERSION
    raw: bytes | memoryview | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def is_fragment(self) -> bool:
        return bool(self.flags & BundleFlag.IS_FRAGMENT)


@dataclass(frozen=True, slots=True)
class CanonicalBlock:
    """Canonical block, RFC 9171 §4.3.2. `data` is the block-type-specific data (the byte string's content)."""

    type: int
    number: int
    flags: BlockFlag = BlockFlag(0)
    crc_type: CrcType = CrcType.CRC32C
    data: bytes | memoryview = b""
    raw: bytes | memoryview | None = field(default=None, init=False, compare=False, repr=False)

    def __repr__(self) -> str:
        kind = self.type.name if isinstance(self.type, BlockType) else str(self.type)
        return (
            f"CanonicalBlock(type={kind}, number={self.number}, flags={int(self.flags):#x}, "
            f"crc_type={CrcType(self.crc_type).name}, data=<{len(self.data)} bytes>)"
        )


@dataclass(frozen=True, slots=True)
class BundleId:
    """What identifies a bundle (RFC 9171 §4.2.5.3 and §5.8): source, creation timestamp and, for a fragment,
    its offset and payload length. `key()` is a stable text form usable as a database key."""

    source: str
    creation_time_ms: int
    sequence: int
    fragment_offset: int | None = None
    payload_length: int | None = None

    @property
    def is_fragment(self) -> bool:
        return self.fragment_offset is not None

    def whole(self) -> BundleId:
        """The ID of the whole bundle (the ADU) this fragment belongs to."""
        return BundleId(self.source, self.creation_time_ms, self.sequence)

    def key(self) -> str:
        """'SOURCE TIME SEQ' or 'SOURCE TIME SEQ OFFSET LENGTH' (EID text never contains a space)."""
        base = f"{self.source} {self.creation_time_ms} {self.sequence}"
        if self.fragment_offset is None:
            return base
        return f"{base} {self.fragment_offset} {self.payload_length}"

    def __str__(self) -> str:
        return self.key()


_CONTENT_CACHE_MAX = 1024
_content_cache: dict[tuple[int, bytes], object] = {}


def _cached(kind: int, data: bytes | memoryview, parse):
    """Extension-block contents repeat (hop counts, previous nodes): parse each distinct small value once."""
    if len(data) > 32:
        return parse(data)
    key = (kind, bytes(data))
    try:
        return _content_cache[key]
    except KeyError:
        pass
    value = parse(data)
    if len(_content_cache) >= _CONTENT_CACHE_MAX:
        _content_cache.clear()
    _content_cache[key] = value
    return value


def parse_hop_count(data: bytes | memoryview) -> tuple[int, int]:
    """Hop count block data, RFC 9171 §4.4.3: [hop limit, hop count]."""
    return _cached(BlockType.HOP_COUNT, data, _parse_hop_count)  # type: ignore[return-value]


def _parse_hop_count(data: bytes | memoryview) -> tuple[int, int]:
    value = loads_strict(data, "hop count block")
    if type(value) is not list or len(value) != 2 or any(type(v) is not int for v in value):
        raise DecodeError("hop count block must hold [hop limit, hop count]")
    return value[0], value[1]  # type: ignore[index]


def parse_bundle_age(data: bytes | memoryview) -> int:
    """Bundle age block data, RFC 9171 §4.4.2: milliseconds as an unsigned integer."""
    value = loads_strict(data, "bundle age block")
    if type(value) is not int:
        raise DecodeError("bundle age block must hold an unsigned integer (ms)")
    return value


def parse_previous_node(data: bytes | memoryview) -> EID:
    """Previous node block data, RFC 9171 §4.4.1: the node ID of the forwarder."""
    return _cached(BlockType.PREVIOUS_NODE, data, _parse_previous_node)  # type: ignore[return-value]


def _parse_previous_node(data: bytes | memoryview) -> EID:
    return eid_from_cbor(loads_strict(data, "previous node block"))


_CONTENT_PARSERS = {
    BlockType.PREVIOUS_NODE: parse_previous_node,
    BlockType.BUNDLE_AGE: parse_bundle_age,
    BlockType.HOP_COUNT: parse_hop_count,
}


def bcb_targets(blocks: Iterable[CanonicalBlock]) -> set[int]:
    """Block numbers that some BCB encrypts (their data is ciphertext, not the block's usual CBOR).

    The ASB is a CBOR sequence whose first item is the array of target block numbers (RFC 9172 §3.6); a BCB
    that cannot be read that far is left for the BPSec layer to reject and contributes no targets here.
    """
    targets: set[int] = set()
    for block in blocks:
        if block.type == BlockType.BCB:
            view = memoryview(block.data).cast("B")
            try:
                value, _, _ = strict_item(view, 0, "BCB security targets")
            except DecodeError:
                continue
            if type(value) is list:
                targets.update(v for v in value if type(v) is int)
    return targets


def bib_targets(blocks: Iterable[CanonicalBlock]) -> set[int]:
    """Block numbers that some BIB protects (first item of the ASB, RFC 9172 §3.6)."""
    targets: set[int] = set()
    for block in blocks:
        if block.type == BlockType.BIB:
            view = memoryview(block.data).cast("B")
            try:
                value, _, _ = strict_item(view, 0, "BIB security targets")
            except DecodeError:
                continue
            if type(value) is list:
                targets.update(v for v in value if type(v) is int)
    return targets


def _as_eid(value: EID | str, what: str) -> EID:
    if isinstance(value, EID):
        return value
    if isinstance(value, str):
        return parse_eid(value)
    raise EncodeError(f"{what} must be an EID or EID text, got {type(value).__name__}")


def _cbor_block_data(value: object) -> bytes:
    return cbor2.dumps(value)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle, RFC 9171 §4.1: the primary block and the canonical blocks, payload block last."""

    primary: PrimaryBlock
    blocks: tuple[CanonicalBlock, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, tuple):
            object.__setattr__(self, "blocks", tuple(self.blocks))

    # -- construction ---------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        source: EID | str,
        destination: EID | str,
        payload: bytes | bytearray | memoryview,
        *,
        creation_time_ms: int,
        sequence: int = 0,
        lifetime_ms: int = 3_600_000,
        report_to: EID | str | None = None,
        flags: BundleFlag = BundleFlag(0),
        crc_type: CrcType = CrcType.CRC32C,
        hop_limit: int | None = None,
        extra_blocks: Sequence[CanonicalBlock] = (),
    ) -> Bundle:
        """A new bundle. Extension blocks keep their numbers; a Hop Count block (count 0) is added when
        `hop_limit` is given, and a Bundle Age block (0 ms) when `creation_time_ms` is 0 (RFC 9171 §4.3.1 MUST).
        All blocks use `crc_type`, except `extra_blocks`, which keep theirs."""
        primary = PrimaryBlock(
            destination=_as_eid(destination, "destination"),
            source=_as_eid(source, "source"),
            report_to=DTN_NONE if report_to is None else _as_eid(report_to, "report-to"),
            creation_time_ms=creation_time_ms,
            sequence=sequence,
            lifetime_ms=lifetime_ms,
            flags=BundleFlag(flags),
            crc_type=CrcType(crc_type),
        )
        if flags & BundleFlag.IS_FRAGMENT:
            raise EncodeError("create() makes whole bundles; use dtn.bpv7.fragment.fragment() for fragments")
        blocks = list(extra_blocks)
        numbers = [b.number for b in blocks]
        if any(b.type == BlockType.PAYLOAD for b in blocks):
            raise EncodeError("extra_blocks must not contain a payload block")
        if len(set(numbers)) != len(numbers) or any(n < 2 for n in numbers):
            raise EncodeError(f"extra block numbers must be unique and >= 2, got {numbers}")
        next_number = max(numbers, default=1) + 1
        if hop_limit is not None:
            if not 1 <= hop_limit <= 255:
                raise EncodeError(f"hop limit must be 1..255, got {hop_limit}")
            hop = CanonicalBlock(
                BlockType.HOP_COUNT, next_number, BlockFlag(0), crc_type, _cbor_block_data([hop_limit, 0])
            )
            blocks.insert(0, hop)
            next_number += 1
        if creation_time_ms == 0 and not any(b.type == BlockType.BUNDLE_AGE for b in blocks):
            blocks.insert(0, CanonicalBlock(BlockType.BUNDLE_AGE, next_number, BlockFlag(0), crc_type, b"\x00"))
        blocks.append(CanonicalBlock(BlockType.PAYLOAD, 1, BlockFlag(0), crc_type, payload))
        return cls(primary, tuple(blocks))

    # -- accessors ------------------------------------------------------------------------------------------

    @property
    def payload_block(self) -> CanonicalBlock | None:
        for block in reversed(self.blocks):
            if block.type == BlockType.PAYLOAD:
                return block
        return None

    @property
    def payload(self) -> bytes | memoryview:
        """The payload block's data (a zero-copy memoryview for decoded bundles); b"" if there is none."""
        block = self.payload_block
        return b"" if block is None else block.data

    @property
    def is_admin_record(self) -> bool:
        return bool(self.primary.flags & BundleFlag.IS_ADMIN_RECORD)

    @property
    def is_fragment(self) -> bool:
        return self.primary.is_fragment

    @property
    def id(self) -> BundleId:
        p = self.primary
        if p.is_fragment:
            return BundleId(str(p.source), p.creation_time_ms, p.sequence, p.fragment_offset, len(self.payload))
        return BundleId(str(p.source), p.creation_time_ms, p.sequence)

    def block(self, type: int) -> CanonicalBlock | None:  # noqa: A002 - mirrors the RFC's "block type"
        """The first block of this type, or None."""
        for block in self.blocks:
            if block.type == type:
                return block
        return None

    def blocks_of(self, type: int) -> list[CanonicalBlock]:  # noqa: A002
        return [block for block in self.blocks if block.type == type]

    def block_by_number(self, number: int) -> CanonicalBlock | None:
        for block in self.blocks:
            if block.number == number:
                return block
        return None

    @property
    def hop_count(self) -> tuple[int, int] | None:
        """(hop limit, hop count) from the Hop Count block, or None. DecodeError if the block is unreadable."""
        block = self.block(BlockType.HOP_COUNT)
        return None if block is None else parse_hop_count(block.data)

    @property
    def bundle_age_ms(self) -> int | None:
        block = self.block(BlockType.BUNDLE_AGE)
        return None if block is None else parse_bundle_age(block.data)

    @property
    def previous_node(self) -> EID | None:
        block = self.block(BlockType.PREVIOUS_NODE)
        return None if block is None else parse_previous_node(block.data)

    def expiry_dtn_ms(self, received_dtn_ms: int | None = None) -> int | None:
        """When the bundle expires, in DTN ms: creation time + lifetime (RFC 9171 §4.2.2).

        A source without a clock writes creation time 0 and the age travels in the Bundle Age block: then the
        expiry is `received_dtn_ms - age + lifetime`, and None when `received_dtn_ms` or the age is unknown.
        """
        p = self.primary
        if p.creation_time_ms:
            return p.creation_time_ms + p.lifetime_ms
        age_ms = self.bundle_age_ms
        if age_ms is None or received_dtn_ms is None:
            return None
        return received_dtn_ms - age_ms + p.lifetime_ms

    # -- immutable updates ----------------------------------------------------------------------------------

    def with_blocks(self, blocks: Iterable[CanonicalBlock]) -> Bundle:
        return Bundle(self.primary, tuple(blocks))

    def with_primary(self, **changes) -> Bundle:
        """A copy with primary-block fields changed (the primary is re-encoded with a fresh CRC)."""
        return Bundle(dataclasses.replace(self.primary, **changes), self.blocks)

    def _with_block_data(self, kind: BlockType, data: bytes) -> Bundle:
        blocks = list(self.blocks)
        for index, block in enumerate(blocks):
            if block.type == kind:
                blocks[index] = dataclasses.replace(block, data=data)
                return Bundle(self.primary, tuple(blocks))
        number = max((b.number for b in blocks), default=1) + 1
        payload = self.payload_block
        crc_type = payload.crc_type if payload is not None else self.primary.crc_type
        new = CanonicalBlock(kind, max(number, 2), BlockFlag(0), crc_type, data)
        # RFC 9171 §4.4.1 does not fix an order; new extension blocks go first so the payload stays last.
        return Bundle(self.primary, (new, *blocks))

    def with_previous_node(self, eid: EID | str) -> Bundle:
        """Set (or add) the Previous Node block (RFC 9171 §4.4.1); pass a node ID."""
        return self._with_block_data(BlockType.PREVIOUS_NODE, _cbor_block_data(_as_eid(eid, "previous node").to_cbor()))

    def with_hop_count(self, limit: int, count: int) -> Bundle:
        """Set (or add) the Hop Count block (RFC 9171 §4.4.3)."""
        if not 1 <= limit <= 255 or not 0 <= count <= UINT64_MAX:
            raise EncodeError(f"invalid hop count ({limit}, {count}): limit must be 1..255, count >= 0")
        return self._with_block_data(BlockType.HOP_COUNT, _cbor_block_data([limit, count]))

    def with_bundle_age_ms(self, age_ms: int) -> Bundle:
        """Set (or add) the Bundle Age block (RFC 9171 §4.4.2)."""
        if not 0 <= age_ms <= UINT64_MAX:
            raise EncodeError(f"bundle age out of range: {age_ms}")
        return self._with_block_data(BlockType.BUNDLE_AGE, _cbor_block_data(int(age_ms)))

    # -- validation -----------------------------------------------------------------------------------------

    def validate(self) -> list[str]:
        """Every problem found against RFC 9171 (and RFC 9172's block rules); empty when the bundle is valid."""
        from dtn.bpv7.validate import validate_bundle

        return validate_bundle(self)
