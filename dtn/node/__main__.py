"""`python -m dtn.node run CONFIG`: the same as `dtn node run CONFIG`, without loading the other commands.

`dtn.node.process` starts nodes this way, so a node process depends only on the node's own imports.
"""

from __future__ import annotations

import argparse
import sys



def main(argv: list[str] | None = None) -> int:
    from dtn.cli import call_command
    from dtn.cli import node as node_cli

    parser = argparse.ArgumentParser(prog="python -m dtn.node", description="run or check a DTN router node")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_p = sub.add_parser("run", help="run a node until SIGINT/SIGTERM")
    run_p.add_argument("config")
    run_p.add_argument("--quiet", action="store_true")
    run_p.set_defaults(func=node_cli.run)
    check_p = sub.add_parser("check", help="validate a node config")
    check_p.add_argument("config")
    check_p.add_argument("--json", action="store_true")
    check_p.set_defaults(func=node_cli.check)
    args = parser.parse_args(argv)
    return call_command(args)

if __name__ == "__main__":
    sys.exit(main())
