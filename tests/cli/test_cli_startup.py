"""The CLI imports only what the command needs: the lazy command table matches the modules, and the one-shot
commands never load the codec, Trio, rich or numpy (start-up time itself is measured in benchmarks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dtn.cli import COMMANDS, build_parser

HEAVY = ("trio", "rich", "cbor2", "numpy", "matplotlib", "dtn.bpv7", "dtn.node.node", "skyfield")


def _subcommands(parser):
    [action] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return action


def test_command_table_matches_what_modules_register():
    full = _subcommands(build_parser([], full=True))
    registered = {choice.dest: choice.help for choice in full._choices_actions}
    assert [name for name, _, _ in COMMANDS] == list(registered)
    assert {name: help_text for name, _, help_text in COMMANDS} == registered


def test_help_lists_every_command_without_importing_them():
    lazy = _subcommands(build_parser(["--help"]))
    assert [c.dest for c in lazy._choices_actions] == [name for name, _, _ in COMMANDS]


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["status", "--node", "/nonexistent/x.sock"],
        ["send", "--node", "/nonexistent/x.sock", "--to", "ipn:2.1", "--data", "x"],
    ],
)
def test_one_shot_commands_do_not_import_heavy_modules(argv):
    code = (
        "import sys\n"
        "from dtn.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}]\n"
        "print(heavy, file=sys.stderr)\n"
        "sys.exit(3 if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_rich_lives_only_in_the_cli():
    """UI at the edges: no pure package (nor dtn.twin's plots and reports) imports rich."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("contact_plans", "routing", "dtn/twin", "dtn/bpv7", "dtn/bpsec", "dtn/tcpcl", "dtn/archive"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(n.split(".")[0] == "rich" for n in names):
                    offenders.append(str(path.relative_to(root)))
    assert offenders == []
