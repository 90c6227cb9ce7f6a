"""The delivery ledger: IDs of bundles already delivered to a local application, until they expire.

RFC 9171 §5.6 lets a node discard a bundle that duplicates one it already handled. The store forgets a bundle
once delivered, so without this record a copy resent after a lost acknowledgement (a neighbour killed between
our durable store and its XFER_ACK) would be delivered twice. With a store path, the ledger is a small SQLite
file beside it (`<store>.delivered`), committed before the application's acknowledgement is answered.
"""

from __future__ import annotations

import pathlib
import sqlite3
import threading

from dtn.errors import StoreError
from dtn.fsmode import tighten_sqlite, touch_private


class DeliveryLedger:
    """Keys of delivered bundles with their expiry (Unix s); `path` None keeps them in memory."""

    def __init__(self, path: str | pathlib.Path | None = None, *, synchronous: str = "FULL") -> None:
        self._lock = threading.Lock()
        self._memory: dict[str, float] | None = None
        self._conn: sqlite3.Connection | None = None
        if path is None:
            self._memory = {}
            return
        try:
            touch_private(path)
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            tighten_sqlite(path)
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, expiry_s REAL NOT NULL) WITHOUT ROWID"
            )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the delivery ledger: {exc}") from None

    def add(self, key: str, expiry_s: float) -> None:
        with self._lock:
            if self._memory is not None:
                self._memory[key] = expiry_s
            else:
                self._db().execute("INSERT OR REPLACE INTO delivered VALUES (?, ?)", (key, expiry_s))

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if self._memory is not None:
                return key in self._memory
            return self._db().execute("SELECT 1 FROM delivered WHERE key = ?", (key,)).fetchone() is not None

    def expire(self, now_unix_s: float) -> int:
        with self._lock:
            if self._memory is not None:
                old = [k for k, e in self._memory.items() if e <= now_unix_s]
                for k in old:
                    del self._memory[k]
                return len(old)
            return self._db().execute("DELETE FROM delivered WHERE expiry_s <= ?", (now_unix_s,)).rowcount

    def __len__(self) -> int:
        with self._lock:
            if self._memory is not None:
                return len(self._memory)
            return self._db().execute("SELECT COUNT(*) FROM delivered").fetchone()[0]

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("delivery ledger is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
