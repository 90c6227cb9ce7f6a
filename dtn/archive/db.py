"""The archive's durable state: one SQLite file next to the node's bundle store (pure, no Trio).

Why a second SQLite file rather than retained bundles in the BundleStore: archive data is keyed by content
(object id, chunk index) and by name, is read by chunk and listed by name, and lives for as long as the object
is not deleted, whereas the bundle store is a queue keyed by bundle identity with expiry. One SQLite file with
the store's durability rules (WAL, `synchronous=FULL`, one transaction per change, committed before the bundle
that carried the change is acknowledged) keeps the same guarantee: after `kill -9` and a restart nothing that
was acknowledged is lost. docs/archive.md has the schema.
"""

from __future__ import annotations

import json
import pathlib
import sqlite3
from typing import Any, Iterator

import cbor2

from dtn.archive.model import CatalogEntry, Manifest, merge_entries
from dtn.errors import StoreError
from dtn.fsmode import tighten_sqlite, touch_private

DEPLETED_STORAGE = 4  # RFC 9171 §6.1.1 reason code, reused for a full archive

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_id TEXT PRIMARY KEY, manifest BLOB NOT NULL, role TEXT NOT NULL, complete INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL, stored_unix_s REAL NOT NULL, complete_unix_s REAL);
CREATE TABLE IF NOT EXISTS chunks (
    object_id TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (object_id, idx));
