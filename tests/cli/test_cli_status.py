"""`dtn status`, `dtn send` and `dtn recv` against real node processes: human units, UTC, 80 columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.web.conftest import web_cluster  # noqa: F401  (fixture: two node processes)

ENV = {**os.environ, "COLUMNS": "80"}


def dtn(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dtn", *args], capture_output=True, text=True, timeout=timeout_s, env=ENV
    )


def test_status_is_human_and_fits_80_columns(web_cluster):  # noqa: F811
    sock = web_cluster.sock(2)
    out = dtn("status", "--node", sock)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, out.stdout
    text = out.stdout
    assert "node ipn:2.0" in text and " UTC" in text
    assert re.search(r"node 1 +up +open +0 bundles +in \d+ min \(\d\d:\d\d UTC\)", text), text
    assert re.search(r"node 3 +down +closed +0 bundles +in \d+ min", text), text
    assert "315360000" not in text
    assert json.loads(dtn("status", "--node", sock, "--json").stdout)["node_id"] == "ipn:2.0"


def test_send_then_recv_with_a_timeout_in_units(web_cluster, tmp_path):  # noqa: F811
    sent = dtn("send", "--node", web_cluster.sock(1), "--to", "ipn:2.7", "--data", "hello")
    assert sent.returncode == 0, sent.stderr
    assert re.match(r"sent ipn:1\.0 \S+ \S+ \(\d+ bytes\) to ipn:2\.7", sent.stdout), sent.stdout
    got = dtn(
        "recv",
        "--node",
        web_cluster.sock(2),
        "--endpoint",
        "ipn:2.7",
        "--out",
        str(tmp_path),
        "--count",
        "1",
        "--timeout",
        "20",
    )
    assert got.returncode == 0, got.stderr
    assert [p.read_bytes() for p in tmp_path.iterdir()] == [b"hello"]
    none = dtn(
        "recv",
        "--node",
        web_cluster.sock(2),
        "--endpoint",
        "ipn:2.7",
        "--out",
        str(tmp_path),
        "--count",
        "1",
        "--timeout",
        "1",
    )
    assert none.returncode == 1
    assert none.stderr.strip() == "dtn: no bundle for ipn:2.7 within 1.0 s"


def test_status_without_a_node_is_one_line(tmp_path):
    out = dtn("status", "--node", str(tmp_path / "nothing.sock"))
    assert out.returncode == 2
    assert out.stderr.strip() == f"dtn: error: no node socket at {tmp_path / 'nothing.sock'} (is the node running?)"
