"""The digital twin: delivery through a cut link and a crash, determinism, and the CLI."""

import subprocess
import sys

from dtn.cli import main
from dtn.twin.runner.simulate import SimulationOptions, simulate
from dtn.twin.workload import load_workload

from .conftest import FOUR_NODE_FAULTS, FOUR_NODE_TRAFFIC, delivery_order


def test_everything_delivered_through_cut_and_crash(tmp_path, four_node_plan):
    workload = load_workload(four_node_plan, FOUR_NODE_TRAFFIC, FOUR_NODE_FAULTS)
    simulate(four_node_plan, workload, tmp_path, SimulationOptions(duration_s=3600, seed=1))
    report, order = delivery_order(tmp_path)
    assert report.sent == 6 and report.delivered == 6 and report.lost == 0
    # Bundles sent before the cut wait in B (through its crash) and arrive at 1200 s; later ones go through D.
    early = [b for b in report.bundles if b.sent_s < 200]
    late = [b for b in report.bundles if b.sent_s > 200]
    assert early and late
    assert all(b.path == [1, 2, 3] and 1200 <= b.delivered_s < 1300 for b in early)
    assert all(b.path == [1, 4, 3] and 1800 <= b.delivered_s < 1900 for b in late)
    assert order == [("a-to-c", i) for i in range(6)]
    events = (tmp_path / "events.jsonl").read_text()
    assert '"event":"killed"' in events and '"event":"restarting"' in events


def test_same_seed_same_event_log_across_processes(tmp_path, four_node_files):
    plan, traffic, faults = four_node_files
    logs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dtn",
                "simulate",
                str(plan),
                "--traffic",
                str(traffic),
                "--faults",
                str(faults),
                "--duration",
                "1h",
                "--seed",
                "11",
                "--out",
                str(out),
                "--no-report",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        logs.append((out / "events.jsonl").read_bytes())
    assert logs[0] == logs[1] and len(logs[0]) > 1000


def test_cli_simulate_sqlite_store_and_report(tmp_path, four_node_files, capsys):
    plan, traffic, faults = four_node_files
    out = tmp_path / "run"
    assert (
        main(
            [
                "simulate",
                str(plan),
                "--traffic",
                str(traffic),
                "--faults",
                str(faults),
                "--duration",
                "1h",
                "--store",
                "sqlite",
                "--out",
                str(out),
                "--plots",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "6 of 6 bundles delivered" in text and "0 lost" in text
    assert (out / "index.html").exists() and (out / "stores" / "node2.db").exists()


def test_cli_simulate_bad_inputs(tmp_path, four_node_files, capsys):
    plan, traffic, faults = four_node_files
    assert main(["simulate", str(tmp_path / "nope.json")]) == 2
    assert "no such scenario" in capsys.readouterr().err
    assert main(["simulate", str(plan)]) == 2
    assert "needs --traffic" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[flow]]\nfrom = "Z"\nto = "C"\nsize_bytes = 1\n')
    assert main(["simulate", str(plan), "--traffic", str(bad)]) == 2
    assert "unknown node 'Z'" in capsys.readouterr().err
