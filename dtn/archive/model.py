"""Archive objects: content addresses, chunking, manifests and the replicated catalogue (pure).

An object is identified by the sha256 of its whole content (`object_id`, 64 hex digits), so putting the same
content twice stores it once. It is cut into chunks of `chunk_bytes` (the last one shorter); the manifest lists
the sha256 of every chunk, so each chunk is verified on its own when it arrives, and the whole object once more
when it is assembled (end-to-end check).

The catalogue maps names to objects. Its entries are last-writer-wins registers ordered by
`(put_unix_s, deleted, updated_unix_s, object_id)`: a newer PUT of a name wins over anything older, a tombstone
(DELETE) wins over the PUT it deletes and over every repair update of that PUT, and a repair (a changed replica
set) wins over the entry it updates. Every node applies the same `merge_entries`, so catalogues that have seen the
same entries agree, whatever the order the bundles carrying them arrived in.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from dtn.errors import ConfigError, DecodeError

ARCHIVE_SERVICE = 64  # the well-known service number: the archive of node N is ipn:N.64
DEFAULT_REPLICAS = 3
DEFAULT_CHUNK_BYTES = 64 * 1024
MIN_CHUNK_BYTES = 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNKS = 65536
MAX_NAME_BYTES = 255
MAX_METADATA_ITEMS = 32
MAX_METADATA_KEY_BYTES = 64
MAX_METADATA_VALUE_BYTES = 1024
MAX_REPLICAS = 16


def object_id_of(data: bytes) -> str:
    """The content address of an object: sha256 of its bytes, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def chunk_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_name(name: Any, *, key: str = "name") -> str:
    """An object name: non-empty text of at most 255 UTF-8 bytes without control characters."""
    if not isinstance(name, str) or not name:
        raise ConfigError("an object name must be non-empty text", key=key)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ConfigError(f"an object name is at most {MAX_NAME_BYTES} UTF-8 bytes", key=key)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ConfigError("an object name must not contain control characters", key=key)
    return name


def check_metadata(metadata: Mapping[str, Any] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """Metadata: at most 32 text key/value pairs (keys <= 64 bytes, values <= 1024 bytes), sorted by key."""
    if metadata is None:
        return ()
    items = list(metadata.items()) if isinstance(metadata, Mapping) else list(metadata)
    if len(items) > MAX_METADATA_ITEMS:
        raise ConfigError(f"at most {MAX_METADATA_ITEMS} metadata items", key="metadata")
    out: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ConfigError("metadata items are key/value pairs", key="metadata")
        k, v = item
        if not isinstance(k, str) or not k or len(k.encode()) > MAX_METADATA_KEY_BYTES:
            raise ConfigError(
                f"metadata keys are non-empty text of at most {MAX_METADATA_KEY_BYTES} bytes", key="metadata"
            )
        if not isinstance(v, str) or len(v.encode()) > MAX_METADATA_VALUE_BYTES:
            raise ConfigError(
                f"metadata values are text of at most {MAX_METADATA_VALUE_BYTES} bytes", key=f"metadata.{k}"
            )
        out[k] = v
    return tuple(sorted(out.items()))


def check_chunk_bytes(chunk_bytes: Any) -> int:
    if (
        isinstance(chunk_bytes, bool)
        or not isinstance(chunk_bytes, int)
        or not (MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES)
    ):
        raise ConfigError(
            f"chunk size must be an integer in {MIN_CHUNK_BYTES}..{MAX_CHUNK_BYTES} bytes", key="chunk_bytes"
        )
    return chunk_bytes


def split_chunks(data: bytes, chunk_bytes: int) -> list[bytes]:
    """Cut `data` into chunks of `chunk_bytes` (the last one shorter); an empty object is one empty chunk."""
    check_chunk_bytes(chunk_bytes)
    if not data:
        return [b""]
    return [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)]


