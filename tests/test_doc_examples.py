"""Every example in README.md and docs/*.md runs as written, each in under a minute.

Runnable examples are the fenced blocks tagged `sh`, `bash` or `python`. The blocks of one document run in
order in one scratch directory (so a later block may use a file an earlier one wrote) that holds links to the
repository's top-level folders, so paths such as `examples/node-a.toml` work as in a checkout. A block that
cannot run on its own says why on the line before it: `<!-- example: not run: REASON -->` (the test lists it
as skipped with that reason).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}
SKIP = re.compile(r"<!--\s*example:\s*not run:\s*(.*?)\s*-->")
LIMIT_S = 60.0


def examples(path: pathlib.Path) -> list[tuple[int, str, str, str | None]]:
    """(line, kind, code, skip reason) of each runnable block of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        kind = RUNNABLE.get(m.group(1))
        if kind:
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            skip = SKIP.search(before)
            out.append((i + 1, kind, "\n".join(lines[i + 1 : j]) + "\n", skip.group(1) if skip else None))
        i = j + 1
    return out


def _cases():
    for path in DOCS:
        for line, kind, code, skip in examples(path):
            marks = [pytest.mark.skip(reason=skip)] if skip else []
            yield pytest.param(path, line, kind, code, id=f"{path.relative_to(ROOT)}:{line}", marks=marks)


_SCRATCH: dict[pathlib.Path, pathlib.Path] = {}


def _scratch(doc: pathlib.Path) -> pathlib.Path:
    """One scratch directory per document, with links to the repository's folders."""
    if doc not in _SCRATCH:
        where = pathlib.Path(tempfile.mkdtemp(prefix="dtn-doc-", dir="/tmp"))
        for entry in ROOT.iterdir():
            if entry.is_dir() and not entry.name.startswith("."):
                (where / entry.name).symlink_to(entry)
        _SCRATCH[doc] = where
    return _SCRATCH[doc]


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    for where in _SCRATCH.values():
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("doc, line, kind, code", list(_cases()))
def test_example_runs(doc, line, kind, code):
    cwd = _scratch(doc)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if kind == "sh":
        argv = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"{doc.name}:{line} did not finish within {LIMIT_S:g} s\n{stdout}\n{stderr}")
    finally:
        _stop_group(proc)  # whatever the example left running in the background (nodes it started)
    assert proc.returncode == 0, (
        f"{doc.name}:{line} exited {proc.returncode}\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    )


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the example's process group (its own session), then SIGKILL what is left after 10 s."""
    import signal
    import time

    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