CREATE TABLE IF NOT EXISTS catalog (
    name TEXT PRIMARY KEY, object_id TEXT NOT NULL, deleted INTEGER NOT NULL, entry BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS catalog_object ON catalog (object_id);
CREATE TABLE IF NOT EXISTS puts (
    object_id TEXT PRIMARY KEY, name TEXT NOT NULL, replicas TEXT NOT NULL, acked TEXT NOT NULL,
    put_unix_s REAL NOT NULL, first_unix_s REAL, all_unix_s REAL);
CREATE TABLE IF NOT EXISTS fetches (
    object_id TEXT PRIMARY KEY, name TEXT NOT NULL, started_unix_s REAL NOT NULL, done_unix_s REAL);
CREATE TABLE IF NOT EXISTS lost (node INTEGER PRIMARY KEY, declared_unix_s REAL NOT NULL);
"""

ROLES = ("origin", "replica", "cache")


class ArchiveDB:
    """Objects, chunks, the catalogue, PUT acknowledgements, retrievals and lost nodes.

    `path` None keeps everything in memory (the digital twin's default, like its memory bundle stores).
    `max_bytes` is the quota on chunk bytes; a chunk beyond it raises StoreError (reason 4)."""

    def __init__(self, path: str | pathlib.Path | None = None, *, max_bytes: int | None = None) -> None:
        self.path = None if path is None else pathlib.Path(path)
        self.max_bytes = max_bytes
        try:
            if path is not None:
                touch_private(path)  # 0600 (docs/security.md)
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path), isolation_level=None, check_same_thread=False
            )
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                tighten_sqlite(path)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open archive database {path}: {exc}") from None
        self._used = int(self._db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def _tx(self):
        return _Tx(self._db)

    # -- objects and chunks --------------------------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        return self._used

    def add_object(self, manifest: Manifest, role: str, now_unix_s: float) -> bool:
        """Record an object this node keeps (role origin/replica/cache); False when it is already recorded (an
        existing record keeps its role unless the new one is stronger: origin > replica > cache)."""
        row = self._db.execute("SELECT role FROM objects WHERE object_id=?", (manifest.object_id,)).fetchone()
        if row is not None:
            if ROLES.index(role) < ROLES.index(row[0]):
                with self._tx():
                    self._db.execute(
                        "UPDATE objects SET role=?, manifest=? WHERE object_id=?",
                        (role, _m(manifest), manifest.object_id),
                    )
            return False
        with self._tx():
            self._db.execute(
                "INSERT INTO objects VALUES (?,?,?,?,?,?,NULL)",
                (manifest.object_id, _m(manifest), role, 0, manifest.size_bytes, now_unix_s),
            )
        return True

    def update_manifest(self, manifest: Manifest) -> None:
        with self._tx():
            self._db.execute("UPDATE objects SET manifest=? WHERE object_id=?", (_m(manifest), manifest.object_id))

    def put_chunk(self, object_id: str, index: int, data: bytes) -> bool:
        """Keep a verified chunk; False when it was already there. StoreError (reason 4) beyond the quota."""
        if self.has_chunk(object_id, index):
            return False
        if self.max_bytes is not None and self._used + len(data) > self.max_bytes:
            raise StoreError(f"archive quota of {self.max_bytes} bytes exceeded", reason_code=DEPLETED_STORAGE)
        with self._tx():
            self._db.execute("INSERT INTO chunks VALUES (?,?,?)", (object_id, index, data))
        self._used += len(data)
        return True

    def put_chunks(self, object_id: str, chunks: list[bytes]) -> None:
        """All chunks of an object in one transaction (a PUT at the origin, a completed retrieval)."""
        have = set(self.chunk_indices(object_id))
        new = [(object_id, i, c) for i, c in enumerate(chunks) if i not in have]
        extra = sum(len(c) for _, _, c in new)
        if self.max_bytes is not None and self._used + extra > self.max_bytes:
            raise StoreError(f"archive quota of {self.max_bytes} bytes exceeded", reason_code=DEPLETED_STORAGE)
        with self._tx():
            self._db.executemany("INSERT INTO chunks VALUES (?,?,?)", new)
        self._used += extra

    def has_chunk(self, object_id: str, index: int) -> bool:
        return (
            self._db.execute("SELECT 1 FROM chunks WHERE object_id=? AND idx=?", (object_id, index)).fetchone()
            is not None
        )

    def chunk(self, object_id: str, index: int) -> bytes | None:
        row = self._db.execute("SELECT data FROM chunks WHERE object_id=? AND idx=?", (object_id, index)).fetchone()
        return None if row is None else bytes(row[0])

    def chunk_indices(self, object_id: str) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT idx FROM chunks WHERE object_id=? ORDER BY idx", (object_id,))]

    def chunks(self, object_id: str) -> dict[int, bytes]:
        return {
            r[0]: bytes(r[1]) for r in self._db.execute("SELECT idx, data FROM chunks WHERE object_id=?", (object_id,))
        }

    def mark_complete(self, object_id: str, now_unix_s: float) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE objects SET complete=1, complete_unix_s=? WHERE object_id=? AND complete=0",
                (now_unix_s, object_id),
            )

    def object(self, object_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT manifest, role, complete, stored_unix_s, complete_unix_s FROM objects WHERE object_id=?",
            (object_id,),
        ).fetchone()
        if row is None:
            return None
        return {
            "manifest": _unm(row[0]),
            "role": row[1],
            "complete": bool(row[2]),
            "stored_unix_s": row[3],
            "complete_unix_s": row[4],
        }

    def objects(self) -> Iterator[dict[str, Any]]:
        for (oid,) in self._db.execute("SELECT object_id FROM objects ORDER BY object_id").fetchall():
            obj = self.object(oid)
            if obj is not None:
                yield obj

    def delete_object(self, object_id: str) -> int:
        """Drop an object and its chunks; returns the bytes freed."""
        freed = int(
            self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks WHERE object_id=?", (object_id,)
            ).fetchone()[0]
        )
        with self._tx():
            self._db.execute("DELETE FROM chunks WHERE object_id=?", (object_id,))
            self._db.execute("DELETE FROM objects WHERE object_id=?", (object_id,))
        self._used -= freed
        return freed

    def corrupt_chunk_for_tests(self, object_id: str, index: int, data: bytes) -> None:
        """Overwrite a stored chunk in place (fault injection: bit rot on a replica)."""
        with self._tx():
            self._db.execute("UPDATE chunks SET data=? WHERE object_id=? AND idx=?", (data, object_id, index))

    # -- the catalogue -------------------------------------------------------------------------------------------
    def catalog_get(self, name: str) -> CatalogEntry | None:
        row = self._db.execute("SELECT entry FROM catalog WHERE name=?", (name,)).fetchone()
        return None if row is None else CatalogEntry.from_wire(cbor2.loads(row[0]))

    def catalog_merge(self, entry: CatalogEntry) -> tuple[CatalogEntry, bool]:
        """Merge an entry (last writer wins, `merge_entries`); returns the winner and whether it changed."""
        current = self.catalog_get(entry.name)
        winner = merge_entries(current, entry)
        if winner is current:
            return winner, False
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO catalog VALUES (?,?,?,?)",
                (winner.name, winner.object_id, int(winner.deleted), cbor2.dumps(winner.to_wire())),
            )
        return winner, True

    def catalog(self, *, include_deleted: bool = False) -> list[CatalogEntry]:
        sql = "SELECT entry FROM catalog" + ("" if include_deleted else " WHERE deleted=0") + " ORDER BY name"
        return [CatalogEntry.from_wire(cbor2.loads(r[0])) for r in self._db.execute(sql)]

    def names_of(self, object_id: str, *, live_only: bool = True) -> list[str]:
        sql = "SELECT name FROM catalog WHERE object_id=?" + (" AND deleted=0" if live_only else "")
        return [r[0] for r in self._db.execute(sql, (object_id,))]

    # -- PUT acknowledgements (at the origin) --------------------------------------------------------------------
    def record_put(self, object_id: str, name: str, replicas: tuple[int, ...], now_unix_s: float) -> None:
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO puts VALUES (?,?,?,?,?,NULL,NULL)",
                (object_id, name, json.dumps(list(replicas)), "[]", now_unix_s),
            )

    def set_put_replicas(self, object_id: str, replicas: tuple[int, ...]) -> None:
        with self._tx():
            self._db.execute("UPDATE puts SET replicas=? WHERE object_id=?", (json.dumps(list(replicas)), object_id))

    def put_state(self, object_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT name, replicas, acked, put_unix_s, first_unix_s, all_unix_s FROM puts WHERE object_id=?",
            (object_id,),
        ).fetchone()
        if row is None:
            return None
        return {
            "name": row[0],
            "replicas": json.loads(row[1]),
            "acked": json.loads(row[2]),
            "put_unix_s": row[3],
            "first_unix_s": row[4],
            "all_unix_s": row[5],
        }

    def ack_put(self, object_id: str, holder: int, now_unix_s: float) -> dict[str, Any] | None:
        """A replica reported it holds the object: record it (and the first/all times); the new state."""
        state = self.put_state(object_id)
        if state is None or holder in state["acked"]:
            return state
        acked = sorted({*state["acked"], holder})
        first = state["first_unix_s"] if state["first_unix_s"] is not None else now_unix_s
        all_s = state["all_unix_s"]
        if all_s is None and set(state["replicas"]) <= set(acked):
            all_s = now_unix_s
        with self._tx():
            self._db.execute(
                "UPDATE puts SET acked=?, first_unix_s=?, all_unix_s=? WHERE object_id=?",
                (json.dumps(acked), first, all_s, object_id),
            )
        return self.put_state(object_id)

    def reset_all_acked(self, object_id: str) -> None:
        with self._tx():
            self._db.execute("UPDATE puts SET all_unix_s=NULL WHERE object_id=?", (object_id,))

    # -- retrievals ----------------------------------------------------------------------------------------------
    def start_fetch(self, object_id: str, name: str, now_unix_s: float) -> None:
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO fetches VALUES (?,?,?,NULL)", (object_id, name, now_unix_s))

    def finish_fetch(self, object_id: str, now_unix_s: float) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE fetches SET done_unix_s=? WHERE object_id=? AND done_unix_s IS NULL", (now_unix_s, object_id)
            )

    def pending_fetches(self) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self._db.execute(
                "SELECT object_id, name FROM fetches WHERE done_unix_s IS NULL ORDER BY object_id"
            )
        ]

    def fetch_state(self, object_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT started_unix_s, done_unix_s FROM fetches WHERE object_id=?", (object_id,)
        ).fetchone()
        return None if row is None else {"started_unix_s": row[0], "done_unix_s": row[1]}

    # -- lost nodes ----------------------------------------------------------------------------------------------
    def declare_lost(self, node: int, now_unix_s: float) -> bool:
        with self._tx():
            cur = self._db.execute("INSERT OR IGNORE INTO lost VALUES (?,?)", (node, now_unix_s))
        return cur.rowcount > 0

    def lost_nodes(self) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT node FROM lost")}


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"archive database: {exc}") from None
        return False


def _m(manifest: Manifest) -> bytes:
    return cbor2.dumps(manifest.to_wire())


def _unm(blob: bytes) -> Manifest:
    return Manifest.from_wire(cbor2.loads(blob))
