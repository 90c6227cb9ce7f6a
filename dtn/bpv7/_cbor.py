"""CBOR plumbing for the codec, on top of cbor2.

cbor2 decodes and encodes every structured item (primary block, EIDs, extension-block contents, administrative
records). Two things are done here by hand because a CBOR *head* (major type + argument, RFC 8949 §3) is trivial
and cbor2 cannot do them without copying: framing the blocks of a bundle, and wrapping byte strings around payload
buffers, so payloads are neither copied on decode nor re-assembled on encode.

cbor2 is lenient where a bundle must not be (PITFALLS): a stray break inside a definite-length array comes back as
`break_marker`, transparent tags (bignums, self-describe, shared values, string references) come back as plain
values. `strict_item()` rejects all of these.
"""

from __future__ import annotations

import io
import struct
import threading

import cbor2
from cbor2 import _decoder as _pydecoder

from dtn.errors import DecodeError

MAJOR_UINT = 0
MAJOR_BYTES = 2
MAJOR_TEXT = 3
MAJOR_ARRAY = 4
BREAK = 0xFF
UINT64_MAX = (1 << 64) - 1

_BREAK_MARKER = cbor2.break_marker if hasattr(cbor2, "break_marker") else _pydecoder.break_marker

# cbor2.dumps/loads build a new encoder or decoder and stream per call, which dominates for the small items of a
# bundle; one reusable pair per thread is 2-3x faster (the codec must stay usable from several threads).
_local = threading.local()


def _reusable() -> tuple[io.BytesIO, cbor2.CBOREncoder, cbor2.CBORDecoder]:
    try:
        return _local.pair
    except AttributeError:
        stream = io.BytesIO()
        _local.pair = (stream, cbor2.CBOREncoder(stream), cbor2.CBORDecoder(io.BytesIO(b"")))
        return _local.pair


def dumps(value: object) -> bytes:
    """cbor2.dumps(value), faster for small values."""
    stream, encoder, _ = _reusable()
    stream.seek(0)
    stream.truncate()
    encoder.encode(value)
    return stream.getvalue()


def loads_prefix(data: bytes) -> object:
    """The first CBOR item in `data` (trailing bytes are ignored), with cbor2."""
    check_text(data)
    return _reusable()[2].decode_from_bytes(data)


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


class _StrictPyDecoder(_pydecoder.CBORDecoder):
    """cbor2's pure-Python decoder, refusing tags and simple values/floats (only used on non-canonical input)."""

    def _decode(self, immutable: bool = False, unshared: bool = False):  # noqa: ARG002 - cbor2's signature
        initial = self.read(1)[0]
        major = initial >> 5
        if major == 6:
            raise DecodeError("CBOR tags are not allowed here")
        if major == 7 and initial not in (BREAK, 0xF4, 0xF5):  # break, false, true
            raise DecodeError("CBOR simple values and floats are not allowed here")
        if major == 5:
            raise DecodeError("CBOR maps are not allowed here")
        return _pydecoder.major_decoders[major](self, initial & 0x1F)


def _check_plain(value: object, pos: int, allow_bool: bool, depth: int = 0) -> None:
    """Only unsigned ints, byte/text strings and arrays of those; no break markers (cbor2's stray-break leniency)."""
    kind = type(value)
    if kind is bool and allow_bool:
        return
    if kind is int:
        if value < 0 or value > UINT64_MAX:  # type: ignore[operator]
            raise DecodeError("integer out of range (must be an unsigned 64-bit integer)", offset=pos)
    elif kind is list:
        if depth > 8:
            raise DecodeError("CBOR nesting too deep", offset=pos)
        for item in value:  # type: ignore[attr-defined]
            _check_plain(item, pos, allow_bool, depth + 1)
    elif kind is not str and kind is not bytes:
        if value is _BREAK_MARKER:
            raise DecodeError("stray CBOR break inside a definite-length item", offset=pos)
        raise DecodeError(f"unexpected CBOR item ({kind.__name__}) where integers, strings or arrays belong", offset=pos)


_WINDOW_BYTES = 4096
_FAST_WINDOW_BYTES = 512  # a primary block is rarely longer; a longer one takes the careful path


