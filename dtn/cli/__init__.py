"""The `dtn` command: a thin shell over the library.

Each command group lives in its own module in this package and exposes `register(subparsers)`, which adds
its parser and sets `func` (a callable taking the parsed namespace and returning an exit status). Any
`DtnError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dtn import __version__
from dtn.errors import DtnError

# Every top-level command, in the order `dtn --help` lists them: (command, module in this package, one-line help).
# Only the module of the command being run is imported, so `dtn --help`, `dtn --version`, `dtn status` and
# `dtn send` start without the codec, rich or numpy (docs/benchmarks.md, "CLI start-up").
# tests/cli/test_cli_startup.py checks this table against what each module registers.
COMMANDS = (
    ("demo", "demo", "run the space cloud demo: milsca in the digital twin, a 6 h ground outage, nothing lost"),
    ("bundle", "bundle", "create, show, validate, decode and encode BPv7 bundles"),
    ("plan", "plan", "Contact plans: generate from orbits, convert (ION, HDTN, JSON), show, plot."),
    ("route", "route", "contact graph routing: the best routes for a bundle from one node to another at a given time"),
    ("store", "store", "inspect and clean a node's bundle store"),
    ("node", "node", "run or check a DTN router node"),
    ("send", "agent", "send a bundle through a running node"),
    ("recv", "agent", "receive bundles for an endpoint into a directory"),
    ("status", "agent", "show a running node's status"),
    ("ping", "agent", "echo requests to a node's echo service, printing round-trip times"),
    ("simulate", "replay", "run a scenario or plan in the digital twin (virtual time)"),
    ("replay", "replay", "replay a scenario or plan with real node processes"),
    ("sweep", "sweep", "run many twin runs of a scenario on Dask; one table and plots"),
    ("report", "report", "print the report of a replay/simulation run directory and write plots + index.html"),
    ("archive", "archive", "the orbital archive: put, get, list and delete objects"),
    ("compute", "compute", "compute next to the data: submit jobs, follow them, get results"),
)
COMMAND_MODULES = tuple(dict.fromkeys(module for _, module, _ in COMMANDS))


class CliError(DtnError):
    """A usage problem found by a command after argument parsing."""


def _command_in(argv: list[str]) -> str | None:
    """The command named on the line (the first argument that is not an option), if it is one of ours."""
    names = {name for name, _, _ in COMMANDS}
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in names else None
    return None


def build_parser(argv: list[str] | None = None, *, full: bool = False) -> argparse.ArgumentParser:
    """The `dtn` parser. Only the module of the command in `argv` is imported (every module with `full`); the
    other commands get a placeholder that carries their help line."""
    parser = argparse.ArgumentParser(
        prog="dtn",
        description="spacedtn: delay-tolerant networking for space networks.",
        epilog="Run 'dtn demo' to see the space cloud scenario; 'dtn COMMAND --help' for each command.",
    )
    parser.add_argument("--version", action="version", version=f"spacedtn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_in(sys.argv[1:] if argv is None else argv)
    loaded: set[str] = set()
    for name, module_name, help_text in COMMANDS:
        if full or (wanted is not None and module_name == dict((n, m) for n, m, _ in COMMANDS)[wanted]):
            if module_name not in loaded:
                importlib.import_module(f"dtn.cli.{module_name}").register(subparsers)
                loaded.add(module_name)
        else:
            subparsers.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return call_command(args)


def call_command(args) -> int:
    """Run a parsed command: a DtnError or OSError becomes one line on stderr and exit status 2."""
    try:
        return int(args.func(args) or 0)
    except DtnError as exc:
        print(f"dtn: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dtn: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dtn: interrupted", file=sys.stderr)
        return 130
    except BaseExceptionGroup as group:  # from Trio nurseries: report what it holds, the same way
        interrupted, rest = group.split(KeyboardInterrupt)
        if rest is None:
            print("dtn: interrupted", file=sys.stderr)
            return 130
        ours, other = rest.split((DtnError, OSError))
        if other is None:
            print(f"dtn: error: {_leaves(ours)[0]}", file=sys.stderr)
            return 2
        raise


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def run() -> None:
    sys.exit(main())
