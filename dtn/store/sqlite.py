"""`SqliteStore`: the durable bundle store, one SQLite database (WAL) plus a directory of payload files.

Layout for a store at ``node.db``:

- ``node.db`` (and SQLite's ``node.db-wal``, ``node.db-shm``): one row per bundle in table ``bundles``,
  with the payload inline (column ``payload``) when it is at most ``inline_threshold_bytes``;
- ``node.db.payloads/<32 hex>.bin``: one file per larger payload (column ``payload_file``).

Durability. A write takes SQLite's write lock (``BEGIN IMMEDIATE``), writes and fsyncs the payload files,
fsyncs their directory, then inserts the rows and commits (``synchronous=FULL`` by default: the WAL is
synced at each commit). So a row never points at a file that is not fully on disk, and a file without a row
is debris of an interrupted write: `open` removes such orphans, under the write lock, so it never removes
the file of a write in progress in another process. Deletion commits first and unlinks after.

Integrity. Each row keeps the CRC-32C of its payload; reads check it. On open, the database is checked
(``PRAGMA quick_check``) and every payload file must exist with the recorded size; a failure raises a
`StoreError` naming what is damaged and changes nothing on disk. ``repair=True`` moves the damaged bundles
aside (``payloads/damaged/``) and opens with the rest.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import pathlib
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import crc32c

from dtn.errors import StoreError
from dtn.fsmode import open_private, private_dir, tighten_sqlite, touch_private
from dtn.store.base import (
    DEFAULT_INLINE_THRESHOLD_BYTES,
    BundleStore,
    CheckedReader,
    PayloadSource,
    as_bytes,
    check_quota_value,
    iter_chunks,
)
from dtn.store.model import (
    REASON_DEPLETED_STORAGE,
    Retention,
    StoredBundle,
    check_next_hop,
    check_time,
    checked_fields,
    check_retention,
    destination_prefix,
    pack_metadata,
    pack_route,
    unpack_metadata,
    unpack_route,
)

SCHEMA_VERSION = 1
_APPLICATION_ID = 0x44544E53  # "DTNS": marks a SQLite file as a spacedtn bundle store
_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_FULL = 13
_SQLITE_IOERR_WRITE = 778
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_CHECKS = ("none", "quick", "full")
_PAGE = 256  # rows per page when iterating

_SCHEMA = """
CREATE TABLE bundles (
    seq INTEGER PRIMARY KEY,            -- arrival order
    key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    creation_time_ms INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    fragment_offset INTEGER,
    payload_length INTEGER,
    destination TEXT NOT NULL,
    expiry_s REAL NOT NULL,
    size_bytes INTEGER NOT NULL,
    retention INTEGER NOT NULL,
    next_hop INTEGER,
    route BLOB,                         -- msgpack, or NULL
    received_s REAL NOT NULL,
    metadata BLOB NOT NULL,             -- msgpack dict
    crc32c INTEGER NOT NULL,            -- of the payload
    payload_file TEXT,                  -- name in the payload directory, or NULL when inline
    payload BLOB                        -- last, so metadata queries never read it
);
CREATE INDEX bundles_next_hop ON bundles (next_hop, received_s, seq);
CREATE INDEX bundles_destination ON bundles (destination);
CREATE INDEX bundles_expiry ON bundles (expiry_s, seq);
-- Running totals for the quotas. Inserts add to them once per transaction (see _insert); a trigger
-- subtracts deleted rows, so no delete path can forget it.
CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO totals VALUES (0, 0, 0);
CREATE TRIGGER bundles_delete AFTER DELETE ON bundles BEGIN
    UPDATE totals SET count = count - 1, bytes = bytes - OLD.size_bytes WHERE id = 0;
