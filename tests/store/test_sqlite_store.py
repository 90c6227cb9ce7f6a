"""SqliteStore on real files: persistence, payload files, orphans, damage, read-only, full disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from dtn.errors import StoreError
from dtn.store import SqliteStore
from tests.store.helpers import entry, payload

THRESHOLD = 1024


def open_db(path, **kwargs) -> SqliteStore:
    kwargs.setdefault("inline_threshold_bytes", THRESHOLD)
    kwargs.setdefault("synchronous", "NORMAL")
    return SqliteStore(path, **kwargs)


def fill(path, n: int = 6) -> list[str]:
    """Store n bundles, every other one in a payload file; returns their keys."""
    with open_db(path) as store:
        items = [(entry(i), payload(entry(i).key, (i % 2) * 3 * THRESHOLD + 10)) for i in range(n)]
        assert all(store.put_many(items))
    return [e.key for e, _ in items]


def payload_files(path) -> list:
    directory = path.parent / f"{path.name}.payloads"
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def test_reopen_keeps_everything(tmp_path):
    db = tmp_path / "node.db"
    keys = fill(db)
    with open_db(db, check="full") as store:
        assert [e.key for e in store.entries()] == keys
        for key in keys:
            assert store.read(key) == payload(key, store.get(key).size_bytes)
        stats = store.stats()
        assert stats["file_count"] == 3 and stats["inline_count"] == 3
    assert len(payload_files(db)) == 3


def test_full_synchronous_is_default_and_wal(tmp_path):
    with SqliteStore(tmp_path / "s.db") as store:
        assert store.synchronous == "FULL"
        store.put(entry(1), b"x")
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_payload_file_removed_on_delete_and_expire(tmp_path):
    db = tmp_path / "node.db"
    keys = fill(db)
    with open_db(db) as store:
        store.delete(keys[1])
        assert len(payload_files(db)) == 2
        store.expire(3e9)
        assert payload_files(db) == [] and store.count() == 0


def test_orphan_files_are_removed_on_open(tmp_path):
    db = tmp_path / "node.db"
    fill(db)
    directory = tmp_path / "node.db.payloads"
    (directory / "0123456789abcdef0123456789abcdef.bin").write_bytes(b"half a bundle")
    with open_db(db) as store:
        assert store.orphans_removed == 1
        assert store.count() == 6
    assert len(payload_files(db)) == 3


def test_not_a_database(tmp_path):
    db = tmp_path / "node.db"
    db.write_bytes(b"this is not sqlite at all, just text" * 10)
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_db(db)
    assert db.read_bytes().startswith(b"this is not sqlite")


def test_other_sqlite_database_is_refused(tmp_path):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a spacedtn bundle store"):
        open_db(db)


def test_missing_store_without_create(tmp_path):
    with pytest.raises(StoreError, match="no bundle store"):
        open_db(tmp_path / "absent.db", create=False)
    with pytest.raises(StoreError):
        open_db(tmp_path / "absent.db", readonly=True)
    with pytest.raises(StoreError):
        open_db(tmp_path)  # a directory


def test_truncated_database_is_reported_and_nothing_deleted(tmp_path):
    db = tmp_path / "node.db"
    fill(db, n=200)
    before = payload_files(db)
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(StoreError, match="node.db"):
        open_db(db)
    assert payload_files(db) == before  # payloads are not mistaken for orphans


def test_database_truncated_to_zero_keeps_payloads(tmp_path):
    db = tmp_path / "node.db"
    fill(db)
    before = payload_files(db)
    db.write_bytes(b"")
    with pytest.raises(StoreError, match="truncated"):
        open_db(db)
    assert payload_files(db) == before


def test_corrupted_database_pages(tmp_path):
    db = tmp_path / "node.db"
    fill(db, n=300)
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), 3 * page):  # scribble over b-tree pages, keep the header
        data[offset : offset + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged|malformed|cannot open"):
        open_db(db)


def test_damaged_payload_file_is_reported_then_repaired(tmp_path):
    db = tmp_path / "node.db"
    keys = fill(db)
    victim = payload_files(db)[0]
    with open(victim, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(StoreError, match="1 damaged bundle"):
        open_db(db)
    assert victim.exists()  # refusing to open changed nothing
    with open_db(db, repair=True) as store:
        assert len(store.damaged) == 1
        damaged_key = store.damaged[0][0].key
        assert store.count() == 5
        for key in keys:
            if key != damaged_key:
                assert store.read(key) == payload(key, store.get(key).size_bytes)
    aside = tmp_path / "node.db.payloads" / "damaged"
    assert (aside / victim.name).exists() and damaged_key in (aside / "index.jsonl").read_text()
    with open_db(db) as store:
        assert store.count() == 5


def test_lost_database_keeps_payloads(tmp_path):
    db = tmp_path / "node.db"
    fill(db)
    before = payload_files(db)
    db.unlink()
    with pytest.raises(StoreError, match="missing"):
        open_db(db)
    assert payload_files(db) == before and not db.exists()


def test_missing_payload_file(tmp_path):
    db = tmp_path / "node.db"
    fill(db)
    payload_files(db)[1].unlink()
    with pytest.raises(StoreError, match="missing"):
        open_db(db)


def test_bit_flip_in_payload_caught_on_read_and_full_check(tmp_path):
    db = tmp_path / "node.db"
    keys = fill(db)
    victim = payload_files(db)[0]
    data = bytearray(victim.read_bytes())
    data[5] ^= 0x01
    victim.write_bytes(bytes(data))
    with open_db(db) as store:  # same size: a quick check cannot see it, a read can
        damaged = [k for k in keys if store.get(k).size_bytes > THRESHOLD]
        errors = 0
        for key in damaged:
            try:
                store.read(key)
            except StoreError as exc:
                assert "damaged" in str(exc)
                errors += 1
        assert errors == 1
    with pytest.raises(StoreError, match="checksum"):
        open_db(db, check="full")


def test_readonly_open(tmp_path):
    db = tmp_path / "node.db"
    keys = fill(db)
    with open_db(db, readonly=True) as store:
        assert store.count() == 6 and store.read(keys[0])
        with pytest.raises(StoreError, match="read-only"):
            store.put(entry(99), b"x")
        with pytest.raises(StoreError, match="read-only"):
            store.delete(keys[0])


def test_second_connection_sees_commits(tmp_path):
    db = tmp_path / "node.db"
    with open_db(db) as writer, open_db(db) as other:
        writer.put(entry(1), payload("a", 3 * THRESHOLD))
        assert other.contains(entry(1).key) and other.count() == 1
        assert other.put(entry(1), b"x") is False
        other.put(entry(2), b"y")
        assert writer.count() == 2 and writer.total_bytes() == 3 * THRESHOLD + 1


def test_invalid_options(tmp_path):
    for kwargs in (
        dict(synchronous="SOMETIMES"),
        dict(check="maybe"),
        dict(max_bytes=-1),
        dict(readonly=True, repair=True),
    ):
        with pytest.raises(StoreError):
            open_db(tmp_path / "x.db", **kwargs)


FULL_DISK_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from dtn.errors import StoreError
    from dtn.store import SqliteStore
    from tests.store.helpers import entry, payload
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # writes past the limit fail with EFBIG instead
    store = SqliteStore(sys.argv[1], inline_threshold_bytes=1024)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    acked = 0
    for n in range(10_000):
        size = int(sys.argv[2]) if n % 5 == 4 else 20_000
        try:
            store.put(entry(n), payload(entry(n).key, size))
        except StoreError as exc:
            print("FULL", acked, exc.reason_code, str(exc).replace(" ", "_"), flush=True)
            break
        acked += 1
        print("ACK", size, entry(n).key, flush=True)
    """
)


