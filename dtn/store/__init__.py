"""The bundle store: where a node keeps every bundle it has accepted until it is forwarded or expires.

`SqliteStore` is the durable one (SQLite in WAL mode, large payloads in fsynced files); `MemoryStore` is the
reference model (tests, virtual-time simulation). Both implement `BundleStore`. See docs/store.md.

    from dtn.store import StoredBundle, open_store
    with open_store("node.db", max_bytes=10**9) as store:
        store.put(StoredBundle(source="ipn:1.0", creation_time_ms=1, sequence=0,
                               destination="ipn:2.1", expiry_s=2e9), encoded_bundle)
"""

from __future__ import annotations

import os

from dtn.store.base import DEFAULT_INLINE_THRESHOLD_BYTES, BundleStore, PayloadSource
from dtn.store.memory import MemoryStore
from dtn.store.model import REASON_DEPLETED_STORAGE, Retention, StoredBundle, bundle_key
from dtn.store.sqlite import SqliteStore

__all__ = [
    "BundleStore",
    "DEFAULT_INLINE_THRESHOLD_BYTES",
    "MemoryStore",
    "PayloadSource",
    "REASON_DEPLETED_STORAGE",
    "Retention",
    "SqliteStore",
    "StoredBundle",
    "bundle_key",
    "open_store",
]


def open_store(
    path: str | os.PathLike | None,
    *,
    max_bytes: int | None = None,
    max_bundles: int | None = None,
    inline_threshold_bytes: int = DEFAULT_INLINE_THRESHOLD_BYTES,
    **sqlite_options,
) -> BundleStore:
    """A `SqliteStore` at `path` (created if missing), or a `MemoryStore` when `path` is None.

    Extra keyword arguments (`synchronous`, `create`, `readonly`, `check`, `repair`) go to `SqliteStore`.
    """
    if path is None:
        if sqlite_options:
            from dtn.errors import StoreError

            raise StoreError(f"options {sorted(sqlite_options)} apply only to a store with a path")
        return MemoryStore(max_bytes=max_bytes, max_bundles=max_bundles, inline_threshold_bytes=inline_threshold_bytes)
    return SqliteStore(
        path,
        max_bytes=max_bytes,
        max_bundles=max_bundles,
        inline_threshold_bytes=inline_threshold_bytes,
        **sqlite_options,
    )
