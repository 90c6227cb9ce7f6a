"""CBOR plumbing for the codec, on top of cbor2.

cbor2 decodes and encodes every structured item (primary block, EIDs, extension-block contents, administrative
records). Two things are done here by hand because a CBOR *head* (major type + argument, RFC 8949 §3) is trivial
and cbor2 cannot do them without copying: framing the blocks of a bundle, and wrapping byte strings around payload
buffers, so payloads are neither copied on decode nor re-assembled on encode.

cbor2 is lenient where a bundle must not be (PITFALLS): it may accept a stray break inside a definite-length array,
and it turns transparent tags (bignums, self-describe, shared values, string references) into plain values. So the
strict checks are ours: `scan_item()` walks the CBOR heads of an item (RFC 8949 §3) and refuses all of these,
finding the item's exact end; only then are exactly those bytes decoded, with cbor2's public `loads`. Nothing
private of cbor2 is used (cbor2 6 removed modules that 5.x had).
"""

from __future__ import annotations

import codecs
import io
import struct
import threading

import cbor2

from dtn.errors import DecodeError

MAJOR_UINT = 0
MAJOR_BYTES = 2
MAJOR_TEXT = 3
MAJOR_ARRAY = 4
BREAK = 0xFF
UINT64_MAX = (1 << 64) - 1

# cbor2.dumps builds a new encoder and stream per call, which dominates for the small items of a bundle; one
# reusable encoder per thread is 2-3x faster (the codec must stay usable from several threads).
_local = threading.local()


def _reusable() -> tuple[io.BytesIO, cbor2.CBOREncoder]:
    try:
        return _local.pair
    except AttributeError:
        stream = io.BytesIO()
        _local.pair = (stream, cbor2.CBOREncoder(stream))
        return _local.pair


def dumps(value: object) -> bytes:
    """cbor2.dumps(value), faster for small values."""
    stream, encoder = _reusable()
    stream.seek(0)
    stream.truncate()
    encoder.encode(value)
    return stream.getvalue()


def _cbor2_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("cbor2").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


# cbor2 5.x's C decoder leaks the exception (about 1 KB, with its traceback) each time it refuses a text string
# that is not UTF-8: a peer could grow a node's memory without bound with such bundles (found by tools/fuzz.py,
# docs/security.md). cbor2 6 does not; with cbor2 5, text strings are checked here before cbor2 sees them.
_CHECK_TEXT = _cbor2_major() < 6
_MAX_WALK_DEPTH = 32


