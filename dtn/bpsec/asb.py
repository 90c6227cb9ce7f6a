"""The Abstract Security Block (ASB), RFC 9172 §3.6: the block-type-specific data of a BIB or a BCB.

On the wire the ASB is a CBOR *sequence* (not an array) of five or six items:

    security targets        [block number, ...]           (at least one, no duplicates)
    security context id     int
    security context flags  uint (bit 0: parameters present)
    security source         EID ([1, "//node/svc"], [1, 0] for dtn:none, [2, [node, service]])
    parameters (optional)   [[id, value], ...]             (present iff flag bit 0 is set)
    security results        [[[id, value], ...], ...]      (one list per target, in target order)
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import cbor2

from dtn.bpsec.constants import SecurityContextFlag
from dtn.bpv7._cbor import check_text
from dtn.bpv7.eid import EID, eid_from_cbor, parse_eid
from dtn.errors import DecodeError, EncodeError

Parameter = tuple[int, Any]
"""One (id, value) pair of security context parameters or results."""

_MAX_UINT64 = MAX_UINT64 = 2**64 - 1
_PARAMETERS_PRESENT = int(SecurityContextFlag.PARAMETERS_PRESENT)


@dataclass(frozen=True, slots=True)
class AbstractSecurityBlock:
    """Abstract Security Block, RFC 9172 §3.6.

    `parameters` is None when the "parameters present" flag is clear; `results[i]` belongs to `targets[i]`.
    `reserved_flags` keeps security context flag bits other than bit 0 as received (RFC 9172 §3.6: ignored).
    `source` may be given as text ("ipn:2.1"); it is stored as a `dtn.bpv7.eid.EID`.
    """

    targets: tuple[int, ...]
    context_id: int
    source: EID
    parameters: tuple[Parameter, ...] | None
    results: tuple[tuple[Parameter, ...], ...]
    reserved_flags: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.source, str):
            object.__setattr__(self, "source", parse_eid(self.source))
        object.__setattr__(self, "targets", tuple(self.targets))

    @property
    def context_flags(self) -> int:
        present = int(SecurityContextFlag.PARAMETERS_PRESENT) if self.parameters is not None else 0
        return (int(self.reserved_flags) & ~int(SecurityContextFlag.PARAMETERS_PRESENT)) | present

    def parameter(self, param_id: int, default: Any = None) -> Any:
        """Value of the first parameter with this id, or `default`."""
        for pid, value in self.parameters or ():
            if pid == param_id:
                return value
        return default

    def results_for(self, target: int) -> tuple[Parameter, ...]:
        """The security results for one target block number (KeyError if it is not a target)."""
        try:
            return self.results[self.targets.index(target)]
        except ValueError:
            raise KeyError(target) from None

    def without_targets(self, removed: set[int] | frozenset[int]) -> AbstractSecurityBlock | None:
        """The same block with the operations on `removed` taken out; None when no operation is left."""
        kept = [(t, r) for t, r in zip(self.targets, self.results) if t not in removed]
        if not kept:
            return None
        return AbstractSecurityBlock(
            targets=tuple(t for t, _ in kept),
            context_id=self.context_id,
            source=self.source,
            parameters=self.parameters,
            results=tuple(r for _, r in kept),
            reserved_flags=self.reserved_flags,
        )

    def validate(self) -> list[str]:
        """Every structural problem RFC 9172 §3.6 rules out; empty when the block is well formed."""
        problems: list[str] = []
        if not self.targets:
            problems.append("security targets: at least one target is required")
        if len(set(self.targets)) != len(self.targets):
            problems.append(f"security targets: duplicate block numbers in {list(self.targets)}")
        if any(type(t) is not int or not 0 <= t <= _MAX_UINT64 for t in self.targets):
            problems.append("security targets: block numbers must be unsigned integers")
        if len(self.results) != len(self.targets):
            problems.append(f"security results: {len(self.results)} result sets for {len(self.targets)} targets")
        if type(self.context_id) is not int or not -(2**63) <= self.context_id <= _MAX_UINT64:
            problems.append("security context id: must be an integer")
        for pid, _ in self.parameters or ():
            if type(pid) is not int or not 0 <= pid <= _MAX_UINT64:
                problems.append(f"security context parameters: id {pid!r} is not an unsigned integer")
        for result_set in self.results:
            for rid, _ in result_set:
                if type(rid) is not int or not 0 <= rid <= _MAX_UINT64:
                    problems.append(f"security results: id {rid!r} is not an unsigned integer")
        if not isinstance(self.source, EID):
            problems.append(f"security source: {self.source!r} is not an endpoint ID")
        return problems


def encode_asb(asb: AbstractSecurityBlock) -> bytes:
    """The CBOR sequence of RFC 9172 §3.6 (deterministic encoding, RFC 8949 §4.2)."""
    problems = asb.validate()
    if problems:
        raise EncodeError("abstract security block: " + "; ".join(problems))
    out = bytearray()
    try:
        _encode_value(asb.targets, out)
        _encode_value(asb.context_id, out)
        _encode_value(asb.context_flags, out)
        _encode_value(asb.source.to_cbor(), out)
        if asb.parameters is not None:
            _encode_pairs(asb.parameters, out)
        _head(4, len(asb.results), out)
        for result_set in asb.results:
            _encode_pairs(result_set, out)
    except (cbor2.CBOREncodeError, TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"abstract security block: cannot encode a value: {exc}") from None
    return bytes(out)


def _encode_pairs(pairs: tuple[Parameter, ...], out: bytearray) -> None:
    """[[id, value], ...]: parameters, or the results for one target."""
    _head(4, len(pairs), out)
    for pid, value in pairs:
        out.append(0x82)  # a two-element array
        _encode_value(pid, out)
        _encode_value(value, out)


def _head(major: int, value: int, out: bytearray) -> None:
    """Append the shortest CBOR head of major type `major` with argument `value` (RFC 8949 §4.2.1)."""
    mt = major << 5
    if value < 24:
        out.append(mt | value)
    elif value < 0x100:
        out += bytes((mt | 24, value))
    elif value < 0x10000:
        out.append(mt | 25)
        out += value.to_bytes(2, "big")
    elif value < 0x100000000:
        out.append(mt | 26)
        out += value.to_bytes(4, "big")
    else:
        out.append(mt | 27)
        out += value.to_bytes(8, "big")  # OverflowError beyond 64 bits


def _encode_value(value: Any, out: bytearray) -> None:
    """Deterministic CBOR (RFC 8949 §4.2.1) for what ASBs hold; other values go through cbor2 (canonical).
    One-byte heads (small integers, short strings and arrays: nearly everything in an ASB) are written inline."""
    kind = type(value)
    if kind is int:
        if 0 <= value < 24:
            out.append(value)
        elif value >= 0:
            _head(0, value, out)
        else:
            _head(1, -1 - value, out)
    elif kind is bytes:
        size = len(value)
        if size < 24:
            out.append(0x40 | size)
        else:
            _head(2, size, out)
        out += value
    elif kind is list or kind is tuple:
        size = len(value)
        if size < 24:
            out.append(0x80 | size)
        else:
            _head(4, size, out)
        for element in value:
            _encode_value(element, out)
    elif kind is str:
        encoded = value.encode("utf-8")
        _head(3, len(encoded), out)
        out += encoded
    else:
        out += cbor2.dumps(value, canonical=True)


encode_value = _encode_value
"""`encode_value(value, out)`: append the deterministic CBOR encoding of an ASB value to `out`."""
encode_value_head = _head
"""`encode_value_head(major, value, out)`: append a shortest-form CBOR head to `out`."""

_ALLOWED_SCALARS = (int, bytes, str, bool, float, type(None))


def _check_value(value: Any, depth: int = 0) -> bool:
    """Only plain CBOR data may appear in parameters and results (no break markers, undefined, ...)."""
    if depth > 16:
        return False
    if isinstance(value, _ALLOWED_SCALARS):
        return True
    if isinstance(value, list):
        return all(_check_value(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_check_value(k, depth + 1) and _check_value(v, depth + 1) for k, v in value.items())
    if isinstance(value, cbor2.CBORTag):
        return _check_value(value.value, depth + 1)
    return False


def _pairs(value: Any, what: str, offset: int | None) -> tuple[Parameter, ...]:
    if not isinstance(value, list):
        raise DecodeError(f"{what}: expected an array of [id, value] pairs", offset)
    pairs = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2):
            raise DecodeError(f"{what}: each entry must be an [id, value] pair", offset)
        pid, pvalue = item
        if type(pid) is not int or not 0 <= pid <= _MAX_UINT64:
            raise DecodeError(f"{what}: id {pid!r} is not an unsigned integer", offset)
        if not _check_value(pvalue):
            raise DecodeError(f"{what}: value of id {pid} is not plain CBOR data", offset)
        pairs.append((pid, pvalue))
    return tuple(pairs)


def decode_asb(data: bytes | memoryview) -> AbstractSecurityBlock:
    """Parse the block-type-specific data of a BIB or BCB; `DecodeError(offset=...)` at the first problem."""
    data = bytes(data)
    if len(data) <= _CACHED_MAX_BYTES:
        return _decode_cached(data)
    return _decode_uncached(data)


_CACHED_MAX_BYTES = 2048


def _decode_uncached(data: bytes) -> AbstractSecurityBlock:
    fast = _decode_fast(data)
    return fast if fast is not None else _decode(data, _stream_items(data))


# Security blocks are small and a bundle's are read several times while it is processed; the result is a frozen
# value, so caching it is safe. Only small blocks are cached (bounded memory); errors are never cached.
_decode_cached = functools.lru_cache(maxsize=256)(_decode_uncached)


def _decode_fast(data: bytes) -> AbstractSecurityBlock | None:
    """The usual case in one cbor2 call: the sequence, wrapped in an indefinite-length array, decodes to items
    that re-encode to exactly `data` (canonical CBOR, nothing trailing, no stray break). None otherwise, and
    for any problem: the item-by-item path then reports it with its byte offset."""
    try:
        check_text(data, sequence=True)  # cbor2 5 leaks memory on non-UTF-8 text (dtn.bpv7._cbor.check_text)
        items = cbor2.loads(b"\x9f" + data + b"\xff")
        if not isinstance(items, list) or b"".join(cbor2.dumps(i, canonical=True) for i in items) != data:
            return None
    except Exception:  # noqa: BLE001 - any failure means "take the careful path"
        return None
    iterator = iter(items)

    def next_item(what: str) -> tuple[Any, int | None]:
        try:
            return next(iterator), None
        except StopIteration:
            raise DecodeError(f"abstract security block ends before the {what}") from None

    try:
        asb = _decode(data, next_item)
    except DecodeError:
        return None
    return asb if next(iterator, _END) is _END else None


_END = object()


def _stream_items(data: bytes):
    check_text(data, sequence=True)  # before cbor2 sees it (dtn.bpv7._cbor.check_text)
    stream = io.BytesIO(data)
    # read_size=1 so that tell() is exact (cbor2 reads ahead otherwise).
    decoder = cbor2.CBORDecoder(stream, read_size=1)

    def next_item(what: str) -> tuple[Any, int | None]:
        offset = stream.tell()
        if offset >= len(data):
            raise DecodeError(f"abstract security block ends before the {what}", offset)
        try:
            return decoder.decode(), offset
        except RecursionError:
            raise DecodeError(f"{what}: nested too deeply", offset) from None
        except Exception as exc:  # cbor2 raises several types (CBORDecodeError, ValueError, EOFError...)
            raise DecodeError(f"{what}: malformed CBOR ({exc})", offset) from None

    next_item.end = lambda: stream.tell()  # type: ignore[attr-defined]
    return next_item


def _decode(data: bytes, item) -> AbstractSecurityBlock:
    targets, offset = item("security targets")
    if not (isinstance(targets, list) and targets):
        raise DecodeError("security targets: expected a non-empty array", offset)
    if any(type(t) is not int or not 0 <= t <= _MAX_UINT64 for t in targets):
        raise DecodeError("security targets: block numbers must be unsigned integers", offset)
    if len(set(targets)) != len(targets):
        raise DecodeError(f"security targets: duplicate block numbers in {targets}", offset)
    context_id, offset = item("security context id")
    if type(context_id) is not int or not -(2**63) <= context_id <= _MAX_UINT64:
        raise DecodeError("security context id: expected an integer", offset)
    flags, offset = item("security context flags")
    if type(flags) is not int or not 0 <= flags <= _MAX_UINT64:
        raise DecodeError("security context flags: expected an unsigned integer", offset)
    source_value, offset = item("security source")
    try:
        source = eid_from_cbor(source_value, offset)
    except DecodeError as exc:
        raise DecodeError(f"security source: {exc.reason}", offset) from None
    parameters = None
    if flags & _PARAMETERS_PRESENT:
        value, offset = item("security context parameters")
        parameters = _pairs(value, "security context parameters", offset)
    value, offset = item("security results")
    if not isinstance(value, list):
        raise DecodeError("security results: expected an array", offset)
    if len(value) != len(targets):
        raise DecodeError(f"security results: {len(value)} result sets for {len(targets)} targets", offset)
    results = tuple(_pairs(result_set, "security results", offset) for result_set in value)
    end_of = getattr(item, "end", None)
    if end_of is not None and end_of() != len(data):
        end = end_of()
        raise DecodeError(f"{len(data) - end} trailing bytes after the security results", end)
    return AbstractSecurityBlock(
        targets=tuple(targets),
        context_id=context_id,
        source=source,
        parameters=parameters,
        results=results,
        reserved_flags=int(flags) & ~_PARAMETERS_PRESENT,
    )