@dataclass(frozen=True, slots=True)
class Manifest:
    """What identifies and verifies an object: its content address, name, size, chunk hashes, metadata, where
    it was put and which nodes hold its replicas."""

    object_id: str
    name: str
    size_bytes: int
    chunk_bytes: int
    chunk_hashes: tuple[str, ...]
    metadata: tuple[tuple[str, str], ...] = ()
    created_unix_s: float = 0.0
    origin: int = 0
    replicas: tuple[int, ...] = ()

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_hashes)

    def chunk_size(self, index: int) -> int:
        if index < self.chunk_count - 1:
            return self.chunk_bytes
        return self.size_bytes - self.chunk_bytes * (self.chunk_count - 1)

    def verify_chunk(self, index: int, data: bytes) -> bool:
        """True when `data` is chunk `index` of this object (length and sha256)."""
        return (
            0 <= index < self.chunk_count
            and len(data) == self.chunk_size(index)
            and chunk_hash(data) == self.chunk_hashes[index]
        )

    def holders(self) -> tuple[int, ...]:
        """Every node that keeps the object: the replicas, then the origin."""
        return tuple(dict.fromkeys((*self.replicas, self.origin)))

    def to_wire(self) -> list:
        return [
            self.object_id,
            self.name,
            self.size_bytes,
            self.chunk_bytes,
            [bytes.fromhex(h) for h in self.chunk_hashes],
            [list(kv) for kv in self.metadata],
            float(self.created_unix_s),
            self.origin,
            list(self.replicas),
        ]

    @classmethod
    def from_wire(cls, item: Any) -> "Manifest":
        """Parse and check a manifest (raises DecodeError naming the problem)."""
        if not isinstance(item, list) or len(item) != 9:
            raise DecodeError("manifest must be an array of 9 items")
        oid, name, size, chunk_bytes, hashes, metadata, created, origin, replicas = item
        if not (isinstance(oid, str) and len(oid) == 64 and all(c in "0123456789abcdef" for c in oid)):
            raise DecodeError("manifest object id must be 64 lowercase hex digits")
        try:
            check_name(name)
            meta = check_metadata(
                [tuple(kv) if isinstance(kv, list) else kv for kv in metadata] if isinstance(metadata, list) else None
            )
            check_chunk_bytes(chunk_bytes)
        except (ConfigError, TypeError) as exc:
            raise DecodeError(f"manifest: {exc}") from None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise DecodeError("manifest size must be a non-negative integer")
        if not isinstance(hashes, list) or not all(isinstance(h, bytes) and len(h) == 32 for h in hashes):
            raise DecodeError("manifest chunk hashes must be 32-byte strings")
        expected = max(1, math.ceil(size / chunk_bytes))
        if len(hashes) != expected or len(hashes) > MAX_CHUNKS:
            raise DecodeError(f"manifest lists {len(hashes)} chunks, its size needs {expected}")
        if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
            raise DecodeError("manifest creation time must be a finite number")
        if not _is_node(origin):
            raise DecodeError("manifest origin must be a node number")
        if not isinstance(replicas, list) or len(replicas) > MAX_REPLICAS or not all(_is_node(r) for r in replicas):
            raise DecodeError(f"manifest replicas must be at most {MAX_REPLICAS} node numbers")
        return cls(
            oid, name, size, chunk_bytes, tuple(h.hex() for h in hashes), meta, float(created), origin, tuple(replicas)
        )


def _is_node(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 < x < 2**64


def make_manifest(
    name: str,
    data: bytes,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    metadata: Mapping[str, str] | None = None,
    created_unix_s: float = 0.0,
    origin: int = 0,
    replicas: Iterable[int] = (),
) -> tuple[Manifest, list[bytes]]:
    """The manifest of `data` and its chunks."""
    check_name(name)
    chunks = split_chunks(data, chunk_bytes)
    if len(chunks) > MAX_CHUNKS:
        raise ConfigError(
            f"object of {len(data)} bytes needs more than {MAX_CHUNKS} chunks: use larger chunks", key="chunk_bytes"
        )
    manifest = Manifest(
        object_id=object_id_of(data),
        name=name,
        size_bytes=len(data),
        chunk_bytes=chunk_bytes,
        chunk_hashes=tuple(chunk_hash(c) for c in chunks),
        metadata=check_metadata(metadata),
        created_unix_s=float(created_unix_s),
        origin=origin,
        replicas=tuple(replicas),
    )
    return manifest, chunks


def assemble(manifest: Manifest, chunks: Mapping[int, bytes] | list[bytes]) -> bytes:
    """Join verified chunks and check the whole object against its content address (end to end)."""
    parts = [chunks[i] for i in range(manifest.chunk_count)]
    for i, part in enumerate(parts):
        if not manifest.verify_chunk(i, part):
            raise DecodeError(f"chunk {i} of {manifest.object_id[:12]} does not match its manifest hash")
    data = b"".join(parts)
    if object_id_of(data) != manifest.object_id:
        raise DecodeError(f"object {manifest.object_id[:12]}: assembled content does not match its sha256")
    return data


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """The catalogue's record for a name: the object it names (or a tombstone), ordered for merging."""

    name: str
    object_id: str
    put_unix_s: float
    deleted: bool = False
    updated_unix_s: float = 0.0
    manifest: Manifest | None = field(default=None, compare=False)

    @property
    def order(self) -> tuple:
        return (self.put_unix_s, self.deleted, self.updated_unix_s, self.object_id)

    def tombstone(self, now_unix_s: float) -> "CatalogEntry":
        return replace(self, deleted=True, updated_unix_s=max(now_unix_s, self.updated_unix_s))

    def to_wire(self) -> list:
        return [
            self.name,
            self.object_id,
            float(self.put_unix_s),
            bool(self.deleted),
            float(self.updated_unix_s),
            self.manifest.to_wire() if self.manifest is not None else None,
        ]

    @classmethod
    def from_wire(cls, item: Any) -> "CatalogEntry":
        if not isinstance(item, list) or len(item) != 6:
            raise DecodeError("catalogue entry must be an array of 6 items")
        name, oid, put_s, deleted, updated_s, manifest = item
        try:
            check_name(name)
        except ConfigError as exc:
            raise DecodeError(f"catalogue entry: {exc}") from None
        if not (isinstance(oid, str) and len(oid) == 64):
            raise DecodeError("catalogue entry object id must be 64 hex digits")
        for t in (put_s, updated_s):
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                raise DecodeError("catalogue entry times must be finite numbers")
        if not isinstance(deleted, bool):
            raise DecodeError("catalogue entry 'deleted' must be a boolean")
        m = Manifest.from_wire(manifest) if manifest is not None else None
        if m is not None and (m.object_id != oid or m.name != name):
            raise DecodeError("catalogue entry does not match its manifest")
        return cls(name, oid, float(put_s), deleted, float(updated_s), m)


def merge_entries(current: CatalogEntry | None, incoming: CatalogEntry) -> CatalogEntry:
    """Last writer wins by `CatalogEntry.order` (see the module docstring); ties keep the current entry."""
    if current is None or incoming.order > current.order:
        return incoming
    return current
