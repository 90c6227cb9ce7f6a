"""The `BundleStore` interface every store implements, and the rules the implementations share.

All methods are synchronous. A node calls them directly or from `trio.to_thread.run_sync`; an
implementation must therefore be safe to use from a worker thread (one call at a time is enough, the
implementations serialize calls with a lock).
"""

from __future__ import annotations

import abc
import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Union

import crc32c

from dtn.errors import StoreError
from dtn.store.model import REASON_DEPLETED_STORAGE, Retention, StoredBundle

#: Payloads up to this size are kept inside the SQLite database; larger ones in their own files.
DEFAULT_INLINE_THRESHOLD_BYTES = 64 * 1024

#: Chunk size for streamed payloads (`put_file`, `open_read`).
CHUNK_BYTES = 1024 * 1024

#: What `put_file` accepts: a path, a binary file object, or an iterable of bytes chunks.
PayloadSource = Union[str, os.PathLike, BinaryIO, Iterable[bytes]]


class BundleStore(abc.ABC):
    """Durable storage of encoded bundles plus a `StoredBundle` record each (see docs/store.md).

    Contract: `put`, `put_many` and `put_file` return only once the bundle is durable; a bundle whose
    identity key is already stored is not stored again (the put returns False); a put that would exceed
    `max_bytes` or `max_bundles` raises `StoreError` with `reason_code=4` (RFC 9171 §6.1.1, depleted
    storage) and stores nothing.
    """

    max_bytes: int | None
    max_bundles: int | None

    # ---- writing -------------------------------------------------------------------------------------
    def put(self, entry: StoredBundle, data: bytes) -> bool:
        """Store one bundle; True if stored, False if its key was already there. Durable on return."""
        return self.put_many([(entry, data)])[0]

    @abc.abstractmethod
    def put_many(self, items: Iterable[tuple[StoredBundle, bytes]]) -> list[bool]:
        """Store a batch in one transaction (one commit, one sync): all of it or, on error, none of it.

        Returns one bool per item (False for a duplicate key, including a repeat within the batch).
        """

    @abc.abstractmethod
    def put_file(self, entry: StoredBundle, source: PayloadSource) -> bool:
        """Store one bundle whose encoded bytes come from a path, a binary file object or an iterable of
        chunks, without holding the whole payload in memory (SqliteStore). Durable on return."""

    @abc.abstractmethod
    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete the bundles with these keys (missing keys are ignored); returns how many were deleted."""

    def delete(self, key: str) -> bool:
        """Delete one bundle; False if it was not stored."""
        return self.delete_many([key]) == 1

    @abc.abstractmethod
    def assign(self, key: str, next_hop: int | None, route: tuple | None = None) -> bool:
        """Record the next hop (node number, or None to unassign) and the route; False if key not stored."""

    @abc.abstractmethod
    def set_retention(self, key: str, retention: Retention) -> bool:
        """Replace the retention constraints of a bundle; False if key not stored."""

    @abc.abstractmethod
    def update_metadata(self, key: str, metadata: dict, *, replace: bool = False) -> bool:
        """Merge `metadata` into the bundle's metadata (as `dict.update`), or replace it whole when
        `replace=True`; False if key not stored."""

    @abc.abstractmethod
    def expire(self, now_unix_s: float) -> list[StoredBundle]:
        """Remove every bundle with `expiry_s <= now_unix_s` and return their records."""

    # ---- reading -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, key: str) -> StoredBundle | None:
        """The record of a bundle, or None."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes:
        """The encoded bundle bytes (checked against their CRC-32C); StoreError if not stored."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A binary stream over the encoded bundle bytes (checked at end of stream); close it after use."""

    @abc.abstractmethod
    def contains(self, key: str) -> bool:
        """Whether a bundle with this key is stored."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.contains(key)

    @abc.abstractmethod
    def for_next_hop(self, node: int) -> list[StoredBundle]:
        """Bundles assigned to this next hop, oldest first (by `received_s`, then arrival order)."""

    @abc.abstractmethod
    def for_destination(self, prefix_or_eid: str) -> list[StoredBundle]:
        """Bundles for an endpoint, oldest first. An argument ending in ``*``, ``/`` or ``.`` is a prefix
        (``ipn:5.*``, ``ipn:5.``, ``dtn://node/``); anything else matches the destination exactly."""

    @abc.abstractmethod
    def unassigned(self) -> list[StoredBundle]:
        """Bundles with no next hop, oldest first."""

    @abc.abstractmethod
    def expired(self, now_unix_s: float) -> list[StoredBundle]:
        """Bundles with `expiry_s <= now_unix_s`, earliest expiry first (nothing is removed)."""

    @abc.abstractmethod
    def entries(self) -> Iterator[StoredBundle]:
        """Every record in arrival order, without payloads (SqliteStore reads them page by page)."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many bundles are stored."""

    @abc.abstractmethod
    def total_bytes(self) -> int:
        """The sum of `size_bytes` over stored bundles (what `max_bytes` limits)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counts and sizes for operators; the keys are listed in docs/store.md."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store; later calls raise StoreError. Closing twice is fine."""

    def __enter__(self) -> BundleStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- shared rules --------------------------------------------------------------------------------
    def _check_quota(self, count: int, total_bytes: int, add_count: int, add_bytes: int) -> None:
        """Raise the RFC 9171 "depleted storage" StoreError if adding would exceed a quota."""
        if self.max_bundles is not None and count + add_count > self.max_bundles:
            raise StoreError(
                f"store full: {count} + {add_count} bundles would exceed max_bundles={self.max_bundles}",
                reason_code=REASON_DEPLETED_STORAGE,
            )
        if self.max_bytes is not None and total_bytes + add_bytes > self.max_bytes:
            raise StoreError(
                f"store full: {total_bytes} + {add_bytes} bytes would exceed max_bytes={self.max_bytes}",
                reason_code=REASON_DEPLETED_STORAGE,
            )


def check_quota_value(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(f"{name} must be a non-negative integer or None, got {value!r}")
    return value


def as_bytes(data: Any, key: str) -> bytes | bytearray | memoryview:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data
    raise StoreError(f"{key}: bundle data must be bytes, got {type(data).__name__}")


def iter_chunks(source: PayloadSource) -> Iterator[bytes]:
    """Yield the chunks of a `PayloadSource` (a path is opened and closed here)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            handle = open(source, "rb")
        except OSError as exc:
            raise StoreError(f"cannot read payload {os.fspath(source)!r}: {exc.strerror or exc}") from None
        with handle:
            yield from _read_chunks(handle)
    elif hasattr(source, "read"):
        yield from _read_chunks(source)  # type: ignore[arg-type]
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
    else:
        try:
            iterator = iter(source)
        except TypeError:
            raise StoreError(f"cannot store payload from {type(source).__name__}") from None
        for chunk in iterator:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise StoreError(f"payload chunks must be bytes, got {type(chunk).__name__}")
            yield bytes(chunk)


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray)):
            raise StoreError("payload stream must be opened in binary mode")
        yield bytes(chunk)


class CheckedReader(io.RawIOBase):
    """A read-only stream that checks the CRC-32C of what it read when it reaches the end.

    Raises StoreError at end of stream if the data does not match the checksum recorded at put time (a
    payload file damaged after it was stored).
    """

    def __init__(self, raw: BinaryIO, expected_crc: int, size_bytes: int, key: str) -> None:
        self._raw = raw
        self._expected_crc = expected_crc
        self._size_bytes = size_bytes
        self._key = key
        self._crc = 0
        self._read_bytes = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            view = memoryview(buffer)[:n]
            self._crc = crc32c.crc32c(view, self._crc)
            self._read_bytes += n
        elif not self._checked:
            self._checked = True
            if self._read_bytes != self._size_bytes or self._crc != self._expected_crc:
                raise StoreError(
                    f"{self._key}: stored payload is damaged (read {self._read_bytes} of "
                    f"{self._size_bytes} bytes, checksum {'ok' if self._crc == self._expected_crc else 'wrong'})"
                )
        return n or 0

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()
