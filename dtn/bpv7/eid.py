"""Endpoint IDs, RFC 9171 §4.2.5.1, with the ipn update of RFC 9758.

Text forms:
  dtn:none                  the null endpoint, CBOR [1, 0]
  dtn://node/demux          CBOR [1, "//node/demux"]; node-name is an RFC 3986 reg-name, demux is *VCHAR
  ipn:N.S                   CBOR [2, [N, S]]   (two-element form; N is the Fully Qualified Node Number)
  ipn:A.N.S                 CBOR [2, [A, N, S]] (three-element form, RFC 9758; A = allocator, N < 2^32)

The text form mirrors the wire form, so text <-> CBOR is a bijection: a two-element EID whose FQNN carries a
non-zero allocator in its high 32 bits is written with the FQNN as one number, and `ipn:0.N.S` is the
three-element form of `ipn:N.S`. Both name the same endpoint and compare equal; `wire_key` tells them apart
(it is equal exactly when the encodings are), for anything keyed by what goes on the wire.
"""

from __future__ import annotations

import abc
import functools
import re
from dataclasses import dataclass, field

from dtn.errors import DecodeError

SCHEME_DTN = 1
SCHEME_IPN = 2
_UINT32 = 1 << 32
_UINT64_MAX = (1 << 64) - 1

# RFC 3986 reg-name: unreserved / pct-encoded / sub-delims (non-empty here: a node needs a name).
_NODE_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_DEMUX = re.compile(r"[\x21-\x7e]*")
_DIGITS = re.compile(r"[0-9]{1,20}")


class EID(abc.ABC):
    """An endpoint ID. Concrete values are `DtnEID` or `IpnEID`; both are frozen and hashable."""

    __slots__ = ()

    scheme: int

    @property
    def node_number(self) -> int | None:
        """ipn: the Fully Qualified Node Number (the node number under allocator 0); None for dtn EIDs."""
        return None

    @property
    def is_null(self) -> bool:
        return False

    @abc.abstractmethod
    def node_id(self) -> EID:
        """The node ID of the node this endpoint is on: ipn:N.0, dtn://node/ (RFC 9171 §4.2.5.2)."""

    @abc.abstractmethod
    def to_cbor(self) -> list:
        """The EID as a CBOR-ready Python value (RFC 9171 §4.2.5.1)."""

    @property
    def wire_key(self) -> tuple:
        """A hashable canonical key of the wire form: equal for two EIDs exactly when they encode the same
        (an ipn EID and its three-element form compare equal, but their keys differ)."""
        return (self.scheme, str(self))


