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
        "--node",
        default=os.environ.get("DTN_NODE"),
        metavar="SOCK",
        help="agent socket path or host:port (default: $DTN_NODE)",
    )
    p.add_argument(
        "--token-file",
        default=None,
        metavar="F",
        help="the node's agent token, for a host:port agent (default: $DTN_AGENT_TOKEN_FILE, else the file the "
        "node wrote for that address; docs/security.md)",
    )


def connect(args):
    """A SyncClient for `--node` (and `--token-file` on TCP)."""
    from dtn.client import SyncClient

    return SyncClient(_need_node(args), token_file=getattr(args, "token_file", None))


def quick_connect(args):
    """A blocking client for the one-shot commands (no Trio import: they start at once; docs/benchmarks.md)."""
    from dtn.cli.quickagent import QuickClient

    return QuickClient(_need_node(args), token_file=getattr(args, "token_file", None))


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "send",
        help="send a bundle through a running node",
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
        "--report",
        default="",
        metavar="KINDS",
        help=f"status reports to request, comma separated: {','.join(REPORT_KINDS)}",
    )
    p.add_argument("--report-to", metavar="EID", help="where status reports go (default: the source)")
    p.add_argument("--hop-limit", type=int, metavar="N", help="hop limit (1..255)")
    p.add_argument("--no-fragment", action="store_true", help="set MUST_NOT_FRAGMENT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_send)

    p = add_parser(
        subparsers,
        "recv",
        help="receive bundles for an endpoint into a directory",
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
        subparsers,
        "ping",
        help="echo requests to a node's echo service, printing round-trip times",
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
    with quick_connect(args) as client:
        result = client.send(
            args.to,
            payload,
            file=args.file,
            source=args.source,
            lifetime_s=lifetime_s,
            report=kinds,
            report_to=args.report_to,
            hop_limit=args.hop_limit,
            no_fragment=args.no_fragment,
        )
    if args.json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(f"sent {result.bundle} ({result.size_bytes} bytes) to {result.destination}")
        if result.note and result.next_hop is None and result.note.startswith("no route"):
            print(f"dtn: {result.note}", file=sys.stderr)
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
                    from dtn.cli.human import duration

                    print(f"dtn: no bundle for {args.endpoint} within {duration(timeout_s)}", file=sys.stderr)
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
                print(
                    json.dumps(
                        {
                            "bundle": delivery.bundle,
                            "source": delivery.source,
                            "file": str(path),
                            "size_bytes": len(delivery.payload),
                            "admin": delivery.admin,
                        }
                    ),
                    flush=True,
                )
            else:
                print(f"{delivery.bundle} from {delivery.source}: {len(delivery.payload)} bytes -> {path}", flush=True)
    return 0


def cmd_status(args) -> int:
    with quick_connect(args) as client:
        status = client.status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return 0
    print(status_text(status))
    return 0


def _bundles(n: int) -> str:
    return f"{n} bundle" if n == 1 else f"{n} bundles"


def status_text(status: dict) -> str:
    """`dtn status` for people: UTC and relative times, a unit on every number, at most 80 columns."""
    from dtn.cli.human import duration, relative, size, utc

    now_s = status["plan_now_s"]
    epoch = (status.get("plan") or {}).get("epoch_unix_s")
    lines = [f"node {status['node_id']}   up {duration(status['uptime_s'])}   {utc(status.get('unix_s'))}"]
    plan = status.get("plan") or {}
    lines.append(
        f"  plan         {plan.get('name') or '-'}: {plan.get('contacts', 0)} contacts from "
        f"{utc(epoch, seconds=False)} ({relative(-now_s)})"
    )
    limit = status.get("store_max_bytes")
    share = 100.0 * status["store_bytes"] / limit if limit else 0.0
    used = (f", {'<0.1' if 0 < share < 0.1 else f'{share:.1f}'} % of {size(limit)}") if limit else ""
    lines.append(f"  store        {_bundles(status['bundles'])}, {size(status['store_bytes'])}{used}")
    lines.append(f"  no route yet {_bundles(status['unassigned'])}")
    pending = status.get("pending_delivery") or {}
    lines.append("  to deliver   " + (", ".join(f"{k}: {_bundles(v)}" for k, v in pending.items()) or "none"))
    lines.append(f"  reports      {status.get('reports', 0)} status reports received")
    counts = status.get("events") or {}
    import textwrap

    lines.extend(
        textwrap.wrap(
            "  events       " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"),
            width=80,
            subsequent_indent=" " * 15,
        )
    )
    lines.append("")
    header = f"  {'neighbour':<10} {'session':<8} {'contact':<14} {'queued':>12}  next change"
    lines.append(header)
    for p in status.get("peers", []):
        contact = f"override {p['override']}" if p.get("override") else ("open" if p.get("planned_up") else "closed")
        nxt = p.get("next_change_s")
        if nxt is not None and nxt - now_s > 30 * 86400:  # the plan's far end: nothing planned
            nxt = None
        when = "none planned" if nxt is None else relative(nxt - now_s)
        if nxt is not None and epoch is not None:
            when += f" ({utc(epoch + nxt)[11:16]} UTC)"
        lines.append(
            f"  {('node ' + str(p['node'])):<10} {'up' if p.get('session') else 'down':<8} {contact:<14} "
            f"{_bundles(p.get('queued', 0)):>12}  {when}"
        )
        if p.get("address"):
            lines.append(f"  {'':<10} {p['address']}"[:80])
    if not status.get("peers"):
        lines.append("  (no neighbours)")
    import textwrap

    out: list[str] = []
    for line in lines:  # at most 80 columns: long lines wrap under their value column
        out.extend(textwrap.wrap(line, width=80, subsequent_indent=" " * 15) if len(line) > 80 else [line])
    return "\n".join(out)


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
            print(f"seq={seq} no reply within {timeout_s:g} s")
        else:
            print(f"seq={seq} time={rtt * 1000:.1f} ms")
    answered = [r for r in rtts if r is not None]
    loss = 100.0 * (len(rtts) - len(answered)) / len(rtts)
    line = f"{len(rtts)} sent, {len(answered)} received, {loss:.0f}% loss"
    if answered:
        line += (
            f", rtt min/avg/max = {min(answered) * 1000:.1f}/{sum(answered) / len(answered) * 1000:.1f}/"
            f"{max(answered) * 1000:.1f} ms"
        )
    print(line)
    return 0 if answered else 1
