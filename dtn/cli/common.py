"""Small helpers shared by the command modules."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Iterable

from dtn.errors import DtnError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_FACTORS_S = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(text: str) -> float:
    """'90' -> 90.0, '1h' -> 3600.0, '2.5m' -> 150.0, '500ms' -> 0.5."""
    match = _DURATION.match(str(text))
    if not match:
        raise DtnError(f"invalid duration {text!r} (examples: 90, 30s, 5m, 2h, 1d)")
    return float(match.group(1)) * _FACTORS_S[match.group(2)]


def add_parser(subparsers, name: str, *, help: str, example: str, **kwargs) -> argparse.ArgumentParser:
    """Add a sub-command whose --help ends with a runnable example."""
    return subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def read_input(path: str) -> bytes:
    """The bytes of a file, or of standard input for "-"."""
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def write_output(path: str, parts: Iterable[bytes | memoryview]) -> None:
    """Write buffers to a file, or to standard output for "-" (no joined copy of large payloads)."""
    if path == "-":
        for part in parts:
            sys.stdout.buffer.write(part)
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as handle:
        handle.writelines(parts)
