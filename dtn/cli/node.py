"""`dtn node run CONFIG` (run a router node) and `dtn node check CONFIG` (validate a config)."""

from __future__ import annotations

import json

from dtn.cli.common import add_parser


def register(subparsers) -> None:
    p = add_parser(
        subparsers, "node", help="run or check a DTN router node", example="dtn node run examples/node-a.toml"
    )
    sub = p.add_subparsers(dest="node_command", metavar="COMMAND")

    run_p = add_parser(
        sub, "run", help="run a node until SIGINT/SIGTERM (graceful stop)", example="dtn node run examples/node-a.toml"
    )
    run_p.add_argument("config", help="node TOML file (see docs/node.md)")
    run_p.add_argument("--quiet", action="store_true", help="do not print the ready line on stdout")
    run_p.add_argument(
        "--epoch",
        metavar="UNIX_S|ISO",
        help="plan epoch (overrides [plan] epoch): Unix seconds or ISO 8601 UTC, e.g. $(date +%%s)",
    )
    run_p.set_defaults(func=run)

    check_p = add_parser(
        sub,
        "check",
        help="validate a node config and its contact plan, print a summary",
        example="dtn node check examples/node-a.toml",
    )
    check_p.add_argument("config", help="node TOML file")
    check_p.add_argument("--json", action="store_true", help="print the summary as JSON")
    check_p.set_defaults(func=check)

    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def run(args) -> int:
    from dtn.node.runner import run_until_signal

    epoch_unix_s = None
    if getattr(args, "epoch", None) is not None:  # dtn.node.__main__ passes no --epoch
        from dtn.node.config import parse_config

        plan = parse_config({"node": {"id": "ipn:1.0"}, "plan": {"epoch": _epoch_arg(args.epoch)}}).plan
        epoch_unix_s = plan.epoch_unix_s
    return run_until_signal(args.config, quiet=args.quiet, epoch_unix_s=epoch_unix_s)


def _epoch_arg(text: str):
    """'1767225600' or '1767225600.5' -> a number (Unix seconds); anything else is passed on as ISO text."""
    try:
        return float(text)
    except ValueError:
        return text


def check(args) -> int:
    from dtn.node.config import load_config
    from dtn.node.plan import load_node_plan

    config = load_config(args.config)
    import time

    plan = load_node_plan(config, start_unix_s=time.time())
    summary = {
        "node_id": config.node_id,
        "dtn_id": config.dtn_id,
        "store": str(config.store.path) if config.store.path else "memory",
        "listen": [f"{item.cla}://{item.host}:{item.port}" for item in config.listen],
        "neighbours": {str(n): nb.address for n, nb in sorted(config.neighbours.items())},
        "agent": str(config.agent.socket) if config.agent.socket else config.agent.tcp,
        "plan_contacts": len(plan.contacts) if plan else 0,
        "plan_epoch": plan.epoch.isoformat() if plan else None,
        "echo_service": config.echo_service,
        "event_log": str(config.event_log) if config.event_log else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"node {config.node_id}: config OK", show_header=False)
    for key, value in summary.items():
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
    Console().print(table)
    return 0
