"""Encode and decode bundles, RFC 9171 §4 (CBOR, RFC 8949).

`encode_parts()` returns the bundle as a list of byte chunks in which large payloads appear as the caller's own
buffers (no copy); `encode()` joins them. `decode()` is strict and returns blocks whose `data` are zero-copy
memoryviews into the input. Structured items are decoded and encoded with cbor2; only block framing and the
heads of byte strings are handled here (see `_cbor`).
"""

from __future__ import annotations

import cbor2
from crc32c import crc32c as _crc32c

from dtn.bpv7._cbor import (
    BREAK,
    MAJOR_ARRAY,
    MAJOR_BYTES,
    UINT64_MAX,
    head,
    read_definite_bytes,
    read_head,
    read_uint,
    strict_item,
)
from dtn.bpv7._cbor import dumps as fast_dumps
from dtn.bpv7.bundle import (
    _CONTENT_PARSERS,
    _KNOWN_BLOCK_TYPES,
    BP_VERSION,
    BlockFlag,
    BlockType,
    Bundle,
    BundleFlag,
    CanonicalBlock,
    PrimaryBlock,
    bcb_targets,
    block_type,
)
from dtn.bpv7.crc import CRC_SIZE_BYTES, CrcType, compute_crc
from dtn.bpv7.eid import eid_from_cbor
from dtn.errors import DecodeError, EncodeError

_INDEFINITE_ARRAY = b"\x9f"
_BREAK = b"\xff"
_SMALL_DATA_BYTES = 4096  # below this, copying the data into one chunk is cheaper than keeping it apart
_CRC_TYPES = {0: CrcType.NONE, 1: CrcType.CRC16, 2: CrcType.CRC32C}

# -- encoding ------------------------------------------------------------------------------------------------


