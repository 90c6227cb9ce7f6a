"""The linters and the type checker configured in pyproject.toml pass on the tree (issue 14).

`ruff check` (rules in [tool.ruff.lint]), `ruff format --check`, and mypy (gradual: [tool.mypy] and its baseline
of modules not yet typed). They are part of the `dev` extra; each runs from the repository root as a real
process, so the test sees exactly what a developer or CI sees.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    """The tool next to this Python (the venv's), else on PATH; missing is a failure under CI."""
    beside = pathlib.Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_check():
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check():
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_mypy():
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
