"""The interop scripts themselves, without any peer: they skip cleanly, and the configs they write are valid.

These run in CI (no SPACEDTN_INTEROP needed): no peer is started.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from dtn.node.config import load_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "interop"
SKIPPED = 77


def _common():
    spec = importlib.util.spec_from_file_location("interop_common", TOOLS / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["interop_common"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("peer", ["ud3tn", "hdtn", "dtnme", "ion"])
def test_missing_peer_is_one_line_and_status_77(peer: str, tmp_path: pathlib.Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("UD3TN_BIN", "UD3TN_DIR", "HDTN_BIN", "DTNME_BIN", "ION_PREFIX")
    }
    env["SPACEDTN_PEERS"] = str(tmp_path / "no-peers-here")
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, str(TOOLS / f"{peer}.py"), "--no-namespace"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == SKIPPED, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"skip {peer}:"), proc.stderr
    assert proc.stdout == ""


def test_node_config_written_for_a_run_is_valid(tmp_path: pathlib.Path) -> None:
    common = _common()
    path = common.write_node_config(
        tmp_path / "node.toml",
        1,
        listen=[{"cla": "mtcp", "host": "127.0.0.1", "port": 0}],
        neighbours={5: {"address": "127.0.0.1:4556", "cla": "mtcp", "dial": "always"}, 20: {"dial": "never"}},
        extra={"bundles": {"crc_type": 2}},
    )
    config = load_config(path)
    assert config.node_id == "ipn:1.0"
    assert sorted(config.neighbours) == [5, 20]
    assert config.neighbours[5].cla == "mtcp" and config.neighbours[20].address is None
    assert config.listen[0].cla == "mtcp"


def test_payloads_are_distinct_and_counted_once() -> None:
    common = _common()
    sent = common.payloads("x")
    assert len(sent) == common.SMALL_COUNT + 1 and len(set(sent)) == len(sent)
    assert len(sent[-1]) == common.BIG_SIZE_BYTES
    assert common.count_matching(sent, sent + sent[:2]) == len(sent)
    assert common.count_matching(sent, sent[:3]) == 3
    assert len(common.payloads("x", 60000)[-1]) == 60000
