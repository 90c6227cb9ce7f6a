"""`MemoryStore`: the reference model of a bundle store, all in RAM.

Used by the tests (the SQLite store must always agree with it) and by the virtual-time simulation, where
a node's storage need not survive the process. Same rules as `SqliteStore`: quotas, duplicates, ordering.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from dtn.errors import StoreError
from dtn.store.base import (
    DEFAULT_INLINE_THRESHOLD_BYTES,
    BundleStore,
    PayloadSource,
    as_bytes,
    check_quota_value,
    iter_chunks,
)
from dtn.store.model import (
    Retention,
    StoredBundle,
    check_next_hop,
    check_retention,
    check_time,
    matches_destination,
    normalize,
    pack_metadata,
    pack_route,
    unpack_metadata,
    unpack_route,
)


class MemoryStore(BundleStore):
    """A bundle store in a dict. `inline_threshold_bytes` is accepted for symmetry and ignored."""

    def __init__(
        self,
        *,
        max_bytes: int | None = None,
        max_bundles: int | None = None,
        inline_threshold_bytes: int = DEFAULT_INLINE_THRESHOLD_BYTES,
    ) -> None:
        self.max_bytes = check_quota_value(max_bytes, "max_bytes")
        self.max_bundles = check_quota_value(max_bundles, "max_bundles")
        self._lock = threading.RLock()
        # key -> (arrival number, record, data); dicts keep insertion order, which is arrival order.
        self._bundles: dict[str, tuple[int, StoredBundle, bytes]] = {}
        self._arrivals = 0
        self._total_bytes = 0
        self._closed = False

    # ---- writing -------------------------------------------------------------------------------------
    def put_many(self, items: Iterable[tuple[StoredBundle, bytes]]) -> list[bool]:
        with self._lock:
            self._check_open()
            results: list[bool] = []
            new: dict[str, tuple[StoredBundle, bytes]] = {}
            for entry, data in items:
                payload = bytes(as_bytes(data, getattr(entry, "key", "?")))
                record = normalize(entry, len(payload))
                if record.key in self._bundles or record.key in new:
                    results.append(False)
                    continue
                new[record.key] = (record, payload)
                results.append(True)
            self._check_quota(len(self._bundles), self._total_bytes, len(new), sum(len(p) for _, p in new.values()))
            for record, payload in new.values():
                self._arrivals += 1
                self._bundles[record.key] = (self._arrivals, record, payload)
                self._total_bytes += len(payload)
            return results

    def put_file(self, entry: StoredBundle, source: PayloadSource) -> bool:
        with self._lock:
            self._check_open()
            normalize(entry, 0)
            if entry.key in self._bundles:
                return False
            self._check_quota(len(self._bundles), self._total_bytes, 1, 0)
            chunks: list[bytes] = []
            size = 0
            for chunk in iter_chunks(source):
                size += len(chunk)
                self._check_quota(len(self._bundles), self._total_bytes, 1, size)
                chunks.append(chunk)
            return self.put(entry, b"".join(chunks))

    def delete_many(self, keys: Iterable[str]) -> int:
        with self._lock:
            self._check_open()
            deleted = 0
            for key in keys:
                found = self._bundles.pop(key, None)
                if found is not None:
                    self._total_bytes -= len(found[2])
                    deleted += 1
            return deleted

    def _update(self, key: str, **changes: Any) -> bool:
        with self._lock:
            self._check_open()
            found = self._bundles.get(key)
            if found is None:
                return False
            arrival, record, payload = found
            self._bundles[key] = (arrival, replace(record, **changes), payload)
            return True

    def assign(self, key: str, next_hop: int | None, route: tuple | None = None) -> bool:
        next_hop = check_next_hop(next_hop, key)
        return self._update(key, next_hop=next_hop, route=unpack_route(pack_route(route, key)))

    def set_retention(self, key: str, retention: Retention) -> bool:
        return self._update(key, retention=check_retention(retention, key))

    def update_metadata(self, key: str, metadata: dict, *, replace: bool = False) -> bool:
        pack_metadata(metadata, key)
        with self._lock:
            current = self.get(key)
            if current is None:
                return False
            merged = dict(metadata) if replace else {**current.metadata, **metadata}
            return self._update(key, metadata=unpack_metadata(pack_metadata(merged, key)))

    def expire(self, now_unix_s: float) -> list[StoredBundle]:
        with self._lock:
            gone = self.expired(now_unix_s)
            self.delete_many(entry.key for entry in gone)
            return gone

    # ---- reading -------------------------------------------------------------------------------------
    def get(self, key: str) -> StoredBundle | None:
        with self._lock:
            self._check_open()
            found = self._bundles.get(key)
            return None if found is None else found[1]

    def read(self, key: str) -> bytes:
        with self._lock:
            self._check_open()
            found = self._bundles.get(key)
            if found is None:
                raise StoreError(f"no bundle {key!r} in the store")
            return found[2]

    def open_read(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read(key))

    def contains(self, key: str) -> bool:
        with self._lock:
            self._check_open()
            return key in self._bundles

    def _select(self, keep, order) -> list[StoredBundle]:
        with self._lock:
            self._check_open()
            rows = [(arrival, record) for arrival, record, _ in self._bundles.values() if keep(record)]
        rows.sort(key=order)
        return [record for _, record in rows]

    def for_next_hop(self, node: int) -> list[StoredBundle]:
        node = check_next_hop(node)
        return self._select(lambda r: r.next_hop == node, _oldest_first)

    def for_destination(self, prefix_or_eid: str) -> list[StoredBundle]:
        matches_destination("", prefix_or_eid)  # validates the argument even when the store is empty
        return self._select(lambda r: matches_destination(r.destination, prefix_or_eid), _oldest_first)

    def unassigned(self) -> list[StoredBundle]:
        return self._select(lambda r: r.next_hop is None, _oldest_first)

    def expired(self, now_unix_s: float) -> list[StoredBundle]:
        now = check_time(now_unix_s)
        return self._select(lambda r: r.expiry_s <= now, lambda ar: (ar[1].expiry_s, ar[0]))

    def entries(self) -> Iterator[StoredBundle]:
        with self._lock:
            self._check_open()
            records = [record for _, record, _ in self._bundles.values()]
        return iter(records)

    def count(self) -> int:
        with self._lock:
            self._check_open()
            return len(self._bundles)

    def total_bytes(self) -> int:
        with self._lock:
            self._check_open()
            return self._total_bytes

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._check_open()
            records = [record for _, record, _ in self._bundles.values()]
        return stats_of(records, self.max_bytes, self.max_bundles) | {"kind": "memory"}

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the bundle store is closed")


def _oldest_first(arrival_and_record: tuple[int, StoredBundle]) -> tuple[float, int]:
    arrival, record = arrival_and_record
    return (record.received_s, arrival)


def stats_of(records: list[StoredBundle], max_bytes: int | None, max_bundles: int | None) -> dict[str, Any]:
    """The store-independent part of `stats()`, computed from records (SqliteStore computes it in SQL)."""
    by_destination: dict[str, dict[str, int]] = {}
    by_next_hop: dict[int, int] = {}
    by_retention = {flag.name: 0 for flag in _FLAGS}
    no_retention = 0
    for r in records:
        d = by_destination.setdefault(r.destination, {"count": 0, "bytes": 0})
        d["count"] += 1
        d["bytes"] += r.size_bytes
        if r.next_hop is not None:
            by_next_hop[r.next_hop] = by_next_hop.get(r.next_hop, 0) + 1
        for flag in _FLAGS:
            if r.retention & flag:
                by_retention[flag.name] += 1
        no_retention += r.retention == 0
    return {
        "count": len(records),
        "total_bytes": sum(r.size_bytes for r in records),
        "max_bytes": max_bytes,
        "max_bundles": max_bundles,
        "oldest_received_s": min((r.received_s for r in records), default=None),
        "newest_received_s": max((r.received_s for r in records), default=None),
        "earliest_expiry_s": min((r.expiry_s for r in records), default=None),
        "unassigned": sum(r.next_hop is None for r in records),
        "fragments": sum(r.fragment_offset is not None for r in records),
        "no_retention": no_retention,
        "by_retention": by_retention,
        "by_next_hop": dict(sorted(by_next_hop.items())),
        "by_destination": dict(sorted(by_destination.items())),
    }


_FLAGS = (Retention.DISPATCH_PENDING, Retention.FORWARD_PENDING, Retention.REASSEMBLY_PENDING)
