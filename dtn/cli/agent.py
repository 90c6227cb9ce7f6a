"""Application commands over a node's agent socket: `dtn send`, `dtn recv`, `dtn status`, `dtn ping`.

Each is a top-level command. `--node` is the agent address (a Unix socket path, or host:port for the loopback
TCP socket); it defaults to the DTN_NODE environment variable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import sys

from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import ClientError, DtnError

REPORT_KINDS = ("reception", "forwarding", "delivery", "deletion")


def _node_arg(p) -> None:
    p.add_argument(
        "--node", default=os.environ.get("DTN_NODE"), metavar="SOCK",
        help="agent socket path or host:port (default: $DTN_NODE)",
    )
    p.add_argument(
        "--token-file", default=None, metavar="F",
        help="the node's agent token, for a host:port agent (default: $DTN_AGENT_TOKEN_FILE, else the file the "
             "node wrote for that address; docs/security.md)",
    )


def connect(args):
    """A SyncClient for `--node` (and `--token-file` on TCP)."""
    from dtn.client import SyncClient

    return SyncClient(_need_node(args), token_file=getattr(args, "token_file", None))


def register(subparsers) -> None:
    p = add_parser(
        subparsers, "send", help="send a bundle through a running node",
        example="dtn send --node /tmp/a.sock --to ipn:2.1 --file report.bin --lifetime 1h --report delivery",
    )
    _node_arg(p)
    p.add_argument("--to", required=True, metavar="EID", help="destination endpoint (ipn:N.S or dtn://node/x)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--file", metavar="F", help="payload file")
    src.add_argument("--data", metavar="TEXT", help="payload text (UTF-8)")
    p.add_argument("--from", dest="source", metavar="EID", help="source endpoint (default: the node ID)")
    p.add_argument("--lifetime", default=None, metavar="DURATION", help="bundle lifetime (e.g. 90, 30m, 2h)")
    p.add_argument(
        "--report", default="", metavar="KINDS",
        help=f"status reports to request, comma separated: {','.join(REPORT_KINDS)}",
    )
    p.add_argument("--report-to", metavar="EID", help="where status reports go (default: the source)")
    p.add_argument("--hop-limit", type=int, metavar="N", help="hop limit (1..255)")
    p.add_argument("--no-fragment", action="store_true", help="set MUST_NOT_FRAGMENT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_send)

    p = add_parser(
        subparsers, "recv", help="receive bundles for an endpoint into a directory",
        example="dtn recv --node /tmp/b.sock --endpoint ipn:2.1 --out inbox --count 1 --timeout 60",
    )
    _node_arg(p)
    p.add_argument("--endpoint", required=True, metavar="EID", help="endpoint to receive on (ipn:N.S of the node)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for payload files (created if missing)")
    p.add_argument("--count", type=int, default=0, metavar="N", help="stop after N bundles (default: run forever)")
    p.add_argument("--timeout", default=None, metavar="DURATION", help="give up after this long without a bundle")
    p.add_argument("--json", action="store_true", help="print one JSON line per bundle")
    p.set_defaults(func=cmd_recv)

    p = add_parser(subparsers, "status", help="show a running node's status", example="dtn status --node /tmp/a.sock")
    _node_arg(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_status)

    p = add_parser(
        subparsers, "ping", help="echo requests to a node's echo service, printing round-trip times",
        example="dtn ping --node /tmp/a.sock ipn:3.7 --count 3 --interval 1s",
    )
    _node_arg(p)
    p.add_argument("destination", metavar="EID", help="echo service endpoint, e.g. ipn:3.7")
    p.add_argument("--count", "-c", type=int, default=3, metavar="N", help="number of requests (default 3)")
    p.add_argument("--interval", "-i", default="1s", metavar="DURATION", help="time between requests (default 1s)")
    p.add_argument("--timeout", "-W", default="10s", metavar="DURATION", help="wait per reply (default 10s)")
    p.set_defaults(func=cmd_ping)


def _need_node(args) -> str:
    if not args.node:
        raise ClientError("no node given: pass --node SOCK or set DTN_NODE")
    return args.node


def cmd_send(args) -> int:
    _need_node(args)
    kinds = [k.strip() for k in args.report.split(",") if k.strip()]
    for kind in kinds:
        if kind not in REPORT_KINDS:
            raise DtnError(f"unknown report kind {kind!r} (one of {', '.join(REPORT_KINDS)})")
    if args.file is not None:
        payload = None
    elif args.data is not None:
        payload = args.data.encode("utf-8")
    else:
        if sys.stdin.isatty():
            raise DtnError("give --file F, --data TEXT, or pipe the payload on stdin")
        payload = sys.stdin.buffer.read()
    lifetime_s = parse_duration_s(args.lifetime) if args.lifetime else None
    with connect(args) as client:
        result = client.send(
            args.to, payload, file=args.file, source=args.source, lifetime_s=lifetime_s, report=kinds,
            report_to=args.report_to, hop_limit=args.hop_limit, no_fragment=args.no_fragment,
        )
    if args.json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(f"sent {result.bundle} ({result.size_bytes} bytes) to {result.destination}")
    return 0


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def payload_file_name(key: str) -> str:
    """A file name for a delivered bundle: its key with unsafe characters replaced ('ipn_1.0_7000_0.bin')."""
    return _UNSAFE.sub("_", key).strip("_") + ".bin"


def cmd_recv(args) -> int:
    _need_node(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timeout_s = parse_duration_s(args.timeout) if args.timeout else None
    received = 0
    with connect(args) as client:
        while not args.count or received < args.count:
            delivery = client.receive(args.endpoint, timeout_s=timeout_s if timeout_s is not None else 3600.0)
            if delivery is None:
                if timeout_s is not None:
                    print(f"dtn: no bundle for {args.endpoint} within {args.timeout}", file=sys.stderr)
                    return 1
                continue
            path = out / payload_file_name(delivery.bundle)
            tmp = path.with_name(path.name + ".part")
            with open(tmp, "wb") as handle:
                handle.write(delivery.payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            client.ack(delivery)  # only once the payload file is durable
            received += 1
            if args.json:
                print(json.dumps({"bundle": delivery.bundle, "source": delivery.source, "file": str(path),
                                  "size_bytes": len(delivery.payload), "admin": delivery.admin}), flush=True)
            else:
                print(f"{delivery.bundle} from {delivery.source}: {len(delivery.payload)} bytes -> {path}", flush=True)
    return 0


def cmd_status(args) -> int:
    with connect(args) as client:
        status = client.status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(title=f"node {status['node_id']}", show_header=False)
    summary.add_row("uptime", f"{status['uptime_s']:.1f} s")
    summary.add_row("plan time", f"{status['plan_now_s']:.1f} s ({status['plan']['contacts']} contacts)")
    summary.add_row("bundles stored", f"{status['bundles']} ({status['store_bytes']} bytes)")
    summary.add_row("waiting for a route", str(status["unassigned"]))
    pending = status.get("pending_delivery") or {}
    summary.add_row("awaiting delivery", ", ".join(f"{k}: {v}" for k, v in pending.items()) or "0")
    summary.add_row("status reports", str(status.get("reports", 0)))
    summary.add_row("events", ", ".join(f"{k}={v}" for k, v in status["events"].items()))
    console.print(summary)
    peers = Table(title="neighbours")
    for col in ("node", "address", "session", "planned", "override", "queued", "next change (plan s)"):
        peers.add_column(col)
    for p in status["peers"]:
        peers.add_row(
            str(p["node"]), p["address"] or "-", "up" if p["session"] else "down",
            "up" if p["planned_up"] else "-", p["override"] or "-", str(p["queued"]),
            "-" if p["next_change_s"] is None else f"{p['next_change_s']:.1f}",
        )
    console.print(peers)
    return 0


def cmd_ping(args) -> int:
    interval_s = parse_duration_s(args.interval)
    timeout_s = parse_duration_s(args.timeout)
    if args.count < 1:
        raise DtnError("--count must be at least 1")
    with connect(args) as client:
        print(f"PING {args.destination} from {client.node_id}", flush=True)
        rtts = client.ping(args.destination, count=args.count, interval_s=interval_s, timeout_s=timeout_s)
    for seq, rtt in enumerate(rtts):
        if rtt is None:
            print(f"seq={seq} no reply within {args.timeout}")
        else:
            print(f"seq={seq} time={rtt * 1000:.1f} ms")
    answered = [r for r in rtts if r is not None]
    loss = 100.0 * (len(rtts) - len(answered)) / len(rtts)
    line = f"{len(rtts)} sent, {len(answered)} received, {loss:.0f}% loss"
    if answered:
        line += (f", rtt min/avg/max = {min(answered) * 1000:.1f}/{sum(answered) / len(answered) * 1000:.1f}/"
                 f"{max(answered) * 1000:.1f} ms")
    print(line)
    return 0 if answered else 1
