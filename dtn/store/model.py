"""What the store keeps about a bundle: `StoredBundle`, `Retention` and the identity key.

The store is independent of the BPv7 codec: it keeps opaque encoded bundle bytes plus the record below,
which the caller fills in from the decoded bundle.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from typing import Any

import msgpack

from dtn.errors import StoreError
from dtn.reasons import StatusReasonCode

# RFC 9171 §6.1.1 status report reason code 4: "Depleted storage".
REASON_DEPLETED_STORAGE = StatusReasonCode.DEPLETED_STORAGE

_KEY_SEPARATOR = " "
_WHITE_SPACE = re.compile(r"\s")


class Retention(enum.IntFlag):
    """Retention constraints, RFC 9171 §5.

    A bundle with no retention constraint left may be discarded; while any is set the node must keep it.
    """

    NONE = 0
    DISPATCH_PENDING = 1
    FORWARD_PENDING = 2
    REASSEMBLY_PENDING = 4


_ALL_RETENTION = int(Retention.DISPATCH_PENDING | Retention.FORWARD_PENDING | Retention.REASSEMBLY_PENDING)


def bundle_key(
    source: str,
    creation_time_ms: int,
    sequence: int,
    fragment_offset: int | None = None,
    payload_length: int | None = None,
) -> str:
    """The identity key of a bundle: its source node ID and creation timestamp and, for a fragment, its
    fragment offset and payload length (what identifies a bundle, RFC 9171 §4.2.5 and §5.8).

    Format: ``SOURCE TIME SEQ`` and, for a fragment, ``SOURCE TIME SEQ OFFSET LENGTH``, the same text as
    `dtn.bpv7.BundleId.key()`, so ``bundle_key(*bundle.id) == bundle.id.key()``. EID text never contains a
    space (RFC 3986 §2), so the key is unambiguous.

    >>> bundle_key("ipn:1.0", 700000000000, 3)
    'ipn:1.0 700000000000 3'
    >>> bundle_key("ipn:1.0", 700000000000, 3, 1000, 5000)
    'ipn:1.0 700000000000 3 1000 5000'
    """
    if not isinstance(source, str) or not source:
        raise StoreError(f"bundle source must be a non-empty string, got {source!r}")
    if _WHITE_SPACE.search(source):
        raise StoreError(f"bundle source {source!r} contains white space, which no EID may contain")
    for name, value in (("creation_time_ms", creation_time_ms), ("sequence", sequence)):
        if not _is_uint(value):
            raise StoreError(f"{name} must be a non-negative integer, got {value!r}")
    if (fragment_offset is None) != (payload_length is None):
        raise StoreError("fragment_offset and payload_length must both be set (a fragment) or both be None")
    key = f"{source}{_KEY_SEPARATOR}{creation_time_ms}{_KEY_SEPARATOR}{sequence}"
    if fragment_offset is None:
        return key
    for name, value in (("fragment_offset", fragment_offset), ("payload_length", payload_length)):
        if not _is_uint(value):
            raise StoreError(f"{name} must be a non-negative integer, got {value!r}")
    return f"{key}{_KEY_SEPARATOR}{fragment_offset}{_KEY_SEPARATOR}{payload_length}"


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBundle:
    """The record the store keeps for one bundle (its payload bytes are stored next to it).

    `key` is computed from the identity fields when left empty, and checked when given. `size_bytes` is
    set by the store to the byte count of the stored data. `route` is opaque to the store (any
    msgpack-able tuple; it comes back with lists turned into tuples). `metadata` is any msgpack-able dict.
    Times are Unix seconds.
    """

    source: str
    creation_time_ms: int
    sequence: int
    destination: str
    expiry_s: float
    fragment_offset: int | None = None
    payload_length: int | None = None
    key: str = ""
    size_bytes: int = 0
    retention: Retention = Retention.DISPATCH_PENDING
    next_hop: int | None = None
    route: tuple | None = None
    received_s: float = 0.0
    metadata: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        expected = bundle_key(
            self.source, self.creation_time_ms, self.sequence, self.fragment_offset, self.payload_length
        )
        if not self.key:
            object.__setattr__(self, "key", expected)
        elif self.key != expected:
            raise StoreError(f"key {self.key!r} does not match the identity fields (expected {expected!r})")

    @property
    def is_fragment(self) -> bool:
        return self.fragment_offset is not None


def normalize(entry: StoredBundle, size_bytes: int) -> StoredBundle:
    """Check an entry for storage and return it as the store will give it back.

    Every store applies this, so a SqliteStore and a MemoryStore return equal records for equal input:
    route and metadata go through msgpack, retention becomes a `Retention`, times become floats.
    """
    expiry_s, received_s, retention, next_hop, route, metadata = checked_fields(entry)
    record = object.__new__(StoredBundle)  # the identity was checked when `entry` was built
    for name in _IDENTITY_FIELDS:
        object.__setattr__(record, name, getattr(entry, name))
    for name, value in (
        ("expiry_s", expiry_s),
        ("received_s", received_s),
        ("size_bytes", int(size_bytes)),
        ("retention", retention),
        ("next_hop", next_hop),
        ("route", unpack_route(route)),
        ("metadata", unpack_metadata(metadata)),
    ):
        object.__setattr__(record, name, value)
    return record


_IDENTITY_FIELDS = ("source", "creation_time_ms", "sequence", "fragment_offset", "payload_length", "key", "destination")


def checked_fields(entry: StoredBundle) -> tuple[float, float, Retention, int | None, bytes | None, bytes]:
    """Check the fields of an entry a store writes: (expiry_s, received_s, retention, next_hop, packed
    route, packed metadata). Raises StoreError naming the key and the field."""
    if not isinstance(entry, StoredBundle):
        raise StoreError(f"expected a StoredBundle, got {type(entry).__name__}")
    key = entry.key
    if not isinstance(entry.destination, str) or not entry.destination:
        raise StoreError(f"{key}: destination must be a non-empty string")
    # Fast paths for the common types keep a batched put cheap (this runs once per bundle).
    expiry_s, received_s, retention = entry.expiry_s, entry.received_s, entry.retention
    if type(expiry_s) is not float or not math.isfinite(expiry_s):
        expiry_s = _finite_float(expiry_s, key, "expiry_s")
    if type(received_s) is not float or not math.isfinite(received_s):
        received_s = _finite_float(received_s, key, "received_s")
    if type(retention) is not Retention or retention._value_ & ~_ALL_RETENTION:
        retention = check_retention(retention, key)
    next_hop = None if entry.next_hop is None else check_next_hop(entry.next_hop, key)
    route = None if entry.route is None else pack_route(entry.route, key)
    metadata = _EMPTY_MAP if type(entry.metadata) is dict and not entry.metadata else pack_metadata(entry.metadata, key)
    return expiry_s, received_s, retention, next_hop, route, metadata


_EMPTY_MAP = msgpack.packb({})


def _finite_float(value: Any, key: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StoreError(f"{key}: {name} must be a finite number of Unix seconds, got {value!r}")
    return float(value)


def check_time(value: Any) -> float:
    """A query time (Unix seconds) as a float; StoreError if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise StoreError(f"a time must be a number of Unix seconds, got {value!r}")
    return float(value)


