"""The archive across real node processes: SIGKILL and restart of a replica lose nothing; the CLI end to end."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from dtn.client import SyncClient
from tests.node.conftest import Cluster, both

ARCHIVE = "[archive]\nreplicas = 1\nnodes = [1, 2, 3]\nretry_s = 2\nchunk_bytes = 4096\n"


@pytest.fixture
def chain():
    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-arch-", dir="/tmp"))
    c = Cluster(root)

    # Contacts come in 3-second windows for the first two minutes: a contact cut by a SIGKILL is marked failed by
    # the router (docs/node.md, link loss), and the next window carries what it did not.
    def windows(a, b):
        return [w for t in range(0, 120, 3) for w in both(a, b, t, t + 3)] + both(a, b, 120, 86400)

    c.plan(windows(1, 2) + windows(2, 3), start_in_s=0.0)
    c.config(1, [2], extra=ARCHIVE)
    c.config(2, [1, 3], extra=ARCHIVE)
    c.config(3, [2], extra=ARCHIVE)
    try:
        yield c
    finally:
        c.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def _wait(predicate, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_replica_survives_sigkill_and_restart(chain):
    chain.start(1, 2, 3)
    data = os.urandom(50_000)
    with SyncClient(chain.sock(1)) as origin:
        put = origin.archive_put(data, name="eo/scene-1", metadata={"sensor": "SAR"})
        assert put["replicas"] == [2]
    chain.procs[2].kill()  # SIGKILL while the chunks are in flight or just stored
    chain.restart(2)
    with SyncClient(chain.sock(1)) as origin:
        _wait(lambda: origin.archive_status("eo/scene-1")["all_replicas_unix_s"])
    chain.procs[2].kill()  # SIGKILL after the replica acknowledged: it must still have everything
    chain.procs[1].stop()  # the origin goes down for good
    chain.restart(2)
    with SyncClient(chain.sock(3)) as user:
        got = user.archive_get("eo/scene-1", timeout_s=30)
        assert got["data"] == data and got["metadata"] == {"sensor": "SAR"}
    chain.procs[3].kill()  # the user's fetched copy is durable too
    chain.restart(3)
    with SyncClient(chain.sock(3)) as user:
        assert user.archive_get("eo/scene-1")["data"] == data
        assert [o["name"] for o in user.archive_ls()] == ["eo/scene-1"]


def _dtn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dtn", *args], capture_output=True, text=True, timeout=60)


def test_cli_put_get_ls_rm(chain, tmp_path):
    chain.start(1, 2, 3)
    src = tmp_path / "report.bin"
    src.write_bytes(os.urandom(20_000))
    r = _dtn(
        "archive",
        "put",
        str(src),
        "--node",
        chain.sock(1),
        "--wait",
        "all",
        "--timeout",
        "30s",
        "--meta",
        "kind=report",
    )
    assert r.returncode == 0, r.stderr
    assert "stored report.bin" in r.stdout
    r = _dtn("archive", "put", str(src), "--node", chain.sock(1))
    assert r.returncode == 0 and "already archived" in r.stdout
    out = tmp_path / "back.bin"
    r = _dtn("archive", "get", "report.bin", "--node", chain.sock(3), "-o", str(out), "--timeout", "30s")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    r = _dtn("archive", "ls", "--node", chain.sock(3), "--json")
    assert r.returncode == 0 and '"report.bin"' in r.stdout
    r = _dtn("archive", "rm", "report.bin", "--node", chain.sock(1))
    assert r.returncode == 0, r.stderr
    with SyncClient(chain.sock(3)) as user:
        _wait(lambda: user.archive_ls() == [])
    r = _dtn("archive", "get", "report.bin", "--node", chain.sock(3), "-o", str(out))
    assert r.returncode == 2 and "no archived object named" in r.stderr and "Traceback" not in r.stderr
    r = _dtn("archive", "put", str(src), "--node", chain.sock(1), "--name", "bad\x01name")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_agent_refuses_bad_archive_requests(chain):
    from dtn.client import NodeError

    chain.start(1, 2, 3)
    with SyncClient(chain.sock(1)) as node:
        for op, fields, code in [
            ("archive_put", {"payload": b"x"}, "bad_request"),  # no name
            ("archive_put", {"payload": b"x", "name": "a", "wait": "later"}, "bad_request"),
            ("archive_put", {"payload": b"x", "name": "a", "metadata": {"k": 1}}, "bad_request"),
            ("archive_put", {"payload": b"x", "name": "a", "replicas": 99}, "bad_request"),
            ("archive_get", {"name": "nothing"}, "refused"),
            ("archive_lost", {"node": 0}, "bad_request"),
            ("archive_lost", {"node": 2**64 - 1}, "bad_request"),  # not an archive node: nothing stored
            ("archive_put", {"file": "/dev/zero", "name": "z"}, "bad_request"),  # not a regular file
        ]:
            with pytest.raises(NodeError) as info:
                node.request(op, **fields)
            assert info.value.code == code, (op, fields, info.value)
        assert node.archive_status()["endpoint"] == "ipn:1.64"
