"""`python -m dtn.node run CONFIG`: the same as `dtn node run CONFIG`, without loading the other commands.

`dtn.twin.runner.process` starts nodes this way, so a node process depends only on the node's own imports (not
on `dtn.cli`: the command line imports the node, never the other way round).
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from dtn.errors import DtnError
    from dtn.node.runner import check_summary, run_until_signal

    parser = argparse.ArgumentParser(prog="python -m dtn.node", description="run or check a DTN router node")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_p = sub.add_parser("run", help="run a node until SIGINT/SIGTERM")
    run_p.add_argument("config")
    run_p.add_argument("--quiet", action="store_true")
    check_p = sub.add_parser("check", help="validate a node config (prints a JSON summary)")
    check_p.add_argument("config")
    check_p.add_argument("--json", action="store_true", help="accepted for symmetry with `dtn node check`")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run_until_signal(args.config, quiet=args.quiet)
        print(json.dumps(check_summary(args.config), indent=2))
        return 0
    except DtnError as exc:
        print(f"dtn: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dtn: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dtn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