def check_retention(retention: Any, key: str = "") -> Retention:
    if isinstance(retention, bool) or not isinstance(retention, int) or int(retention) & ~_ALL_RETENTION:
        raise StoreError(f"{key}: invalid retention {retention!r} (a Retention flag combination)")
    return Retention(retention)


def check_next_hop(next_hop: Any, key: str = "") -> int | None:
    if next_hop is None:
        return None
    if isinstance(next_hop, bool) or not isinstance(next_hop, int) or not 0 <= next_hop < 2**63:
        raise StoreError(f"{key}: next_hop must be a node number (0 <= n < 2**63) or None, got {next_hop!r}")
    return next_hop


def pack_route(route: Any, key: str = "") -> bytes | None:
    if route is None:
        return None
    if not isinstance(route, (tuple, list)):
        raise StoreError(f"{key}: route must be a tuple or None, got {type(route).__name__}")
    return _pack(route, key, "route")


def unpack_route(packed: bytes | None) -> tuple | None:
    if packed is None:
        return None
    return msgpack.unpackb(packed, use_list=False, raw=False, strict_map_key=False)


def pack_metadata(metadata: Any, key: str = "") -> bytes:
    if not isinstance(metadata, dict):
        raise StoreError(f"{key}: metadata must be a dict, got {type(metadata).__name__}")
    return _pack(metadata, key, "metadata")


def unpack_metadata(packed: bytes) -> dict:
    return msgpack.unpackb(packed, use_list=True, raw=False, strict_map_key=False)


def _pack(value: Any, key: str, what: str) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StoreError(f"{key}: {what} cannot be stored as msgpack: {exc}") from None


def matches_destination(destination: str, prefix_or_eid: str) -> bool:
    """The rule of `BundleStore.for_destination`: see `destination_prefix`."""
    prefix = destination_prefix(prefix_or_eid)
    return destination == prefix_or_eid if prefix is None else destination.startswith(prefix)


def destination_prefix(prefix_or_eid: str) -> str | None:
    """The prefix to match, or None for an exact EID match.

    An argument ending in ``*`` is a prefix (the ``*`` dropped); one ending in ``/`` or ``.`` (the
    separators of ``dtn://node/`` and ``ipn:5.``) is a prefix as written; anything else is an exact EID.
    """
    if not isinstance(prefix_or_eid, str):
        raise StoreError(f"destination must be a string, got {type(prefix_or_eid).__name__}")
    if prefix_or_eid.endswith("*"):
        return prefix_or_eid[:-1]
    if prefix_or_eid.endswith(("/", ".")):
        return prefix_or_eid
    return None
