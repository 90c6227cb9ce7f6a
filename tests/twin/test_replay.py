"""`dtn replay` with real node processes: a cut link and a SIGKILLed node lose nothing, and the processes are gone
afterwards; the digital twin agrees with the replay on which bundles arrive and in what order."""

import os
import time

from dtn.cli import main
from dtn.twin.runner.simulate import SimulationOptions, simulate
from dtn.twin.workload import load_workload

from .conftest import FOUR_NODE_FAULTS, FOUR_NODE_TRAFFIC, delivery_order


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_replay_four_nodes_cut_and_kill(tmp_path, four_node_files, four_node_plan, capsys):
    plan, traffic, faults = four_node_files
    out = tmp_path / "replay"
    started = time.monotonic()
    assert (
        main(
            [
                "replay",
                str(plan),
                "--traffic",
                str(traffic),
                "--faults",
                str(faults),
                "--speed",
                "120",
                "--duration",
                "1h",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert time.monotonic() - started < 60
    text = capsys.readouterr().out
    assert "6 of 6 bundles delivered" in text and "0 lost" in text
    report, replay_order = delivery_order(out)
    assert report.lost == 0 and report.delivered == 6
    # the killed node really was killed and restarted
    events = (out / "events.jsonl").read_text()
    assert '"event":"killed"' in events and '"event":"restarting"' in events
    # every node process is gone
    import json

    pids = json.loads((out / "meta.json").read_text())["pids"]
    assert len(pids) == 5  # four nodes and B's restart
    assert all(not _alive(pid) for pid in pids)
    lag = json.loads((out / "meta.json").read_text())["lag"]
    assert lag["actions"] >= 9  # six sends, the kill, the restart, the end
    assert "replay kept up" in text or "could NOT keep up" in capsys.readouterr().err

    # The digital twin on the same inputs: same bundles, same order.
    sim = tmp_path / "sim"
    simulate(
        four_node_plan,
        load_workload(four_node_plan, FOUR_NODE_TRAFFIC, FOUR_NODE_FAULTS),
        sim,
        SimulationOptions(duration_s=3600, seed=5),
    )
    _, sim_order = delivery_order(sim)
    assert sim_order == replay_order


def test_replay_interrupted_stops_every_process(tmp_path, four_node_files):
    """Ctrl-C (SIGINT) in the middle of a replay: every node process it started is gone afterwards."""
    import json
    import signal
    import subprocess
    import sys

    plan, traffic, faults = four_node_files
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dtn",
            "replay",
            str(plan),
            "--traffic",
            str(traffic),
            "--speed",
            "60",
            "--duration",
            "1h",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pids_file = out / "pids.json"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if pids_file.exists():
            try:
                if len(json.loads(pids_file.read_text())) == 4:
                    break
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the replay did not start its four nodes")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) != 0
    pids = json.loads(pids_file.read_text())
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
    assert b"Traceback" not in proc.stderr.read()
