"""`dtn store ls|show|purge|check` on real store files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dtn.cli import main
from dtn.store import SqliteStore
from tests.store.helpers import entry, payload


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "node.db"
    with SqliteStore(path, inline_threshold_bytes=1024, synchronous="NORMAL") as store:
        for n in range(6):
            record = entry(
                n,
                destination=f"ipn:{n % 2 + 5}.1",
                expiry_s=1000.0 + n * 1000,
                received_s=100.0 + n,
                next_hop=7 if n < 2 else None,
            )
            store.put(record, payload(record.key, 10 + n * 700))
    return path


def test_ls_summary_and_bundles(db, capsys):
    assert main(["store", "ls", str(db)]) == 0
    out = capsys.readouterr().out
    assert "per destination" in out and "ipn:5.1" in out and "ipn:6.1" in out
    assert entry(0).key in out and "bundles (6 of 6 shown)" in out


def test_ls_filters_and_json(db, capsys):
    assert main(["store", "ls", str(db), "--destination", "ipn:5.*", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stats"]["count"] == 6 and report["matching"] == 3
    assert {b["destination"] for b in report["bundles"]} == {"ipn:5.1"}
    assert main(["store", "ls", str(db), "--next-hop", "7", "--json"]) == 0
    assert [b["key"] for b in json.loads(capsys.readouterr().out)["bundles"]] == [entry(0).key, entry(1).key]
    assert main(["store", "ls", str(db), "--expired", "--now", "3000", "--json", "--limit", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matching"] == 3 and len(report["bundles"]) == 1


def test_show_record_and_raw_bytes(db, tmp_path, capsys):
    key = entry(3).key
    assert main(["store", "show", str(db), key, "--out", str(tmp_path / "b.bin")]) == 0
    out = capsys.readouterr().out
    assert key in out and "ipn:6.1" in out
    assert "decoded" in out or "not decoded" in out  # random bytes: shown raw whatever the codec says
    assert (tmp_path / "b.bin").read_bytes() == payload(key, 10 + 3 * 700)
    assert main(["store", "show", str(db), key, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["size_bytes"] == 2110


def test_show_decodes_a_real_bundle(tmp_path, capsys):
    bpv7 = pytest.importorskip("dtn.bpv7")
    if not hasattr(bpv7, "Bundle"):
        pytest.skip("the BPv7 codec is not there yet")
    from dtn.store import StoredBundle, bundle_key

    bundle = bpv7.Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1_000, sequence=4)
    bid = bundle.id
    key = bundle_key(bid.source, bid.creation_time_ms, bid.sequence, bid.fragment_offset, bid.payload_length)
    assert key == bid.key()  # the store's key and the codec's are the same text
    path = tmp_path / "n.db"
    with SqliteStore(path) as store:
        store.put(
            StoredBundle(
                source=bid.source,
                creation_time_ms=bid.creation_time_ms,
                sequence=bid.sequence,
                destination="ipn:2.1",
                expiry_s=2e9,
            ),
            bpv7.encode(bundle),
        )
    assert main(["store", "show", str(path), key]) == 0
    out = capsys.readouterr().out
    assert "decoded BPv7 bundle" in out and "not decoded" not in out


def test_purge(db, capsys):
    assert main(["store", "purge", str(db), "--expired", "--now", "3000", "--dry-run"]) == 0
    assert "would delete 3 bundle(s)" in capsys.readouterr().out
    assert main(["store", "purge", str(db), "--expired", "--now", "3000"]) == 0
    assert "deleted 3 bundle(s)" in capsys.readouterr().out
    assert main(["store", "purge", str(db), "--key", entry(3).key, "--key", "nope 1 1"]) == 0
    captured = capsys.readouterr()
    assert "deleted 1 bundle(s)" in captured.out and "no bundle" in captured.err
    assert main(["store", "purge", str(db), "--destination", "ipn:6.1"]) == 0
    assert main(["store", "purge", str(db), "--all"]) == 0
    assert "0 left" in capsys.readouterr().out


def test_purge_needs_exactly_one_selector(db, capsys):
    assert main(["store", "purge", str(db)]) == 2
    assert main(["store", "purge", str(db), "--all", "--expired"]) == 2
    assert capsys.readouterr().err.count("\n") == 2


def test_check_and_repair(db, capsys):
    assert main(["store", "check", str(db), "--full"]) == 0
    assert "ok, 6 bundle(s)" in capsys.readouterr().out
    victim = next(p for p in (db.parent / "node.db.payloads").iterdir() if p.is_file())
    victim.write_bytes(b"short")
    assert main(["store", "check", str(db)]) == 1
    assert "damaged:" in capsys.readouterr().out
    assert main(["store", "ls", str(db), "--json"]) == 0  # ls still works (read-only, no check)
    capsys.readouterr()
    assert main(["store", "check", str(db), "--repair"]) == 0
    assert "moved 1 damaged bundle(s)" in capsys.readouterr().out
    assert main(["store", "check", str(db), "--full"]) == 0


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["store", "ls", str(tmp_path / "absent.db")]) == 2
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    assert main(["store", "ls", str(bad)]) == 2
    assert main(["store", "show", str(bad), "k"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_real_process_help_and_error(db):
    result = subprocess.run([sys.executable, "-m", "dtn", "store", "ls", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "example:" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "dtn", "store", "show", str(db), "missing 1 1"], capture_output=True, text=True
    )
    assert result.returncode == 2 and result.stderr.startswith("dtn: error:") and result.stderr.count("\n") == 1


def test_check_reports_a_damaged_database(db, capsys):
    data = bytearray(db.read_bytes())
    for offset in range(4096, len(data), 4096):
        data[offset : offset + 100] = b"\x5a" * 100
    db.write_bytes(bytes(data))
    assert main(["store", "check", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dtn: error:") and err.count("\n") == 1