END;
"""

_RECORD_COLUMNS = (
    "key, source, creation_time_ms, sequence, fragment_offset, payload_length, destination, expiry_s, "
    "size_bytes, retention, next_hop, route, received_s, metadata"
)
_INSERT = (
    f"INSERT INTO bundles ({_RECORD_COLUMNS}, crc32c, payload_file, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteStore(BundleStore):
    """A durable bundle store in a SQLite file (WAL) with large payloads in files beside it.

    `synchronous` is SQLite's setting: FULL (default) makes every commit durable against power loss;
    OFF also skips the payload fsyncs (for tests and simulations, survives a process crash only).
    `check` is what `open` verifies: "quick" (database structure and payload file sizes, default), "full"
    (also every payload's CRC-32C) or "none". `readonly=True` opens for inspection: no writes, no cleanup.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        max_bytes: int | None = None,
        max_bundles: int | None = None,
        inline_threshold_bytes: int = DEFAULT_INLINE_THRESHOLD_BYTES,
        synchronous: str = "FULL",
        create: bool = True,
        readonly: bool = False,
        check: str = "quick",
        repair: bool = False,
    ) -> None:
        self.path = pathlib.Path(path)
        self.payload_dir = pathlib.Path(f"{self.path}.payloads")
        self.max_bytes = check_quota_value(max_bytes, "max_bytes")
        self.max_bundles = check_quota_value(max_bundles, "max_bundles")
        threshold = check_quota_value(inline_threshold_bytes, "inline_threshold_bytes")
        self.inline_threshold_bytes = DEFAULT_INLINE_THRESHOLD_BYTES if threshold is None else threshold
        synchronous = str(synchronous).upper()
        if synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}")
        if check not in _CHECKS:
            raise StoreError(f"check must be one of {', '.join(_CHECKS)}, got {check!r}")
        if readonly and repair:
            raise StoreError("cannot repair a store opened read-only")
        self.synchronous = synchronous
        self.readonly = readonly
        self._fsync = synchronous != "OFF"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        #: Bundles moved aside by `repair=True`: (record, reason) pairs.
        self.damaged: list[tuple[StoredBundle, str]] = []
        #: Orphan payload files removed on open (debris of interrupted writes).
        self.orphans_removed = 0
        self._open(create=create, check=check, repair=repair)

    # ---- opening -------------------------------------------------------------------------------------
    def _open(self, *, create: bool, check: str, repair: bool) -> None:
        exists = self.path.exists()
        if exists and not self.path.is_file():
            raise StoreError(f"{self.path}: not a file")
        if not exists and (not create or self.readonly):
            raise StoreError(f"{self.path}: no bundle store there")
        size = self.path.stat().st_size if exists else 0
        if size:
            with open(self.path, "rb") as handle:
                if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                    raise StoreError(f"{self.path}: not a SQLite database (bad header); nothing was changed")
        elif self._payload_files():
            # A missing or empty database beside payload files is a lost or truncated store, not a new
            # one: opening it as new would take every payload file for an orphan and delete it.
            state = "is empty" if exists else "is missing"
            raise StoreError(
                f"{self.path}: database {state} but {self.payload_dir} holds payloads "
                "(truncated or lost store?); nothing was changed"
            )
        try:
            if self.readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                touch_private(self.path)  # 0600 before SQLite writes a byte (docs/security.md)
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn = self._conn
            conn.execute("PRAGMA busy_timeout = 10000")
            if not self.readonly:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch the database to WAL mode (got {mode})")
                tighten_sqlite(self.path)
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._init_schema(conn)
            if check != "none":
                problems = self.check_database()
                if problems:
                    raise StoreError(
                        f"{self.path}: database is damaged ({'; '.join(problems[:3])}); "
                        "nothing was changed (try: sqlite3 DB .recover)"
                    )
        except sqlite3.DatabaseError as exc:
            self._abandon()
            raise StoreError(f"{self.path}: cannot open the bundle store: {exc}; nothing was changed") from None
        except BaseException:
            self._abandon()
            raise
        try:
            damage = self.verify(full=check == "full") if check != "none" else []
            if damage and not repair:
                listed = "; ".join(f"{key}: {reason}" for key, reason in damage[:3])
                more = f" (and {len(damage) - 3} more)" if len(damage) > 3 else ""
                raise StoreError(
                    f"{self.path}: {len(damage)} damaged bundle(s): {listed}{more}; nothing was changed "
                    "(open with repair=True, or run 'dtn store check --repair', to move them aside)"
                )
            if not self.readonly:
                if damage:
                    self._quarantine(damage)
                self._remove_orphans()
        except (OSError, sqlite3.Error) as exc:
            self._abandon()
            raise _store_error(exc, self.path) from None
        except BaseException:
            self._abandon()
            raise

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.path}: empty database, not a bundle store")
            try:
                conn.executescript(
                    "BEGIN IMMEDIATE;\n"
                    + _SCHEMA
                    + f"PRAGMA application_id = {_APPLICATION_ID};\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        if app_id != _APPLICATION_ID or "bundles" not in tables:
            raise StoreError(f"{self.path}: a SQLite database, but not a spacedtn bundle store")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store format version {version}, this code reads {SCHEMA_VERSION}")

    def _abandon(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _payload_files(self) -> list[pathlib.Path]:
        if not self.payload_dir.is_dir():
            return []
        return [p for p in self.payload_dir.iterdir() if p.is_file()]

    def check_database(self) -> list[str]:
        """SQLite's structural check of the database file (``PRAGMA quick_check``); empty when sound."""
        problems = [row[0] for row in self._query("PRAGMA quick_check(20)", ())]
        return [] if problems == ["ok"] else problems

    def verify(self, *, full: bool = False) -> list[tuple[str, str]]:
        """Check every payload: file present with the recorded size, and with `full=True` the CRC-32C of
        every payload (inline ones too). Returns (key, problem) pairs; empty when all is well."""
        problems: list[tuple[str, str]] = []
        last_seq = 0
        while True:
            columns = "seq, key, size_bytes, crc32c, payload_file" + (", payload" if full else "")
            rows = self._query(
                f"SELECT {columns} FROM bundles WHERE seq > ? "
                + ("" if full else "AND payload_file IS NOT NULL ")
                + "ORDER BY seq LIMIT ?",
                (last_seq, _PAGE),
            )
            if not rows:
                return problems
            for row in rows:
                last_seq, key, size_bytes, crc, name = row[:5]
                problem = self._check_payload(size_bytes, crc, name, row[5] if full else None, full)
                if problem:
                    problems.append((key, problem))

    def _check_payload(self, size_bytes: int, crc: int, name: str | None, inline, full: bool) -> str | None:
        if name is None:
            if not full:
                return None
            data = inline or b""
            if len(data) != size_bytes:
                return f"inline payload has {len(data)} bytes, expected {size_bytes}"
            return None if crc32c.crc32c(data) == crc else "inline payload checksum mismatch"
        path = self.payload_dir / name
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            return f"payload file {name} is missing"
        if actual != size_bytes:
            return f"payload file {name} has {actual} bytes, expected {size_bytes}"
        if full:
            value = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    value = crc32c.crc32c(chunk, value)
            if value != crc:
                return f"payload file {name} checksum mismatch"
        return None

    def _quarantine(self, damage: list[tuple[str, str]]) -> None:
        """Move damaged bundles out of the store (rows deleted, files kept in payloads/damaged/)."""
        aside = self.payload_dir / "damaged"
        private_dir(aside)
        with self._lock, open(aside / "index.jsonl", "a", encoding="utf-8") as index:
            for key, reason in damage:
                record = self.get(key)
                row = (
                    self._connection()
                    .execute("SELECT payload_file, payload FROM bundles WHERE key = ?", (key,))
                    .fetchone()
                )
                if record is None or row is None:
                    continue
                name, inline = row
                kept = None
                if name is not None and (self.payload_dir / name).exists():
                    os.replace(self.payload_dir / name, aside / name)
                    kept = name
                elif inline is not None:
                    kept = f"{secrets.token_hex(16)}.bin"
                    (aside / kept).write_bytes(inline)
                index.write(json.dumps({"key": key, "reason": reason, "file": kept}) + "\n")
                index.flush()
                os.fsync(index.fileno())  # the note is on disk before the row goes
                self._connection().execute("DELETE FROM bundles WHERE key = ?", (key,))
                self.damaged.append((record, reason))

    def _remove_orphans(self) -> None:
        if not self.payload_dir.is_dir():
            return
        with self._lock:
            conn = self._connection()
            # put_many writes its files inside the write transaction and put_file holds an flock on its
            # file until its row commits, so an unreferenced, unlocked file here is debris.
            conn.execute("BEGIN IMMEDIATE")
            try:
                referenced = {
                    row[0] for row in conn.execute("SELECT payload_file FROM bundles WHERE payload_file IS NOT NULL")
                }
                for path in self._payload_files():
                    if path.name not in referenced and _not_being_written(path):
                        path.unlink(missing_ok=True)
                        self.orphans_removed += 1
            finally:
                conn.execute("COMMIT")

    # ---- writing -------------------------------------------------------------------------------------
    def put_many(self, items: Iterable[tuple[StoredBundle, bytes]]) -> list[bool]:
        prepared: list[tuple[StoredBundle, Any, tuple]] = []
        for entry, data in items:
            prepared.append((entry, as_bytes(data, getattr(entry, "key", "?")), checked_fields(entry)))
        return self._put_prepared(prepared)

    def _put_prepared(self, prepared: list[tuple[StoredBundle, Any, tuple]]) -> list[bool]:
        with self._lock:
            conn = self._writable()
            written: list[pathlib.Path] = []
            self._begin(conn)
            try:
                existing = self._existing_keys(conn, [entry.key for entry, _, _ in prepared])
                results: list[bool] = []
                rows: list[tuple] = []
                add_bytes = 0
                for entry, payload, fields in prepared:
                    if entry.key in existing:
                        results.append(False)
                        continue
                    existing.add(entry.key)
                    results.append(True)
                    add_bytes += len(payload)
                    rows.append((entry, payload, fields))
                count, total = conn.execute("SELECT count, bytes FROM totals WHERE id = 0").fetchone()
                self._check_quota(count, total, len(rows), add_bytes)
                values = []
                for entry, payload, fields in rows:
                    crc = crc32c.crc32c(payload)
                    if len(payload) > self.inline_threshold_bytes:
                        path = self._new_payload_path()
                        written.append(path)
                        self._write_file(path, (payload,))
                        values.append(_row(entry, fields, len(payload), crc, path.name, None))
                    else:
                        values.append(_row(entry, fields, len(payload), crc, None, payload))
                if written and self._fsync:
                    _fsync_dir(self.payload_dir)
                self._insert(conn, values, add_bytes)
                conn.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback(conn, written)
                raise _store_error(exc, self.path) from None
            except BaseException:
                self._rollback(conn, written)
                raise
            return results

    def _insert(self, conn: sqlite3.Connection, values: list[tuple], add_bytes: int) -> None:
        """Insert rows and add them to the totals (inside the caller's transaction)."""
        if values:
            conn.executemany(_INSERT, values)
            conn.execute(
                "UPDATE totals SET count = count + ?, bytes = bytes + ? WHERE id = 0", (len(values), add_bytes)
            )

    def put_file(self, entry: StoredBundle, source: PayloadSource) -> bool:
        """Stream a bundle into a payload file without holding the store's locks (other threads and
        processes keep using the store meanwhile); the row is inserted, under the write lock, once the
        file is complete and synced. A small stream (up to the inline threshold) is stored inline."""
        fields = checked_fields(entry)
        self._writable()
        if self.contains(entry.key):
            return False
        count, total = self._query("SELECT count, bytes FROM totals WHERE id = 0", ())[0]
        self._check_quota(count, total, 1, 0)
        chunks = iter_chunks(source)
        head = bytearray()
        for chunk in chunks:  # gather up to the inline threshold; beyond it, stream to a file
            head += chunk
            if len(head) > self.inline_threshold_bytes:
                break
        if len(head) <= self.inline_threshold_bytes:
            return self._put_prepared([(entry, bytes(head), fields)])[0]
        path = self._new_payload_path()
        try:
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except OSError as exc:
            raise _store_error(exc, self.path) from None
        try:
            # The flock tells a concurrent open's orphan sweep that this file is being written.
            fcntl.flock(fd, fcntl.LOCK_EX)
            crc, size = self._write_fd(
                fd, _chain(bytes(head), chunks), quota=lambda n: self._check_quota(count, total, 1, n)
            )
            if self._fsync:
                _fsync_dir(self.payload_dir)
            with self._lock:
                conn = self._writable()
                self._begin(conn)
                try:
                    if self._existing_keys(conn, [entry.key]):
                        conn.execute("ROLLBACK")
                        path.unlink(missing_ok=True)
                        return False
                    count, total = conn.execute("SELECT count, bytes FROM totals WHERE id = 0").fetchone()
                    self._check_quota(count, total, 1, size)
                    self._insert(conn, [_row(entry, fields, size, crc, path.name, None)], size)
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn, [])
                    raise
            return True
        except (OSError, sqlite3.Error) as exc:
            path.unlink(missing_ok=True)
            raise _store_error(exc, self.path) from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)

    def delete_many(self, keys: Iterable[str]) -> int:
        keys = list(dict.fromkeys(keys))
        with self._lock:
            conn = self._writable()
            self._begin(conn)
            try:
                files: list[str] = []
                deleted = 0
                for chunk in _chunked(keys, 500):
                    marks = ",".join("?" * len(chunk))
                    files += [
                        row[0]
                        for row in conn.execute(
                            f"SELECT payload_file FROM bundles WHERE key IN ({marks}) AND payload_file IS NOT NULL",
                            chunk,
                        )
                    ]
                    deleted += conn.execute(f"DELETE FROM bundles WHERE key IN ({marks})", chunk).rowcount
                conn.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback(conn, [])
                raise _store_error(exc, self.path) from None
            except BaseException:
                self._rollback(conn, [])
                raise
            self._unlink_payloads(files)
            return deleted

    def _update(self, key: str, sql: str, params: tuple) -> bool:
        with self._lock:
            conn = self._writable()
            try:
                return conn.execute(f"UPDATE bundles SET {sql} WHERE key = ?", (*params, key)).rowcount == 1
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None

    def assign(self, key: str, next_hop: int | None, route: tuple | None = None) -> bool:
        return self._update(key, "next_hop = ?, route = ?", (check_next_hop(next_hop, key), pack_route(route, key)))

    def set_retention(self, key: str, retention: Retention) -> bool:
        return self._update(key, "retention = ?", (int(check_retention(retention, key)),))

    def update_metadata(self, key: str, metadata: dict, *, replace: bool = False) -> bool:
        pack_metadata(metadata, key)
        with self._lock:
            current = self.get(key)
            if current is None:
                return False
            merged = dict(metadata) if replace else {**current.metadata, **metadata}
            return self._update(key, "metadata = ?", (pack_metadata(merged, key),))

    def expire(self, now_unix_s: float) -> list[StoredBundle]:
        now = check_time(now_unix_s)
        with self._lock:
            conn = self._writable()
            self._begin(conn)
            try:
                rows = conn.execute(
                    f"SELECT {_RECORD_COLUMNS}, payload_file FROM bundles WHERE expiry_s <= ? ORDER BY expiry_s, seq",
                    (now,),
                ).fetchall()
                conn.execute("DELETE FROM bundles WHERE expiry_s <= ?", (now,))
                conn.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback(conn, [])
                raise _store_error(exc, self.path) from None
            except BaseException:
                self._rollback(conn, [])
                raise
            self._unlink_payloads([row[-1] for row in rows if row[-1] is not None])
            return [_record(row) for row in rows]

    # ---- reading -------------------------------------------------------------------------------------
    def get(self, key: str) -> StoredBundle | None:
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM bundles WHERE key = ?", (key,))
        return _record(rows[0]) if rows else None

    def _payload_row(self, key: str) -> tuple:
        rows = self._query("SELECT size_bytes, crc32c, payload_file, payload FROM bundles WHERE key = ?", (key,))
        if not rows:
            raise StoreError(f"no bundle {key!r} in the store")
        return rows[0]

    def read(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def open_read(self, key: str) -> BinaryIO:
        with self._lock:  # open the file before a concurrent delete can unlink it
            size_bytes, crc, name, inline = self._payload_row(key)
            if name is None:
                raw: Any = io.BytesIO(inline or b"")
            else:
                try:
                    raw = open(self.payload_dir / name, "rb", buffering=0)
                except FileNotFoundError:
                    raise StoreError(f"{key}: payload file {name} is missing") from None
        return io.BufferedReader(CheckedReader(raw, crc, size_bytes, key), buffer_size=1024 * 1024)

    def contains(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM bundles WHERE key = ?", (key,)))

    def _records(self, where: str, params: tuple, order: str = "received_s, seq") -> list[StoredBundle]:
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM bundles WHERE {where} ORDER BY {order}", params)
        return [_record(row) for row in rows]

    def for_next_hop(self, node: int) -> list[StoredBundle]:
        return self._records("next_hop = ?", (check_next_hop(node),))

    def for_destination(self, prefix_or_eid: str) -> list[StoredBundle]:
        prefix = destination_prefix(prefix_or_eid)
        if prefix is None:
            return self._records("destination = ?", (prefix_or_eid,))
        if not prefix:
            return self._records("1", ())
        # A range on the index: under SQLite's BINARY collation (UTF-8 bytes, i.e. code point order) the
        # strings starting with `prefix` are exactly those in [prefix, prefix with its last char + 1).
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return self._records("destination >= ? AND destination < ?", (prefix, upper))

    def unassigned(self) -> list[StoredBundle]:
        return self._records("next_hop IS NULL", ())

    def expired(self, now_unix_s: float) -> list[StoredBundle]:
        return self._records("expiry_s <= ?", (check_time(now_unix_s),), order="expiry_s, seq")

    def entries(self) -> Iterator[StoredBundle]:
        self._connection()
        return self._iter_entries()

    def _iter_entries(self) -> Iterator[StoredBundle]:
        last_seq = 0
        while True:
            rows = self._query(
                f"SELECT seq, {_RECORD_COLUMNS} FROM bundles WHERE seq > ? ORDER BY seq LIMIT ?", (last_seq, _PAGE)
            )
            if not rows:
                return
            for row in rows:
                yield _record(row[1:])
            last_seq = rows[-1][0]

    def count(self) -> int:
        return self._query("SELECT count FROM totals WHERE id = 0", ())[0][0]

    def total_bytes(self) -> int:
        return self._query("SELECT bytes FROM totals WHERE id = 0", ())[0][0]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            q = self._query
            count, total = q("SELECT count, bytes FROM totals WHERE id = 0", ())[0]
            (
                oldest,
                newest,
                earliest,
                unassigned,
                fragments,
                no_retention,
                dispatch,
                forward,
                reassembly,
                inline,
                files,
            ) = q(
                "SELECT min(received_s), max(received_s), min(expiry_s), "
                "coalesce(sum(next_hop IS NULL), 0), coalesce(sum(fragment_offset IS NOT NULL), 0), "
                "coalesce(sum(retention = 0), 0), coalesce(sum(retention & 1 != 0), 0), "
                "coalesce(sum(retention & 2 != 0), 0), coalesce(sum(retention & 4 != 0), 0), "
                "coalesce(sum(payload_file IS NULL), 0), coalesce(sum(payload_file IS NOT NULL), 0) "
                "FROM bundles",
                (),
            )[0]
            by_next_hop = dict(
                q(
                    "SELECT next_hop, count(*) FROM bundles WHERE next_hop IS NOT NULL "
                    "GROUP BY next_hop ORDER BY next_hop",
                    (),
                )
            )
            by_destination = {
                dest: {"count": n, "bytes": size}
                for dest, n, size in q(
                    "SELECT destination, count(*), sum(size_bytes) FROM bundles "
                    "GROUP BY destination ORDER BY destination",
                    (),
                )
            }
            db_bytes = sum(p.stat().st_size for p in (self.path, pathlib.Path(f"{self.path}-wal")) if p.exists())
        return {
            "count": count,
            "total_bytes": total,
            "max_bytes": self.max_bytes,
            "max_bundles": self.max_bundles,
            "oldest_received_s": oldest,
            "newest_received_s": newest,
            "earliest_expiry_s": earliest,
            "unassigned": unassigned,
            "fragments": fragments,
            "no_retention": no_retention,
            "by_retention": {
                "DISPATCH_PENDING": dispatch,
                "FORWARD_PENDING": forward,
                "REASSEMBLY_PENDING": reassembly,
            },
            "by_next_hop": by_next_hop,
            "by_destination": by_destination,
            "kind": "sqlite",
            "path": str(self.path),
            "inline_count": inline,
            "file_count": files,
            "database_bytes": db_bytes,
        }

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                if not self.readonly:
                    # Fold the WAL into the database so the file alone is the whole store after close.
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the WAL stays; SQLite replays it on the next open
            finally:
                self._conn.close()
                self._conn = None

    # ---- helpers -------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the bundle store is closed")
        return self._conn

    def _writable(self) -> sqlite3.Connection:
        conn = self._connection()
        if self.readonly:
            raise StoreError(f"{self.path}: the bundle store is open read-only")
        return conn

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    def _rollback(self, conn: sqlite3.Connection, written: list[pathlib.Path]) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        for path in written:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # an orphan now; removed on the next open

    def _existing_keys(self, conn: sqlite3.Connection, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunked(keys, 500):
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in conn.execute(f"SELECT key FROM bundles WHERE key IN ({marks})", chunk))
        return found

    def _new_payload_path(self) -> pathlib.Path:
        private_dir(self.payload_dir)
        return self.payload_dir / f"{secrets.token_hex(16)}.bin"

    def _write_file(self, path: pathlib.Path, chunks: Iterable[bytes]) -> tuple[int, int]:
        """Write, fsync and close a new payload file; returns (crc32c, size)."""
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            return self._write_fd(fd, chunks)
        finally:
            os.close(fd)

    def _write_fd(self, fd: int, chunks: Iterable[bytes], quota=None) -> tuple[int, int]:
        """Write chunks to fd and fsync it; `quota(size_so_far)` may raise to stop. Returns (crc32c, size)."""
        crc = 0
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if quota is not None:
                quota(size)
            crc = crc32c.crc32c(chunk, crc)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        if self._fsync:
            os.fsync(fd)
        return crc, size

    def _unlink_payloads(self, names: list[str]) -> None:
        for name in names:
            try:
                (self.payload_dir / name).unlink(missing_ok=True)
            except OSError:
                pass  # an orphan now; removed on the next open


def _row(
    entry: StoredBundle, fields: tuple, size_bytes: int, crc: int, payload_file: str | None, payload: Any
) -> tuple:
    expiry_s, received_s, retention, next_hop, route, metadata = fields
    return (
        entry.key,
        entry.source,
        entry.creation_time_ms,
        entry.sequence,
        entry.fragment_offset,
        entry.payload_length,
        entry.destination,
        expiry_s,
        size_bytes,
        int(retention),
        next_hop,
        route,
        received_s,
        metadata,
        crc,
        payload_file,
        payload,
    )


def _record(row: tuple) -> StoredBundle:
    (
        key,
        source,
        creation_time_ms,
        sequence,
        fragment_offset,
        payload_length,
        destination,
        expiry_s,
        size_bytes,
        retention,
        next_hop,
        route,
        received_s,
        metadata,
    ) = row[:14]
    return StoredBundle(
        key=key,
        source=source,
        creation_time_ms=creation_time_ms,
        sequence=sequence,
        fragment_offset=fragment_offset,
        payload_length=payload_length,
        destination=destination,
        expiry_s=expiry_s,
        size_bytes=size_bytes,
        retention=Retention(retention),
        next_hop=next_hop,
        route=unpack_route(route),
        received_s=received_s,
        metadata=unpack_metadata(metadata),
    )


def _store_error(exc: BaseException, path: pathlib.Path) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return StoreError(f"{path}: storage full: {exc.strerror}", reason_code=REASON_DEPLETED_STORAGE)
        return StoreError(f"{path}: {exc.strerror or exc}")
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        # SQLite reports ENOSPC as SQLITE_FULL and other failed writes (quota, file size limit) as
        # SQLITE_IOERR_WRITE: either way the bundle could not be stored for want of storage.
        if code in (_SQLITE_FULL, _SQLITE_IOERR_WRITE):
            return StoreError(f"{path}: storage full: {exc}", reason_code=REASON_DEPLETED_STORAGE)
        return StoreError(f"{path}: database error: {exc}")
    return StoreError(f"{path}: {exc}")


def _not_being_written(path: pathlib.Path) -> bool:
    """False if another writer holds the file's flock (a put_file streaming into it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases our lock
    return True


def _fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _chunked(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
