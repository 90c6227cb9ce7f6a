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

# Command modules, in the order `dtn --help` lists them. A module that does not exist yet is skipped.
COMMAND_MODULES = (
    "demo",
    "bundle",
    "plan",
    "route",
    "store",
    "node",
    "agent",
    "replay",
    "sweep",
    "report",
    "archive",
)


class CliError(DtnError):
    """A usage problem found by a command after argument parsing."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dtn",
        description="spacedtn: delay-tolerant networking for space networks.",
        epilog="Run 'dtn demo' to see the space cloud scenario; 'dtn COMMAND --help' for each command.",
    )
    parser.add_argument("--version", action="version", version=f"spacedtn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dtn.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"dtn.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
