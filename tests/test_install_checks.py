"""The install checks of issue 14: tools/bundle-roundtrip.sh (run by tools/check-newest.sh after a bare
`pip install -e .`) passes with this environment's `dtn`, and the lower bounds file matches pyproject.toml."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bundle_cli_round_trip_script():
    env = dict(os.environ, DTN=f"{sys.executable} -m dtn", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        ["bash", str(ROOT / "tools" / "bundle-roundtrip.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundle round trip ok" in result.stdout


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def test_every_dependency_is_bounded_and_its_lower_bound_is_the_tested_one():
    lower = {}
    for line in (ROOT / "tools" / "lower-bounds.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            lower[name.strip().lower()] = version.strip()
    for requirement in _requirements():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+),<([0-9.]+)", requirement)
        assert match, f"{requirement}: needs a lower and an upper bound"
        name, low, _ = match.groups()
        assert lower.get(name.lower(), "").startswith(low), f"{name}: tools/lower-bounds.txt does not test {low}"


def test_constraints_pin_every_dependency():
    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for requirement in _requirements() + ["pyd3tn"]:
        name = re.split(r"[<>=]", requirement)[0].strip().lower().replace("_", "-")
        assert name in pinned, f"{name} is not pinned in constraints.txt"
