"""The twin is deterministic by its own design (issue 14, docs/replay.md): the default `dtn demo` scenario,
shortened, run twice in one process gives byte-identical output files (events, sends, links, meta, archive,
report, plots' data, page), shutdown included. Trio's scheduler is not seeded."""

from __future__ import annotations

import pathlib

from dtn.cli import main


def _files(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_demo_twice_gives_identical_files(tmp_path, capsys):
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        assert main(["demo", "--duration", "2h", "--bundles", "30", "--out", str(out)]) == 0
        runs.append(_files(out))
    capsys.readouterr()
    first, second = runs
    assert sorted(first) == sorted(second)
    assert any(name.endswith("events.jsonl") for name in first)
    different = [name for name in first if first[name] != second[name]]
    assert different == []