def check_text(data: bytes | bytearray | memoryview, *, sequence: bool = False) -> None:
    """DecodeError if a CBOR text string in the first item of `data` (every item if `sequence`) is not UTF-8.
    Anything else malformed is left for cbor2 to report. A no-op with cbor2 6 or later."""
    if not _CHECK_TEXT:
        return
    buf = data if type(data) is bytes else bytes(data)
    n = len(buf)
    pos = 0
    # One loop over item heads; `left` counts the items still due in each open container (-1: indefinite).
    left = [1 if not sequence else -1]
    while left:
        if pos >= n:
            return  # truncated (or the end of a sequence): nothing more to check
        initial = buf[pos]
        if left[-1] < 0 and initial == BREAK:
            left.pop()
            pos += 1
            if not left:
                return
            continue
        if left[-1] > 0:
            left[-1] -= 1
        major = initial >> 5
        info = initial & 0x1F
        pos += 1
        if info < 24:
            arg = info
        elif info < 28:
            width = 1 << (info - 24)
            arg = int.from_bytes(buf[pos : pos + width], "big")
            pos += width
        elif info == 31 and 2 <= major <= 5:
            arg = -1
        else:
            return  # reserved additional information or a stray break: cbor2 reports it
        if major == 3 and arg >= 0:
            end = pos + arg
            if end > n:
                return
            try:
                buf[pos:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(f"CBOR text string is not UTF-8 ({exc.reason})", offset=pos - 1) from None
            pos = end
        elif major == 2 and arg >= 0:
            pos += arg
        elif major in (2, 3, 4, 5):  # indefinite string (its chunks are items) or a container
            if len(left) > _MAX_WALK_DEPTH:
                return
            left.append(-1 if arg < 0 else arg * (2 if major == 5 else 1))
        elif major == 6:  # a tag: its content is the next item at this level
            if left[-1] >= 0:
                left[-1] += 1
        # majors 0, 1, 7: the head is the whole item
        while left and left[-1] == 0:
            left.pop()


def head(major: int, value: int) -> bytes:
    """The shortest CBOR head for `major` with argument `value` (RFC 8949 §4.2.1 preferred serialization)."""
    mt = major << 5
    if value < 24:
        return bytes((mt | value,))
    if value < 0x100:
        return bytes((mt | 24, value))
    if value < 0x10000:
        return struct.pack(">BH", mt | 25, value)
    if value < 0x100000000:
        return struct.pack(">BI", mt | 26, value)
    if value <= UINT64_MAX:
        return struct.pack(">BQ", mt | 27, value)
    raise OverflowError(f"CBOR argument {value} does not fit in 64 bits")


def read_head(view: memoryview, pos: int) -> tuple[int, int | None, int]:
    """Read one CBOR head at `pos`: (major type, argument or None if indefinite-length, position after the head).

    Raises DecodeError for truncation and for the reserved additional-information values 28..30.
    """
    if pos >= len(view):
        raise DecodeError("unexpected end of data", offset=pos)
    initial = view[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info == 31:
        if major in (0, 1, 6):
            raise DecodeError(f"indefinite length not allowed for major type {major}", offset=pos)
        return major, None, pos + 1
    if info > 27:
        raise DecodeError(f"reserved CBOR additional information {info}", offset=pos)
    size = 1 << (info - 24)
    end = pos + 1 + size
    if end > len(view):
        raise DecodeError("unexpected end of data inside a CBOR head", offset=pos)
    return major, int.from_bytes(view[pos + 1 : end], "big"), end


def read_uint(view: memoryview, pos: int, what: str) -> tuple[int, int]:
    """An unsigned integer (major type 0) at `pos`: (value, position after it)."""
    major, value, end = read_head(view, pos)
    if major != MAJOR_UINT:
        raise DecodeError(f"{what} must be an unsigned integer (found CBOR major type {major})", offset=pos)
    return value, end  # type: ignore[return-value]


def read_definite_bytes(view: memoryview, pos: int, what: str) -> tuple[memoryview, int]:
    """A definite-length byte string at `pos`, returned as a zero-copy slice: (content, position after it)."""
    major, length, start = read_head(view, pos)
    if major != MAJOR_BYTES:
        raise DecodeError(f"{what} must be a byte string (found CBOR major type {major})", offset=pos)
    if length is None:
        raise DecodeError(f"{what} must be a definite-length byte string (RFC 9171 §4.3.2)", offset=pos)
    end = start + length
    if end > len(view):
        raise DecodeError(f"{what} runs past the end of the data ({length} bytes declared)", offset=pos)
    return view[start:end], end


_MAX_NESTING = 9
"""Arrays nested deeper than this are refused (a bundle nests three deep at most)."""
_SHORTEST_LIMIT = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}
"""A head with additional information `info` is the shortest form only if its argument is at least this."""


def scan_item(
    view: memoryview, pos: int, what: str, allow_bool: bool = False, any_int: bool = False
) -> tuple[int, bool]:
    """Check one CBOR item at `pos` by walking its heads (RFC 8949 §3): (position after it, canonical?).

    Only unsigned integers, byte and text strings, arrays of those (definite or indefinite length, RFC 9171 §4.1)
    and, if `allow_bool`, `false`/`true` are allowed: negative integers, maps, tags, floats and other simple
    values are refused, as are a break outside an indefinite-length item (cbor2 is lenient there, PITFALLS),
    reserved additional information, truncation and nesting deeper than `_MAX_NESTING`. `canonical` is True
    when every head is in its shortest form and every length is definite (RFC 8949 §4.2.1), i.e. the bytes are
    exactly what `dumps` writes for the decoded value. Nothing is decoded or allocated beyond a small stack.
    `any_int` also lets negative integers and bignums beyond 64 bits (tags 2 and 3 on a byte string of more than
    8 bytes) through, for a caller that range-checks every integer itself with a message naming the field.
    """
    limit = len(view)
    canonical = True
    open_arrays: list[int] = []  # items still expected in each open array; -1 for an indefinite-length one
    start = pos
    while True:
        if pos >= limit:
            raise DecodeError(f"{what}: truncated CBOR item", offset=start)
        initial = view[pos]
        major = initial >> 5
        info = initial & 0x1F
        if major <= MAJOR_ARRAY and (major != 1 or any_int):
            if info < 24:
                argument: int | None = info
                pos += 1
            elif info <= 27:
                end = pos + 1 + (1 << (info - 24))
                if end > limit:
                    raise DecodeError(f"{what}: truncated CBOR head", offset=pos)
                argument = int.from_bytes(view[pos + 1 : end], "big")
                if argument < _SHORTEST_LIMIT[info]:
                    canonical = False
                pos = end
            elif info == 31 and major > 1:
                argument = None
                canonical = False
                pos += 1
            else:
                raise DecodeError(f"{what}: reserved CBOR additional information {info}", offset=pos)
            if major == MAJOR_ARRAY:
                if argument is None or argument > 0:
                    if len(open_arrays) >= _MAX_NESTING:
                        raise DecodeError(f"{what}: CBOR nesting too deep", offset=pos)
                    open_arrays.append(-1 if argument is None else argument)
                    continue
            elif major > 1:
                if argument is None:
                    pos = _skip_chunks(view, pos, major, what)
                else:
                    if pos + argument > limit:
                        raise DecodeError(f"{what}: CBOR string runs past the end ({argument} bytes)", offset=pos)
                    if major == 3:
                        _check_utf8(view, pos, pos + argument, what)
                    pos += argument
        elif initial == BREAK:
            if not open_arrays or open_arrays[-1] != -1:
                raise DecodeError(f"{what}: stray CBOR break inside a definite-length item", offset=pos)
            open_arrays.pop()
            pos += 1
        elif allow_bool and (initial == 0xF4 or initial == 0xF5):
            pos += 1
        elif any_int and (initial == 0xC2 or initial == 0xC3) and _is_big(view, pos + 1):
            canonical = False  # a bignum too large for 64 bits: the caller reports it out of range
            pos += 1
            continue
        elif major == 1:
            raise DecodeError(f"{what}: integer out of range (must be an unsigned 64-bit integer)", offset=pos)
        elif major == 5:
            raise DecodeError(f"{what}: CBOR maps are not allowed here", offset=pos)
        elif major == 6:
            raise DecodeError(f"{what}: CBOR tags are not allowed here", offset=pos)
        elif initial == 0xF4 or initial == 0xF5:
            raise DecodeError(f"{what}: a CBOR bool is not allowed here", offset=pos)
        else:
            raise DecodeError(f"{what}: CBOR simple values and floats are not allowed here", offset=pos)
        # One item is complete: count it in the array it belongs to, closing every array it completes.
        while open_arrays:
            remaining = open_arrays[-1]
            if remaining == -1:
                break
            if remaining > 1:
                open_arrays[-1] = remaining - 1
                break
            open_arrays.pop()
        else:
            return pos, canonical


def _check_utf8(view: memoryview, start: int, end: int, what: str) -> None:
    """Text strings are checked here, before cbor2 sees them: cbor2 5.x leaks memory each time it refuses
    a text string that is not UTF-8 (docs/security.md), and the error names the offset."""
    try:
        codecs.utf_8_decode(view[start:end], "strict", True)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{what}: malformed CBOR: a text string is not UTF-8 ({exc.reason})", offset=start) from None


def _is_big(view: memoryview, pos: int) -> bool:
    """Whether a definite-length byte string of more than 8 bytes starts at `pos` (a bignum's content)."""
    if pos >= len(view) or view[pos] >> 5 != MAJOR_BYTES:
        return False
    _, length, _ = read_head(view, pos)
    return length is not None and length > 8


def _skip_chunks(view: memoryview, pos: int, major: int, what: str) -> int:
    """The chunks of an indefinite-length string (RFC 8949 §3.2.3): definite-length strings of the same major
    type up to a break. Returns the position after the break."""
    limit = len(view)
    while True:
        if pos >= limit:
            raise DecodeError(f"{what}: truncated indefinite-length string", offset=pos)
        if view[pos] == BREAK:
            return pos + 1
        chunk_major, length, after = read_head(view, pos)
        if chunk_major != major or length is None:
            raise DecodeError(f"{what}: bad chunk in an indefinite-length string", offset=pos)
        pos = after + length
        if pos > limit:
            raise DecodeError(f"{what}: CBOR string chunk runs past the end ({length} bytes)", offset=after)
        if major == 3:
            _check_utf8(view, after, pos, what)


def strict_item(
    view: memoryview, pos: int, what: str, *, allow_bool: bool = False, check_types: bool = True
) -> tuple[object, int, bool]:
    """Decode one CBOR item at `pos`: (value, position after it, canonical?).

    `scan_item` checks the item's structure and finds its end; then exactly its bytes are decoded with cbor2's
    public `loads`. Values are restricted to unsigned ints, strings, byte strings and arrays (and booleans if
    `allow_bool`). A caller that type-checks every field itself (for its own precise messages) may pass
    `check_types=False`: booleans, negative integers and bignums then pass the walk too; anything else it refuses
    still is refused.
    """
    if pos >= len(view):
        raise DecodeError(f"{what}: unexpected end of data", offset=pos)
    end, canonical = scan_item(view, pos, what, allow_bool or not check_types, any_int=not check_types)
    return _loads_exact(view[pos:end], what, pos), end, canonical


def _loads_exact(raw: memoryview | bytes, what: str, offset: int) -> object:
    try:
        return cbor2.loads(raw)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        # The structure was checked; what is left is e.g. a text string that is not valid UTF-8.
        raise DecodeError(f"{what}: malformed CBOR ({exc})", offset=offset) from None


def loads_strict(data: bytes | memoryview, what: str, base_offset: int = 0, allow_bool: bool = False) -> object:
    """Decode bytes that must hold exactly one CBOR item (e.g. block-type-specific data)."""
    view = memoryview(data)
    if view.format != "B":
        view = view.cast("B")
    if not len(view):
        raise DecodeError(f"{what}: unexpected end of data", offset=base_offset)
    try:
        end, _ = scan_item(view, 0, what, allow_bool)
    except DecodeError as exc:
        raise DecodeError(exc.reason, offset=base_offset + (exc.offset or 0)) from None
    if end != len(view):
        raise DecodeError(f"{what}: {len(view) - end} trailing bytes after the CBOR item", offset=base_offset + end)
    return _loads_exact(view, what, base_offset)
