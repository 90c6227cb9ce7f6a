"""`dtn node run/check`, `dtn send`, `dtn recv`, `dtn status`, `dtn ping` as a user runs them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


def dtn(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dtn", *args], input=stdin, capture_output=True, timeout=30)


@pytest.fixture
def two_nodes(cluster):
    cluster.plan([(1, 2, 0, 60, 1e7), (2, 1, 0, 60, 1e7)], start_in_s=0.0)
    cluster.config(1, [2], extra="[echo]\nservice = 7\n")
    cluster.config(2, [1], extra="[echo]\nservice = 7\n")
    cluster.start(1, 2)
    return cluster


def test_send_recv_status_ping(two_nodes, tmp_path):
    c = two_nodes
    payload = tmp_path / "in.bin"
    payload.write_bytes(b"\x00\x01payload\xff" * 100)
    r = dtn(
        "send",
        "--node",
        c.sock(1),
        "--to",
        "ipn:2.1",
        "--file",
        str(payload),
        "--lifetime",
        "5m",
        "--report",
        "delivery",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    r = dtn("send", "--node", c.sock(1), "--to", "ipn:2.1", stdin=b"from stdin")
    assert r.returncode == 0 and "sent ipn:1.0" in r.stdout.decode()
    out = tmp_path / "inbox"
    r = dtn(
        "recv",
        "--node",
        c.sock(2),
        "--endpoint",
        "ipn:2.1",
        "--out",
        str(out),
        "--count",
        "2",
        "--timeout",
        "20s",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert lines[0]["bundle"] == sent["bundle"]
    files = {pathlib_read(line["file"]) for line in lines}
    assert files == {payload.read_bytes(), b"from stdin"}
    r = dtn("status", "--node", c.sock(1), "--json")
    status = json.loads(r.stdout)
    assert status["node_id"] == "ipn:1.0" and status["peers"][0]["node"] == 2
    r = dtn("status", "--node", c.sock(1))
    assert r.returncode == 0 and "ipn:1.0" in r.stdout.decode()
    r = dtn("ping", "--node", c.sock(1), "ipn:2.7", "-c", "2", "-i", "100ms", "-W", "10s")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 received, 0% loss" in r.stdout.decode()


def pathlib_read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def test_errors_are_one_line_exit_2(tmp_path):
    r = dtn("status", "--node", str(tmp_path / "nothing.sock"))
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and "no node socket" in r.stderr.decode()
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\nid = "ipn:1.0"\n[routing]\nno_route = "drop"\n')
    r = dtn("node", "check", str(bad))
    assert r.returncode == 2 and r.stderr.decode().startswith("dtn: error: routing.no_route:")
    r = dtn("node", "run", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "not found" in r.stderr.decode()
    with socket.socket() as busy:  # the listen port is taken: one line, not a traceback
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = tmp_path / "busy.toml"
        cfg.write_text(f'[node]\nid = "ipn:1.0"\n[[listen]]\nport = {busy.getsockname()[1]}\n')
        r = dtn("node", "run", str(cfg))
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and "cannot listen" in r.stderr.decode()


def test_node_run_stops_on_sigint(cluster):
    cluster.plan([(1, 2, 0, 60, 1e7), (2, 1, 0, 60, 1e7)])
    cluster.config(1, [])
    cluster.start(1)
    assert cluster.procs[1].stop(sig=signal.SIGINT) == 0
    assert cluster.of(1, "stopped")