@pytest.mark.parametrize("big_bytes", [200_000, 300_000], ids=["database-write-fails", "payload-write-fails"])
def test_full_disk_refuses_cleanly_and_loses_nothing(tmp_path, big_bytes):
    """A write failing for lack of space (simulated with RLIMIT_FSIZE: a write past it fails with EFBIG, in
    SQLite's files or in a payload file) raises reason code 4 and leaves a consistent store holding every
    acknowledged bundle."""
    db = tmp_path / "node.db"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(db), str(big_bytes)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    acked = [line.split(" ", 2) for line in lines if line.startswith("ACK")]
    full = [line.split() for line in lines if line.startswith("FULL")]
    assert full and full[0][2] == "4", result.stdout[-500:]
    assert acked
    if big_bytes > 256 * 1024:
        assert "File_too_large" in full[0][-1]  # our payload file write failed, not SQLite's
    with open_db(db, check="full") as store:
        assert store.count() == len(acked)
        for _, size, key in acked:
            assert store.read(key) == payload(key, int(size))


def test_put_file_streams_without_blocking_others(tmp_path):
    """While a big bundle streams in, other threads keep storing, and a second process-like opener's orphan
    sweep leaves the file being written alone (it is flocked until its row commits)."""
    import threading

    db = tmp_path / "node.db"
    store = open_db(db)
    seen: dict[str, object] = {}

    def slow_source():
        yield b"a" * (4 * THRESHOLD)
        worker = threading.Thread(target=lambda: seen.setdefault("put", store.put(entry(2), b"meanwhile")))
        worker.start()
        worker.join(timeout=10)
        seen["worker_done"] = not worker.is_alive()
        with open_db(db) as other:  # its open sweeps orphans
            seen["swept"] = other.orphans_removed
        seen["files_mid_stream"] = len(payload_files(db))
        yield b"b" * (4 * THRESHOLD)

    try:
        assert store.put_file(entry(1), slow_source())
        assert seen == {"put": True, "worker_done": True, "swept": 0, "files_mid_stream": 1}
        assert store.read(entry(1).key) == b"a" * (4 * THRESHOLD) + b"b" * (4 * THRESHOLD)
        assert store.read(entry(2).key) == b"meanwhile"
    finally:
        store.close()
    with open_db(db, check="full") as again:
        assert again.count() == 2 and again.orphans_removed == 0