def _check_uints(what: str, **values: object) -> None:
    """cbor2 would silently write a bignum tag for an int >= 2^64; the RFC wants unsigned 64-bit integers."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= UINT64_MAX:
            raise EncodeError(f"{what} {name} must be an unsigned 64-bit integer, got {value!r}")


def _primary_fields(primary: PrimaryBlock) -> list:
    _check_uints(
        "primary block",
        version=primary.version,
        flags=int(primary.flags),
        creation_time_ms=primary.creation_time_ms,
        sequence=primary.sequence,
        lifetime_ms=primary.lifetime_ms,
    )
    fields = [
        primary.version,
        int(primary.flags),
        int(primary.crc_type),
        primary.destination.to_cbor(),
        primary.source.to_cbor(),
        primary.report_to.to_cbor(),
        [primary.creation_time_ms, primary.sequence],
        primary.lifetime_ms,
    ]
    if primary.flags & BundleFlag.IS_FRAGMENT:
        if primary.fragment_offset is None or primary.total_adu_length is None:
            raise EncodeError("a fragment needs fragment_offset and total_adu_length (RFC 9171 §4.3.1)")
        _check_uints(
            "primary block", fragment_offset=primary.fragment_offset, total_adu_length=primary.total_adu_length
        )
        fields += [primary.fragment_offset, primary.total_adu_length]
    elif primary.fragment_offset is not None or primary.total_adu_length is not None:
        raise EncodeError("fragment_offset/total_adu_length are set but the IS_FRAGMENT flag is not")
    return fields


def _with_crc(crc_type: CrcType, fields: list) -> bytes:
    """cbor2-encode `fields` plus a zeroed CRC field, then fill the CRC in (it is the last k bytes)."""
    size = CRC_SIZE_BYTES[CrcType(crc_type)]
    if not size:
        return _dumps(fields)
    encoded = bytearray(_dumps([*fields, bytes(size)]))
    encoded[-size:] = compute_crc(crc_type, (encoded,))
    return bytes(encoded)


def _dumps(value: object) -> bytes:
    try:
        return fast_dumps(value)
    except (OverflowError, ValueError, TypeError, cbor2.CBOREncodeError) as exc:
        raise EncodeError(f"cannot encode {value!r:.80}: {exc}") from None


def encode_primary(primary: PrimaryBlock) -> bytes:
    """The canonical encoding of a primary block (RFC 9171 §4.3.1), CRC included; ignores `raw`."""
    return _with_crc(primary.crc_type, _primary_fields(primary))


def encode_block_parts(block: CanonicalBlock) -> list[bytes | memoryview]:
    """The canonical encoding of a canonical block (RFC 9171 §4.3.2) as chunks; ignores `raw`.

    Block data larger than a few KiB stays a separate chunk (the caller's buffer, not a copy).
    """
    data = block.data
    crc_type = CrcType(block.crc_type)
    fields = [int(block.type), block.number, int(block.flags), int(crc_type)]
    _check_uints("block", type=fields[0], number=fields[1], flags=fields[2])
    if len(data) <= _SMALL_DATA_BYTES:
        return [_with_crc(crc_type, [*fields, bytes(data)])]
    size = CRC_SIZE_BYTES[crc_type]
    try:
        prefix = head(MAJOR_ARRAY, 6 if size else 5) + b"".join(head(0, f) for f in fields)
        prefix += head(MAJOR_BYTES, len(data))
    except (OverflowError, ValueError, TypeError) as exc:
        raise EncodeError(f"cannot encode block {block!r}: {exc}") from None
    if not size:
        return [prefix, data]
    crc_head = head(MAJOR_BYTES, size)
    crc = compute_crc(crc_type, (prefix, data, crc_head, bytes(size)))
    return [prefix, data, crc_head + crc]


def encode_block(block: CanonicalBlock) -> bytes:
    """The canonical encoding of one canonical block, as bytes."""
    return b"".join(encode_block_parts(block))


def encode_parts(bundle: Bundle) -> list[bytes | memoryview]:
    """The encoded bundle as chunks to write in order (large block data is not copied).

    Blocks decoded from bytes and not changed since are written back exactly as received (`raw`).
    The bundle is an indefinite-length CBOR array (RFC 9171 §4.1).
    """
    primary = bundle.primary
    parts: list[bytes | memoryview] = [_INDEFINITE_ARRAY]
    parts.append(primary.raw if primary.raw is not None else encode_primary(primary))
    for block in bundle.blocks:
        if block.raw is not None:
            parts.append(block.raw)
        else:
            parts.extend(encode_block_parts(block))
    parts.append(_BREAK)
    return parts


def encode(bundle: Bundle) -> bytes:
    """The bundle as bytes. Deterministic: the same Bundle always gives the same bytes."""
    return b"".join(encode_parts(bundle))


def encoded_size(bundle: Bundle) -> int:
    """len(encode(bundle)) without joining the chunks."""
    return sum(len(part) for part in encode_parts(bundle))


# -- decoding ------------------------------------------------------------------------------------------------


def _as_view(data: bytes | bytearray | memoryview) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise DecodeError(f"expected bytes-like data, got {type(data).__name__}") from None
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _crc_check(view: memoryview, crc_type: CrcType, start: int, crc_at: int, end: int, what: str) -> None:
    """Verify a block CRC: over view[start:end] with the CRC value (k bytes at `crc_at`) zeroed, RFC 9171 §4.2.1."""
    size = CRC_SIZE_BYTES[crc_type]
    if crc_type == CrcType.CRC32C:
        crc = _crc32c(view[start:crc_at])
        crc = _crc32c(b"\x00\x00\x00\x00", crc)
        expected = _crc32c(view[crc_at + size : end], crc).to_bytes(4, "big")
    else:
        expected = compute_crc(crc_type, (view[start:crc_at], bytes(size), view[crc_at + size : end]))
    if view[crc_at : crc_at + size] != expected:
        found = view[crc_at : crc_at + size].hex()
        raise DecodeError(f"{what}: CRC mismatch (found {found}, computed {expected.hex()})", offset=crc_at)


_FLAG_CACHE_MAX = 1024
_bundle_flag_cache: dict[int, BundleFlag] = {}
_block_flag_cache: dict[int, BlockFlag] = {}


def _bundle_flags(value: int) -> BundleFlag:
    flags = _bundle_flag_cache.get(value)
    if flags is None:
        flags = BundleFlag(value)
        if len(_bundle_flag_cache) < _FLAG_CACHE_MAX:
            _bundle_flag_cache[value] = flags
    return flags


def _block_flags(value: int) -> BlockFlag:
    flags = _block_flag_cache.get(value)
    if flags is None:
        flags = BlockFlag(value)
        if len(_block_flag_cache) < _FLAG_CACHE_MAX:
            _block_flag_cache[value] = flags
    return flags


# Decoded blocks are built by setting their slots directly: the frozen dataclasses' __init__ goes through
# object.__setattr__ once per field, which is a third of the time of decoding a small bundle. Every slot is set
# (tests compare these objects with ones built through __init__).
_object_new = object.__new__
(
    _p_destination,
    _p_source,
    _p_report_to,
    _p_creation_time_ms,
    _p_sequence,
    _p_lifetime_ms,
    _p_flags,
    _p_crc_type,
    _p_fragment_offset,
    _p_total_adu_length,
    _p_version,
    _p_raw,
) = (
    PrimaryBlock.__dict__[name].__set__
    for name in (
        "destination",
        "source",
        "report_to",
        "creation_time_ms",
        "sequence",
        "lifetime_ms",
        "flags",
        "crc_type",
        "fragment_offset",
        "total_adu_length",
        "version",
        "raw",
    )
)
_b_type, _b_number, _b_flags, _b_crc_type, _b_data, _b_raw = (
    CanonicalBlock.__dict__[name].__set__ for name in ("type", "number", "flags", "crc_type", "data", "raw")
)
_bundle_primary, _bundle_blocks = (Bundle.__dict__[name].__set__ for name in ("primary", "blocks"))


def _new_block(code: int, number: int, flags: BlockFlag, crc_type: CrcType, data, raw) -> CanonicalBlock:
    block = _object_new(CanonicalBlock)
    _b_type(block, code)
    _b_number(block, number)
    _b_flags(block, flags)
    _b_crc_type(block, crc_type)
    _b_data(block, data)
    _b_raw(block, raw)
    return block


_ZERO_CRC32 = b"\x00\x00\x00\x00"
_CRC32C = CrcType.CRC32C


def _crc32c_ok(view: memoryview, start: int, crc_at: int) -> bool:
    """The CRC-32C field of a block whose 4-byte CRC value is its last item (the usual, definite-length case)."""
    return _crc32c(_ZERO_CRC32, _crc32c(view[start:crc_at])) == int.from_bytes(view[crc_at : crc_at + 4], "big")


def _uint(value: object, what: str, offset: int) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:  # negative ints and bignums are CBOR too
        raise DecodeError(f"{what} must be an unsigned integer", offset=offset)
    return value  # type: ignore[return-value]


def decode_primary(view: memoryview, pos: int) -> tuple[PrimaryBlock, int]:
    """Decode the primary block at `pos` (RFC 9171 §4.3.1): (block, position after it)."""
    # Every field is type- and range-checked below, so the generic type walk is skipped (speed).
    value, end, _ = strict_item(view, pos, "primary block", check_types=False)
    if type(value) is not list:
        raise DecodeError("primary block must be a CBOR array", offset=pos)
    if len(value) < 8:
        raise DecodeError(f"primary block has {len(value)} items, at least 8 are required", offset=pos)
    version, flag_bits, crc_code, timestamp, lifetime_ms = value[0], value[1], value[2], value[6], value[7]
    if not (
        type(version) is int
        and type(flag_bits) is int
        and type(crc_code) is int
        and type(lifetime_ms) is int
        and type(timestamp) is list
        and len(timestamp) == 2
        and type(timestamp[0]) is int
        and type(timestamp[1]) is int
        and 0 <= flag_bits <= UINT64_MAX
        and 0 <= lifetime_ms <= UINT64_MAX
        and 0 <= timestamp[0] <= UINT64_MAX
        and 0 <= timestamp[1] <= UINT64_MAX
    ):
        # Something is off: find it field by field, for a precise message.
        _uint(version, "bundle protocol version", pos)
        _uint(flag_bits, "bundle processing flags", pos)
        _uint(crc_code, "primary block CRC type", pos)
        _uint(lifetime_ms, "lifetime", pos)
        if type(timestamp) is not list or len(timestamp) != 2:
            raise DecodeError("creation timestamp must be [DTN time, sequence number]", offset=pos)
        _uint(timestamp[0], "creation time", pos)
        _uint(timestamp[1], "sequence number", pos)
    if version != BP_VERSION:
        raise DecodeError(f"unsupported bundle protocol version {version} (expected 7)", offset=pos)
    flags = _bundle_flag_cache.get(flag_bits)
    if flags is None:
        flags = _bundle_flags(flag_bits)
    crc_type = _CRC_TYPES.get(crc_code)
    if crc_type is None:
        raise DecodeError(f"unknown CRC type {crc_code}", offset=pos)
    is_fragment = bool(flag_bits & 1)
    expected = 8 + (2 if is_fragment else 0) + (1 if crc_type else 0)
    if len(value) != expected:
        raise DecodeError(
            f"primary block has {len(value)} items, expected {expected} "
            f"({'fragment' if is_fragment else 'not a fragment'}, CRC type {crc_code})",
            offset=pos,
        )
    primary = _object_new(PrimaryBlock)
    _p_destination(primary, eid_from_cbor(value[3], pos))
    _p_source(primary, eid_from_cbor(value[4], pos))
    _p_report_to(primary, eid_from_cbor(value[5], pos))
    _p_creation_time_ms(primary, timestamp[0])
    _p_sequence(primary, timestamp[1])
    _p_lifetime_ms(primary, lifetime_ms)
    _p_flags(primary, flags)
    _p_crc_type(primary, crc_type)
    _p_fragment_offset(primary, _uint(value[8], "fragment offset", pos) if is_fragment else None)
    _p_total_adu_length(primary, _uint(value[9], "total ADU length", pos) if is_fragment else None)
    _p_version(primary, version)
    if crc_type:
        crc_value = value[-1]
        size = CRC_SIZE_BYTES[crc_type]
        if type(crc_value) is not bytes or len(crc_value) != size:
            raise DecodeError(f"primary block CRC must be a {size}-byte byte string", offset=pos)
        # The CRC is the last item: its value is the last `size` bytes, before the break if the array is indefinite.
        crc_end = end - 1 if view[pos] == 0x9F else end
        crc_at = crc_end - size
        if view[crc_at:crc_end] != crc_value:
            raise DecodeError("primary block CRC must be a definite-length byte string", offset=crc_at)
        if not (crc_type == 2 and crc_end == end and _crc32c_ok(view, pos, crc_at)):
            _crc_check(view, crc_type, pos, crc_at, end, "primary block")
    _p_raw(primary, view[pos:end])
    return primary, end


_DATA_LENGTH_SIZES = {0x58: 1, 0x59: 2, 0x5A: 4, 0x5B: 8}


def decode_block(view: memoryview, pos: int) -> tuple[CanonicalBlock, int]:
    """Decode one canonical block at `pos` (RFC 9171 §4.3.2): (block, position after it)."""
    # The usual shape, checked in one go: a definite array of 6 whose four leading uints fit in their head byte,
    # a definite byte string, a 4-byte CRC-32C byte string last. Anything else takes the general path below,
    # which also gives the precise error.
    header = view[pos : pos + 6].tobytes()
    if (
        len(header) == 6
        and header[0] == 0x86
        and header[4] == 2
        and header[1] < 24
        and header[2] < 24
        and header[3] < 24
    ):
        info = header[5]
        if 0x40 <= info <= 0x57:
            data_start, data_end = pos + 6, pos + 6 + info - 0x40
        else:
            size = _DATA_LENGTH_SIZES.get(info)
            data_start = pos + 6 + (size or 0)
            data_end = data_start + int.from_bytes(view[pos + 6 : data_start], "big") if size else -1
        crc_at = data_end + 1
        end = crc_at + 4
        if (
            0 <= data_end
            and end <= len(view)
            and view[data_end] == 0x44
            and _crc32c(_ZERO_CRC32, _crc32c(view[pos:crc_at])) == int.from_bytes(view[crc_at:end], "big")
        ):
            flags = _block_flag_cache.get(header[3])
            block = _new_block(
                _KNOWN_BLOCK_TYPES.get(header[1], header[1]),
                header[2],
                _block_flags(header[3]) if flags is None else flags,
                _CRC32C,
                view[data_start:data_end],
                view[pos:end],
            )
            return block, end
    return _decode_block(view, pos)


def _decode_block(view: memoryview, pos: int) -> tuple[CanonicalBlock, int]:
    start = pos
    header = view[pos : pos + 6].tobytes()
    data = None
    if (
        len(header) == 6
        and header[0] in (0x85, 0x86)
        and header[1] < 24
        and header[2] < 24
        and header[3] < 24
        and header[4] < 24
    ):
        # The usual shape: a definite array whose four leading uints each fit in their head byte.
        count, code, number, flags, crc_code = header[0] & 0x1F, header[1], header[2], header[3], header[4]
        crc_at_field = pos + 4
        if 0x40 <= header[5] <= 0x57:  # short data: its length is in the head byte
            data_end = pos + 6 + header[5] - 0x40
            if data_end > len(view):
                raise DecodeError("block-type-specific data runs past the end of the data", offset=pos + 5)
            data, pos = view[pos + 6 : data_end], data_end
        else:
            pos += 5
    else:
        major, count, pos = read_head(view, pos)
        if major != MAJOR_ARRAY:
            raise DecodeError(f"block must be a CBOR array (found major type {major})", offset=start)
        code, pos = read_uint(view, pos, "block type")
        number, pos = read_uint(view, pos, "block number")
        flags, pos = read_uint(view, pos, "block processing flags")
        crc_at_field = pos
        crc_code, pos = read_uint(view, pos, "block CRC type")
    crc_type = _CRC_TYPES.get(crc_code)
    if crc_type is None:
        raise DecodeError(f"unknown CRC type {crc_code}", offset=crc_at_field)
    size = CRC_SIZE_BYTES[crc_type]
    if count is not None and count != (6 if size else 5):
        raise DecodeError(f"block has {count} items, expected {6 if size else 5} for CRC type {crc_code}", offset=start)
    if data is None:
        data, pos = read_definite_bytes(view, pos, "block-type-specific data")
    crc_at = -1
    if size:
        if pos < len(view) and view[pos] == 0x40 + size:
            crc_at = pos + 1
            pos = crc_at + size
            if pos > len(view):
                raise DecodeError("block CRC runs past the end of the data", offset=crc_at - 1)
        else:
            crc_value, pos = read_definite_bytes(view, pos, "block CRC")
            if len(crc_value) != size:
                raise DecodeError(
                    f"block CRC must be {size} bytes, found {len(crc_value)}", offset=pos - len(crc_value)
                )
            crc_at = pos - size
    if count is None:
        if pos >= len(view) or view[pos] != BREAK:
            raise DecodeError("indefinite-length block array must end after its last item", offset=pos)
        pos += 1
    if size:
        _crc_check(view, crc_type, start, crc_at, pos, f"block {number}")
    return _new_block(block_type(code), number, _block_flags(flags), crc_type, data, view[start:pos]), pos


def decode(data: bytes | bytearray | memoryview) -> Bundle:
    """Decode one bundle, strictly (RFC 9171 §4): raises DecodeError(reason, offset) at the first problem.

    Checked here: CBOR well-formedness and item types, version 7, array sizes, definite-length block data,
    every CRC, EIDs, payload block last, exactly one and numbered 1, unique non-zero block numbers, at most one
    Previous Node / Bundle Age / Hop Count block and their contents (unless a BCB encrypts them), no trailing
    bytes. A definite-length outer array is accepted and re-encoded as the conformant indefinite-length array
    (RFC 9171 §4.1 allows that transformation). Semantic rules that a policy may waive (e.g. a primary block
    without CRC, creation time 0 without Bundle Age, RFC 9173 Appendix A) are left to `Bundle.validate()`.
    """
    view = memoryview(data) if type(data) is bytes else _as_view(data)
    if not len(view):
        raise DecodeError("empty input", offset=0)
    if view[0] == 0x9F:  # the usual indefinite-length array (RFC 9171 §4.1)
        major, count, pos = MAJOR_ARRAY, None, 1
    else:
        major, count, pos = read_head(view, 0)
    if major != MAJOR_ARRAY:
        raise DecodeError(f"a bundle must be a CBOR array (found major type {major})", offset=0)
    if count is not None and count < 2:
        raise DecodeError(f"a bundle needs at least 2 blocks, the array has {count}", offset=0)
    primary, pos = decode_primary(view, pos)
    first_block_at = pos
    blocks: list[CanonicalBlock] = []
    size = len(view)
    while True:
        if count is None:
            if pos >= size:
                raise DecodeError("bundle array is not terminated (missing break)", offset=pos)
            if view[pos] == BREAK:
                pos += 1
                break
        elif len(blocks) == count - 1:
            break
        block, pos = decode_block(view, pos)
        blocks.append(block)
    if pos != size:
        raise DecodeError(f"{size - pos} trailing bytes after the bundle", offset=pos)
    _check_blocks(blocks, _BlockOffsets(first_block_at, blocks))
    bundle = _object_new(Bundle)
    _bundle_primary(bundle, primary)
    _bundle_blocks(bundle, tuple(blocks))
    return bundle


class _BlockOffsets:
    """offsets[i]: where block i starts (blocks are contiguous); computed only when an error is reported."""

    __slots__ = ("first", "blocks")

    def __init__(self, first: int, blocks: list[CanonicalBlock]) -> None:
        self.first, self.blocks = first, blocks

    def __getitem__(self, index: int) -> int:
        return self.first + sum(len(block.raw) for block in self.blocks[:index])

    def __len__(self) -> int:
        return len(self.blocks)

    def __bool__(self) -> bool:
        return bool(self.blocks)


_UNIQUE_TYPES = (BlockType.PREVIOUS_NODE, BlockType.BUNDLE_AGE, BlockType.HOP_COUNT)
# Plain ints for the hot path: reading an enum member off its class costs more than the comparison.
_UNIQUE_CODES = frozenset(int(code) for code in _UNIQUE_TYPES)
_PAYLOAD = int(BlockType.PAYLOAD)
_BCB = int(BlockType.BCB)


def _check_blocks(blocks: list[CanonicalBlock], offsets: list[int]) -> None:
    """The block-level rules of RFC 9171 §4.1-4.4 (see `decode`)."""
    # The usual bundle passes with a few C-level list operations; any doubt goes through the loop below, which
    # also finds the precise error.
    types = [block.type for block in blocks]
    numbers = [block.number for block in blocks]
    if (
        types
        and types[-1] == _PAYLOAD
        and numbers[-1] == 1
        and types.count(_PAYLOAD) == 1
        and 0 not in numbers
        and len(set(numbers)) == len(numbers)
    ):
        unique = [code for code in types if code in _UNIQUE_CODES]
        if not unique:
            return
        if len(set(unique)) == len(unique):
            encrypted = bcb_targets(blocks) if _BCB in types else ()
            for index, block in enumerate(blocks):
                if types[index] in _UNIQUE_CODES and block.number not in encrypted:
                    try:
                        _CONTENT_PARSERS[types[index]](block.data)
                    except DecodeError as exc:
                        raise DecodeError(exc.reason, offset=offsets[index]) from None
            return
    if not blocks:
        raise DecodeError("a bundle needs a payload block", offset=offsets[0] if offsets else None)
    seen: set[int] = set()
    unique_seen: set[int] = set()
    has_extension_content = False
    last = len(blocks) - 1
    for index, block in enumerate(blocks):
        if block.type == BlockType.PAYLOAD:
            if index != last:
                raise DecodeError("the payload block must be the last block (RFC 9171 §4.1)", offset=offsets[index])
            if block.number != 1:
                raise DecodeError(
                    f"the payload block must be block number 1, not {block.number}", offset=offsets[index]
                )
        elif index == last:
            raise DecodeError(
                f"the last block must be the payload block (found type {int(block.type)})", offset=offsets[index]
            )
        elif block.number in (0, 1):
            raise DecodeError(
                f"block number {block.number} is reserved (0: primary, 1: payload)", offset=offsets[index]
            )
        if block.number in seen:
            raise DecodeError(f"duplicate block number {block.number} (RFC 9171 §4.3.2)", offset=offsets[index])
        seen.add(block.number)
        if block.type in _UNIQUE_TYPES:
            if block.type in unique_seen:
                raise DecodeError(
                    f"more than one {BlockType(block.type).name} block (RFC 9171 §4.4)", offset=offsets[index]
                )
            unique_seen.add(block.type)
            has_extension_content = True
    if has_extension_content:
        encrypted = bcb_targets(blocks)
        for index, block in enumerate(blocks):
            parser = _CONTENT_PARSERS.get(block.type)
            if parser is not None and block.number not in encrypted:
                try:
                    parser(block.data)
                except DecodeError as exc:
                    raise DecodeError(exc.reason, offset=offsets[index]) from None
