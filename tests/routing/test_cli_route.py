"""`dtn route`: a real process on a real plan file, and the error paths (one line on stderr, exit 2)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from contact_plans.formats import save_plan
from contact_plans.model import Contact, ContactPlan, Node
from dtn.cli import main
from dtn.cli.route import parse_size_bytes


@pytest.fixture
def plan_file(tmp_path):
    plan = ContactPlan(
        nodes=[Node(1, "ground"), Node(2, "relay"), Node(3, "target")],
        contacts=[
            Contact(1, 2, 0, 100, 1000, 0.5),
            Contact(2, 3, 10, 100, 1000, 0.25),
            Contact(1, 3, 200, 300, 1000, 0.0),
        ],
        name="tiny",
    )
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    return path


def test_route_process_json(plan_file):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dtn",
            "route",
            str(plan_file),
            "--from",
            "ground",
            "--to",
            "3",
            "--at",
            "5",
            "--size",
            "1kB",
            "--k",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["nodes"] for r in doc["routes"]] == [[1, 2, 3], [1, 3]]
    assert doc["routes"][0]["arrival_s"] == 11.25 and doc["size_bytes"] == 1000
    assert doc["routes"][0]["hops"][0]["departure_s"] == 5


def test_route_table_critical_and_gzip(plan_file, tmp_path, capsys):
    gz = tmp_path / "plan.json.gz"
    gz.write_bytes(gzip.compress(plan_file.read_bytes()))
    assert main(["route", str(gz), "--from", "1", "--to", "target", "--critical"]) == 0
    out = capsys.readouterr().out
    assert "1 > 2 > 3" in out and "1 > 3" in out
    assert main(["route", str(plan_file), "--from", "1", "--to", "3", "--exclude", "relay", "--at", "350"]) == 1
    assert "no route" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "1", "--to", "9"], "unknown destination node 9"),
        (["--from", "nobody", "--to", "3"], "unknown node 'nobody'"),
        (["--from", "1", "--to", "3", "--size", "lots"], "invalid size"),
        (["--from", "1", "--to", "3", "--at", "soon"], "invalid duration"),
        (["--from", "1", "--to", "3", "--k", "0"], "k must be"),
        (["--from", "1", "--to", "1"], "same node"),
    ],
)
def test_route_errors(plan_file, capsys, args, message):
    assert main(["route", str(plan_file), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_route_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    assert main(["route", str(bad), "--from", "1", "--to", "2"]) == 2
    assert capsys.readouterr().err.startswith("dtn: error:")
    junk = tmp_path / "junk.json.gz"
    junk.write_bytes(b"not gzip at all")
    assert main(["route", str(junk), "--from", "1", "--to", "2"]) == 2
    assert "gzip" in capsys.readouterr().err


def test_sizes():
    assert parse_size_bytes("1500") == 1500
    assert parse_size_bytes("64kB") == 64_000
    assert parse_size_bytes("1MiB") == 1_048_576
