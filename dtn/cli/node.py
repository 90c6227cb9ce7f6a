"""`dtn node run CONFIG` (run a router node) and `dtn node check CONFIG` (validate a config)."""

from __future__ import annotations

import json

from dtn.cli.common import add_parser


def register(subparsers) -> None:
    p = add_parser(subparsers, "node", help="run or check a DTN router node", example="dtn node run examples/node-a.toml")
    sub = p.add_subparsers(dest="node_command", metavar="COMMAND")

    run_p = add_parser(
        sub, "run", help="run a node until SIGINT/SIGTERM (graceful stop)", example="dtn node run examples/node-a.toml"
    )
    run_p.add_argument("config", help="node TOML file (see docs/node.md)")
    run_p.add_argument("--quiet", action="store_true", help="do not print the ready line on stdout")
    run_p.set_defaults(func=run)

    check_p = add_parser(
        sub, "check", help="validate a node config and its contact plan, print a summary",
        example="dtn node check examples/node-a.toml",
    )
    check_p.add_argument("config", help="node TOML file")
    check_p.add_argument("--json", action="store_true", help="print the summary as JSON")
    check_p.set_defaults(func=check)

    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def run(args) -> int:
    from dtn.node.runner import run_until_signal

    return run_until_signal(args.config, quiet=args.quiet)


def check(args) -> int:
    from dtn.node.runner import check_summary

    summary = check_summary(args.config)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"node {summary['node_id']}: config OK", show_header=False)
    for key, value in summary.items():
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
    Console().print(table)
    return 0
