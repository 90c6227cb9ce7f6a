"""Crash test: a real child process stores bundles as fast as it can and is SIGKILLed at a random moment.

After each kill the store must reopen cleanly (full check: every payload's checksum), hold every bundle
whose put was acknowledged with its exact bytes, hold nothing half-written, and keep no orphan file.
"""

from __future__ import annotations

import pathlib
import random
import signal
import subprocess
import sys

import pytest

from dtn.store import SqliteStore
from tests.store.helpers import payload

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNS = 6


def run_child_and_kill(db: pathlib.Path, seed: int, after_s: float) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_child", str(db), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = child.stdout.readline()
        assert first == "READY\n", first + child.stderr.read()
        try:
            out, err = child.communicate(timeout=after_s)
            pytest.fail(f"child exited on its own ({child.returncode}): {err[-2000:]}")
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return out.splitlines()


@pytest.mark.parametrize("seed", range(1, RUNS + 1))
def test_sigkill_loses_no_acknowledged_bundle(tmp_path, seed):
    db = tmp_path / "node.db"
    rng = random.Random(seed)
    acked: dict[str, int] = {}
    maybe_deleted: set[str] = set()
    deleted: set[str] = set()
    for round_ in range(2):  # kill, reopen, let a second child append to the survivor, kill again
        for line in run_child_and_kill(db, seed * 10 + round_, after_s=rng.uniform(0.15, 0.6)):
            kind, rest = line.split(" ", 1)
            if kind == "ACK":
                size, key = rest.split(" ", 1)
                acked[key] = int(size)
            elif kind == "DELETING":
                maybe_deleted.add(rest)
            elif kind == "DELETED":
                deleted.add(rest)
        assert len(acked) > 5, "the child stored too little to test anything"

        with SqliteStore(db, check="full") as store:  # raises if anything is damaged
            stored = {e.key: e for e in store.entries()}
            for key, size in acked.items():
                if key in deleted:
                    assert key not in stored, f"deleted bundle {key} came back"
                elif key not in maybe_deleted:
                    assert key in stored, f"acknowledged bundle {key} lost"
                    assert stored[key].size_bytes == size
                    assert store.read(key) == payload(key, size)
            for key, record in stored.items():  # nothing half-written: every stored payload is exact
                assert store.read(key) == payload(key, record.size_bytes)
            files = [p for p in store.payload_dir.iterdir() if p.is_file()] if store.payload_dir.exists() else []
            assert len(files) == store.stats()["file_count"], "orphan payload files left after open"