@dataclass(frozen=True, slots=True)
class DtnEID(EID):
    """A dtn-scheme EID. `ssp` is "none" for dtn:none, else "//node-name/demux"."""

    ssp: str
    scheme: int = field(default=SCHEME_DTN, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ssp != "none":
            _check_dtn_ssp(self.ssp)

    @property
    def is_null(self) -> bool:
        return self.ssp == "none"

    @property
    def node_name(self) -> str | None:
        return None if self.is_null else self.ssp[2:].split("/", 1)[0]

    @property
    def demux(self) -> str | None:
        return None if self.is_null else self.ssp[2:].split("/", 1)[1]

    def node_id(self) -> DtnEID:
        if self.is_null:
            return self
        return DtnEID(f"//{self.node_name}/")

    def to_cbor(self) -> list:
        return [SCHEME_DTN, 0 if self.is_null else self.ssp]

    def __str__(self) -> str:
        return f"dtn:{self.ssp}"


@dataclass(frozen=True, slots=True)
class IpnEID(EID):
    """An ipn-scheme EID (RFC 9171 §4.2.5.1.2, RFC 9758). `three_element` only selects the wire form."""

    allocator: int
    node: int
    service: int
    three_element: bool = field(default=False, compare=False)
    scheme: int = field(default=SCHEME_IPN, init=False, repr=False)

    def __post_init__(self) -> None:
        for name, value, bound in (
            ("allocator", self.allocator, _UINT32),
            ("node", self.node, _UINT32),
            ("service", self.service, _UINT64_MAX + 1),
        ):
            if type(value) is not int or not 0 <= value < bound:
                raise ValueError(f"ipn {name} number out of range: {value!r}")

    @classmethod
    def from_fqnn(cls, fqnn: int, service: int) -> IpnEID:
        """The two-element form [FQNN, service]; the FQNN's high 32 bits are the allocator (RFC 9758)."""
        return cls(fqnn >> 32, fqnn & 0xFFFFFFFF, service)

    @property
    def fqnn(self) -> int:
        return (self.allocator << 32) | self.node

    @property
    def node_number(self) -> int:
        return self.fqnn

    def node_id(self) -> IpnEID:
        return IpnEID(self.allocator, self.node, 0, self.three_element)

    def to_cbor(self) -> list:
        if self.three_element:
            return [SCHEME_IPN, [self.allocator, self.node, self.service]]
        return [SCHEME_IPN, [self.fqnn, self.service]]

    def __str__(self) -> str:
        if self.three_element:
            return f"ipn:{self.allocator}.{self.node}.{self.service}"
        return f"ipn:{self.fqnn}.{self.service}"


DTN_NONE = DtnEID("none")


def _check_dtn_ssp(ssp: str) -> None:
    if not isinstance(ssp, str) or not ssp.startswith("//"):
        raise ValueError(f"dtn EID must look like dtn://node/demux, got {ssp!r}")
    node, sep, demux = ssp[2:].partition("/")
    if not sep:
        raise ValueError(f"dtn EID needs a '/' after the node name: dtn:{ssp}")
    if not _NODE_NAME.fullmatch(node):
        raise ValueError(f"invalid node name {node!r} in dtn:{ssp}")
    if not _DEMUX.fullmatch(demux):
        raise ValueError(f"invalid demux {demux!r} in dtn:{ssp} (visible ASCII only)")


def _parse_eid(text: str) -> EID:
    """Parse an EID from its text form; raises DecodeError (offset None) if it is not a valid EID.

    A node parses the same few EIDs over and over (every hop of every bundle), and EIDs are immutable values,
    so valid texts are remembered (bounded; errors are not cached).

    >>> str(parse_eid("ipn:2.1")), str(parse_eid("dtn://gs1/inbox")), parse_eid("dtn:none") == DTN_NONE
    ('ipn:2.1', 'dtn://gs1/inbox', True)
    """
    if not isinstance(text, str):
        raise DecodeError(f"EID must be text, got {type(text).__name__}")
    scheme, colon, ssp = text.partition(":")
    try:
        if colon and scheme == "dtn":
            return DTN_NONE if ssp == "none" else DtnEID(ssp)
        if colon and scheme == "ipn":
            parts = ssp.split(".")
            if len(parts) in (2, 3) and all(_DIGITS.fullmatch(p) for p in parts):
                numbers = [int(p) for p in parts]
                if len(numbers) == 2:
                    if numbers[0] > _UINT64_MAX:
                        raise ValueError("node number out of range")
                    return IpnEID.from_fqnn(numbers[0], numbers[1])
                return IpnEID(*numbers, three_element=True)
            raise ValueError("ipn EID must be ipn:NODE.SERVICE or ipn:ALLOCATOR.NODE.SERVICE")
    except ValueError as exc:
        raise DecodeError(f"invalid EID {text!r}: {exc}") from None
    raise DecodeError(f"invalid EID {text!r}: scheme must be dtn or ipn (examples: ipn:2.1, dtn://node/app)")


_CACHE_MAX = 4096
_cache: dict[tuple, EID] = {}


def eid_from_cbor(value: object, offset: int | None = None) -> EID:
    """An EID from its decoded CBOR value (RFC 9171 §4.2.5.1); DecodeError if invalid.

    EIDs are immutable, so recently decoded ones are reused (a node sees the same few EIDs all the time).
    """
    if type(value) is list and len(value) == 2 and type(value[0]) is int:
        ssp = value[1]
        if type(ssp) is list and not all(type(n) is int for n in ssp):
            # Not an EID anyway, and maybe not hashable at all: cbor2 can decode a self-referencing tag, whose
            # hash raises RuntimeError (found by tools/fuzz.py).
            return _eid_from_cbor(value, offset)
        key = (value[0], tuple(ssp) if type(ssp) is list else ssp, type(ssp))
        try:
            return _cache[key]
        except (KeyError, TypeError, RuntimeError):  # RuntimeError: an unhashable self-referencing CBOR tag
            pass
        eid = _eid_from_cbor(value, offset)
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = eid
        return eid
    return _eid_from_cbor(value, offset)


def _eid_from_cbor(value: object, offset: int | None) -> EID:
    if type(value) is not list or len(value) != 2:
        raise DecodeError("EID must be a two-element array [scheme, SSP]", offset=offset)
    scheme, ssp = value
    if scheme == SCHEME_DTN and type(scheme) is int:
        if ssp == 0 and type(ssp) is int:
            return DTN_NONE
        if type(ssp) is not str or ssp == "none":  # dtn:none is encoded as the integer 0 only
            raise DecodeError("dtn EID SSP must be 0 (dtn:none) or a text string //node/demux", offset=offset)
        try:
            return DtnEID(ssp)
        except ValueError as exc:
            raise DecodeError(str(exc), offset=offset) from None
    if scheme == SCHEME_IPN and type(scheme) is int:
        if type(ssp) is not list or len(ssp) not in (2, 3) or any(type(n) is not int for n in ssp):
            raise DecodeError("ipn EID SSP must be an array of 2 or 3 unsigned integers", offset=offset)
        try:
            if len(ssp) == 2:
                return IpnEID.from_fqnn(ssp[0], ssp[1])
            return IpnEID(ssp[0], ssp[1], ssp[2], three_element=True)
        except ValueError as exc:
            raise DecodeError(str(exc), offset=offset) from None
    raise DecodeError(f"unknown EID scheme code {scheme!r}", offset=offset)


_parse_eid_cached = functools.lru_cache(maxsize=4096)(_parse_eid)


def parse_eid(text: str) -> EID:  # noqa: F811 - the public, cached entry point
    if type(text) is not str:  # only exact str values are hashable keys we want (and error paths stay exact)
        return _parse_eid(text)
    return _parse_eid_cached(text)


parse_eid.__doc__ = _parse_eid.__doc__
