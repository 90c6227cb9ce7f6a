"""`dtn plan`: generate, convert, show, plot, scenarios; errors are one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contact_plans.formats import load_plan
from dtn.cli import main


def test_generate_convert_show_plot(tmp_path, shared_data, capsys):
    out = tmp_path / "p.json"
    rc = main(
        [
            "plan",
            "generate",
            "--tle",
            str(shared_data / "tle" / "iridium-next_2026-01-03.txt"),
            "--stations",
            str(shared_data / "ground_stations.csv"),
            "--station",
            "Fucino",
            "--station",
            "Matera",
            "--start",
            "2026-01-03T00:00:00Z",
            "--duration",
            "2h",
            "--isl",
            "neighbours",
            "-o",
            str(out),
        ]
    )
    assert rc == 0 and "contacts" in capsys.readouterr().out
    plan = load_plan(out)
    assert plan.node(1).name == "Fucino" and plan.link_type_counts()["satellite-satellite"] > 0
    assert main(["plan", "convert", str(out), "--to", "ion", "-o", str(tmp_path / "p.ionrc")]) == 0
    assert (
        main(["plan", "convert", str(tmp_path / "p.ionrc"), "--to", "hdtn", "-o", str(tmp_path / "p.hdtn.json")]) == 0
    )
    hdtn = load_plan(tmp_path / "p.hdtn.json")
    assert len(hdtn.contacts) <= len(plan.contacts) and hdtn.node(1).name == "Fucino"
    assert main(["plan", "convert", str(out), "--to", "json", "--exact", "-o", str(tmp_path / "q.json")]) == 0
    assert load_plan(tmp_path / "q.json").contacts == plan.contacts
    capsys.readouterr()
    assert main(["plan", "show", str(tmp_path / "p.ionrc")]) == 0
    shown = capsys.readouterr().out
    assert "ground-satellite" in shown and "satellite-satellite" in shown and "volume GB" in shown
    assert main(["plan", "plot", str(out), "-o", str(tmp_path / "g.png"), "--max-links", "10"]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plan", "scenarios"]) == 0 and "milsca" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plan", "generate", "atlantis", "-o", "x.json"], "unknown scenario"),
        (["plan", "generate", "--tle", "missing.tle", "--start", "2026-01-03", "-o", "x.json"], "missing.tle"),
        (["plan", "generate", "milsca", "--duration", "soon", "-o", "x.json"], "invalid duration"),
        (["plan", "show", "BROKEN"], "BROKEN:3: "),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BROKEN").write_text("# plan\n\na contact +0 +10 1 2\n")
    proc = subprocess.run([sys.executable, "-m", "dtn", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_help_has_examples():
    proc = subprocess.run(
        [sys.executable, "-m", "dtn", "plan", "generate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "example:" in proc.stdout