_NOT_DECODED = object()


def strict_item(
    view: memoryview, pos: int, what: str, *, allow_bool: bool = False, check_types: bool = True
) -> tuple[object, int, bool]:
    """Decode one CBOR item at `pos` with cbor2: (value, position after it, canonical?).

    `canonical` is True when the item's bytes are exactly cbor2's (shortest, definite-length) encoding of the
    value. Values are restricted to unsigned ints, strings, byte strings and arrays (and booleans if
    `allow_bool`); a caller that type-checks every field itself may pass `check_types=False`. Only a bounded
    window is copied for cbor2 (it would copy a whole memoryview otherwise), growing if the item is larger.
    """
    limit = len(view)
    if pos >= limit:
        raise DecodeError(f"{what}: unexpected end of data", offset=pos)
    # Fast path, the usual case: the item is canonical CBOR, so cbor2 re-encodes it to the very same bytes,
    # which also gives its length (cbor2.loads ignores what follows).
    window = view[pos : min(limit, pos + _FAST_WINDOW_BYTES)].tobytes()
    try:
        value = loads_prefix(window)
        encoded = dumps(value)
    except Exception:  # noqa: BLE001 - any failure here just means "take the careful path below"
        value = _NOT_DECODED
    if value is not _NOT_DECODED and window.startswith(encoded):
        if check_types:
            _checked(value, pos, allow_bool, what)
        return value, pos + len(encoded), True
    return _strict_item_slow(view, pos, what, allow_bool)


def _checked(value: object, pos: int, allow_bool: bool, what: str) -> None:
    try:
        _check_plain(value, pos, allow_bool)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc.reason}", offset=pos) from None


def _strict_item_slow(view: memoryview, pos: int, what: str, allow_bool: bool) -> tuple[object, int, bool]:
    limit = len(view)
    window = _WINDOW_BYTES
    while True:
        stop = min(limit, pos + window)
        chunk = view[pos:stop].tobytes()
        stream = io.BytesIO(chunk)
        try:
            check_text(chunk)
            value = cbor2.CBORDecoder(stream, read_size=1).decode()
        except DecodeError as exc:
            raise DecodeError(f"{what}: {exc.reason}", offset=pos + (exc.offset or 0)) from None
        except cbor2.CBORDecodeEOF:
            if stop >= limit:
                raise DecodeError(f"{what}: truncated CBOR item", offset=pos) from None
            window *= 4
            continue
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError,
                RuntimeError) as exc:  # RuntimeError: a self-referencing shared value used as a key (tools/fuzz.py)
            raise DecodeError(f"{what}: malformed CBOR ({exc})", offset=pos) from None
        break
    end = pos + stream.tell()
    _checked(value, pos, allow_bool, what)
    raw = view[pos:end]
    # Not cbor2's own encoding: indefinite lengths and long heads are fine (RFC 9171 §4.1), tags are not.
    try:
        _StrictPyDecoder(io.BytesIO(raw.tobytes())).decode()
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc.reason}", offset=pos) from None
    except Exception as exc:  # noqa: BLE001 - cbor2 raised on input its C decoder accepted: report it as malformed
        raise DecodeError(f"{what}: malformed CBOR ({exc})", offset=pos) from None
    return value, end, cbor2.dumps(value) == raw


def loads_strict(data: bytes | memoryview, what: str, base_offset: int = 0, allow_bool: bool = False) -> object:
    """Decode bytes that must hold exactly one CBOR item (e.g. block-type-specific data)."""
    if len(data) <= _WINDOW_BYTES:
        # Fast path for small canonical items (extension-block contents, status reports).
        raw = bytes(data)
        try:
            value = loads_prefix(raw)
            canonical = dumps(value) == raw
        except Exception:  # noqa: BLE001 - the careful path below reports the problem
            canonical = False
        if canonical:
            _checked(value, base_offset, allow_bool, what)
            return value
    view = memoryview(data).cast("B")
    value, end, _ = strict_item(view, 0, what, allow_bool=allow_bool)
    if end != len(view):
        raise DecodeError(f"{what}: {len(view) - end} trailing bytes after the CBOR item", offset=base_offset + end)
    return value
