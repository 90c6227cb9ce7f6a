"""`dtn sweep`: grid expansion and seeds, one run in the twin, and whole sweeps on a 2-worker LocalCluster
(worker processes on 127.0.0.1) with short runs of a four-node plan."""

import json

import pytest

from contact_plans.formats import save_plan
from contact_plans.model import Contact, ContactPlan, Node, NodeKind
from dtn.cli import main
from dtn.cli.sweep import parse_int_list
from dtn.errors import ScenarioError
from dtn.sweep.runner import run_one
from dtn.sweep.spec import COLUMNS, SweepSpec, expand, run_seed

GROUND, SAT = NodeKind.GROUND, NodeKind.SATELLITE


def _both(a, b, start_s, end_s, rate=1e5):
    return [Contact(a, b, start_s, end_s, rate, 0.01), Contact(b, a, start_s, end_s, rate, 0.01)]


@pytest.fixture
def plan_files(tmp_path):
    """Ground A sends to ground C through satellites B (early) or D (later)."""
    plan = ContactPlan(
        nodes=[Node(1, "A", GROUND), Node(2, "B", SAT), Node(3, "C", GROUND), Node(4, "D", SAT)],
        contacts=_both(1, 2, 0, 900) + _both(2, 3, 1200, 2400) + _both(1, 4, 0, 3600) + _both(4, 3, 1800, 3000),
        name="four",
    )
    plan_path = tmp_path / "four.json"
    save_plan(plan, plan_path, "json")
    traffic = tmp_path / "traffic.toml"
    traffic.write_text(
        'seed = 3\n[[flow]]\nname = "a-to-c"\nfrom = "A"\nto = "C"\nsize_bytes = 2000\ncount = 6\n'
        "start_s = 60\nend_s = 420\nlifetime_s = 7200\n"
    )
    return plan_path, traffic


def _spec(plan_path, traffic, **kw):
    base = dict(scenario=str(plan_path), duration_s=3600.0, traffic=str(traffic), failed_satellites=(0, 1), seed=5)
    base.update(kw)
    return SweepSpec(**base)


def test_expand_ids_and_seeds_are_stable(plan_files):
    spec = _spec(*plan_files, station_outages=(0, 1), rate_scales=(0.5, 1.0), repeats=2)
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 2 * 2
    assert len({r.run_id for r in runs}) == len(runs)
    assert all(r.seed == run_seed(5, r.run_id) for r in runs)
    # Growing the grid keeps the seeds of the runs already there.
    grown = {
        r.run_id: r.seed
        for r in expand(
            _spec(*plan_files, failed_satellites=(0, 1, 2), station_outages=(0, 1), rate_scales=(0.5, 1.0), repeats=2)
        )
    }
    assert all(grown[r.run_id] == r.seed for r in runs)
    assert run_seed(6, runs[0].run_id) != runs[0].seed


def test_bad_specs_are_typed_errors(plan_files):
    for kw in (
        {"failed_satellites": (-1,)},
        {"rate_scales": (0.0,)},
        {"repeats": 0},
        {"duration_s": 0.0},
        {"replicas": (0,)},
        {"traffic_seeds": ()},
    ):
        with pytest.raises(ScenarioError):
            _spec(*plan_files, **kw)
    assert parse_int_list("0..4:2,7", "x") == (0, 2, 4, 7)
    for bad in ("a", "3..1", "0..4:0", ""):
        with pytest.raises(ScenarioError):
            parse_int_list(bad, "x")


def test_one_run_is_reproducible_and_counts_failures(plan_files):
    spec = _spec(*plan_files, failed_satellites=(2,))
    run = expand(spec)[0]
    row = run_one(run)
    assert set(COLUMNS) <= set(row)
    assert row["sent"] == 6 and row["failed_satellites"] == 2
    again = run_one(run)
    assert {k: again[k] for k in COLUMNS} == {k: row[k] for k in COLUMNS}
    with pytest.raises(ScenarioError, match="failed satellites"):
        run_one(expand(_spec(*plan_files, failed_satellites=(3,)))[0])


def test_sweep_on_two_workers_same_seed_same_table_and_resumes(plan_files, tmp_path, capsys):
    plan_path, traffic = plan_files
    args = [
        "sweep",
        str(plan_path),
        "--traffic",
        str(traffic),
        "--duration",
        "1h",
        "--failures",
        "0..1",
        "--seed",
        "5",
        "--workers",
        "2",
    ]
    out1, out2 = tmp_path / "s1", tmp_path / "s2"
    assert main(args + ["--out", str(out1)]) == 0
    assert "2 runs" in capsys.readouterr().out
    # The same sweep again on an existing cluster (its scheduler on 127.0.0.1), given by address.
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert main(args + ["--out", str(out2), "--no-plots", "--scheduler", cluster.scheduler_address]) == 0
    table = (out1 / "results.csv").read_text()
    assert table == (out2 / "results.csv").read_text()
    lines = table.splitlines()
    assert lines[0].split(",") == list(COLUMNS) and len(lines) == 3
    assert (out1 / "sweep_delivery.png").stat().st_size > 0
    # Interrupted sweep: one run's result is missing; only that one runs again, the table comes out the same.
    runs = sorted((out2 / "runs").glob("*.json"))
    kept = runs[0].stat().st_mtime_ns
    runs[1].unlink()
    assert main(args + ["--out", str(out2), "--no-plots"]) == 0
    assert runs[0].stat().st_mtime_ns == kept and runs[1].exists()
    assert (out2 / "results.csv").read_text() == table
    row = json.loads(runs[1].read_text())
    assert row["sent"] == 6


def test_cli_errors_are_one_line(plan_files, tmp_path, capsys):
    plan_path, traffic = plan_files
    assert main(["sweep", str(plan_path), "--traffic", str(traffic), "--failures", "x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dtn: error:") and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "sweep",
                str(plan_path),
                "--traffic",
                str(traffic),
                "--duration",
                "1h",
                "--out",
                str(tmp_path / "o"),
                "--no-plots",
                "--workers",
                "1",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    # The same directory with another sweep seed is refused rather than mixed.
    assert (
        main(
            [
                "sweep",
                str(plan_path),
                "--traffic",
                str(traffic),
                "--duration",
                "1h",
                "--out",
                str(tmp_path / "o"),
                "--seed",
                "2",
            ]
        )
        == 2
    )
    assert "different sweep" in capsys.readouterr().err


def test_unreachable_scheduler_is_a_typed_error(plan_files, tmp_path):
    from dtn.sweep.cluster import SweepError, run_sweep

    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        run_sweep(_spec(*plan_files), tmp_path / "s", scheduler="tcp://127.0.0.1:1", connect_timeout_s=1.0)
