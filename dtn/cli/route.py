"""`dtn route PLAN --from N --to M --at T --size B [--k 5] [--json]`: the best routes for one bundle."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import pathlib
import re

from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import DtnError, PlanFormatError, RoutingError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {
    None: 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
MAX_GZIP_PLAN_BYTES = 256 * 1024 * 1024


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "route",
        help="contact graph routing: the best routes for a bundle from one node to another at a given time",
        example="dtn route plan.json --from 1 --to 105 --at 2h --size 100kB --k 5",
    )
    p.add_argument("plan", help="contact plan file (native JSON, ION or HDTN; .gz is read too)")
    p.add_argument("--from", dest="source", required=True, help="source node: ipn number or node name")
    p.add_argument("--to", dest="destination", required=True, help="destination node: ipn number or node name")
    p.add_argument(
        "--at",
        default="0",
        help="when the bundle is ready: seconds after the plan epoch (90, 30s, 5m, 2h) or a UTC time "
        "(2026-01-03T01:00:00Z); default 0",
    )
    p.add_argument("--size", default="1", help="bundle size in bytes (1500, 64kB, 10MB, 1MiB); default 1")
    p.add_argument("--k", type=int, default=5, help="number of alternative routes (Yen); default 5")
    p.add_argument(
        "--exclude", action="append", default=[], metavar="NODE", help="a node the routes must avoid (repeatable)"
    )
    p.add_argument(
        "--critical",
        action="store_true",
        help="the forwarding decision for a critical bundle: the best route "
        "through each distinct first hop (ignores --k)",
    )
    p.add_argument("--json", action="store_true", help="print the routes as JSON")
    p.set_defaults(func=run)


def load_plan_file(path: str):
    """Read a plan with `contact_plans.formats`; a `.gz` file is decompressed first (bounded)."""
    from contact_plans.formats import load_plan, loads_plan

    p = pathlib.Path(path)
    if p.suffix != ".gz":
        return load_plan(p)
    with gzip.open(p, "rb") as fh:
        try:
            raw = fh.read(MAX_GZIP_PLAN_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise PlanFormatError(f"not a readable gzip file ({exc})", str(p)) from None
    if len(raw) > MAX_GZIP_PLAN_BYTES:
        raise PlanFormatError(f"decompressed plan larger than {MAX_GZIP_PLAN_BYTES} bytes", str(p))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanFormatError("not UTF-8 text", str(p)) from None
    return loads_plan(text, source=str(p))


def parse_size_bytes(text: str) -> int:
    """'1500' -> 1500, '64kB' -> 64000, '1MiB' -> 1048576."""
    match = _SIZE.match(str(text))
    if not match:
        raise DtnError(f"invalid size {text!r} (examples: 1500, 64kB, 10MB, 1MiB)")
    unit = match.group(2).lower() if match.group(2) else None
    return int(float(match.group(1)) * _SIZE_FACTORS[unit])


def parse_node(plan, text: str) -> int:
    """A node by ipn number or by name."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    try:
        return plan.node_by_name(text).number
    except DtnError:
        raise RoutingError(f"unknown node {text!r} (give an ipn node number or a node name)") from None


def parse_at_s(plan, text: str) -> float:
    """Seconds after the plan epoch, from a duration ('2h') or an ISO 8601 UTC time."""
    text = str(text).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise DtnError(f"invalid time {text!r} (example: 2026-01-03T01:00:00Z)") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return (when - plan.epoch).total_seconds()
    if text.startswith("-"):
        return -parse_duration_s(text[1:])
    return parse_duration_s(text)


def run(args) -> int:
    from routing import Router

    plan = load_plan_file(args.plan)
    source = parse_node(plan, args.source)
    destination = parse_node(plan, args.destination)
    excluded = frozenset(parse_node(plan, x) for x in args.exclude)
    at_s = parse_at_s(plan, args.at)
    size = parse_size_bytes(args.size)
    router = Router(plan)
    if args.critical:
        routes = router.decide(source, destination, at_s, size, excluded=excluded, critical=True)
    else:
        routes = router.routes(source, destination, at_s, size, k=args.k, excluded=excluded)
    names = {n.number: n.name for n in plan.nodes}
    if args.json:
        out = {
            "plan": plan.name,
            "epoch_utc": plan.epoch.isoformat().replace("+00:00", "Z"),
            "from": source,
            "to": destination,
            "at_s": at_s,
            "size_bytes": size,
            "excluded": sorted(excluded),
            "routes": [{**r.to_dict(), "arrival_utc": _utc(plan, r.arrival_s)} for r in routes],
        }
        print(json.dumps(out, indent=2))
        return 0 if routes else 1
    _render(plan, names, source, destination, at_s, size, routes)
    return 0 if routes else 1


def _utc(plan, t_s: float) -> str:
    return (plan.epoch + dt.timedelta(seconds=t_s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _label(names: dict[int, str], node: int) -> str:
    name = names.get(node)
    return f"{node} ({name})" if name and name != f"node{node}" else str(node)


def _render(plan, names, source, destination, at_s, size, routes) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = (
        f"routes {_label(names, source)} -> {_label(names, destination)}, "
        f"{size} bytes at t={at_s:g} s ({_utc(plan, at_s)})"
    )
    if not routes:
        console.print(f"{title}: no route")
        return
    table = Table(title=title)
    for column in ("#", "arrival s", "delay s", "hops", "send by s", "volume B", "path"):
        table.add_column(column, justify="left" if column == "path" else "right", no_wrap=column != "path")
    for i, r in enumerate(routes, 1):
        table.add_row(
            str(i),
            f"{r.arrival_s:.3f}",
            f"{r.arrival_s - at_s:.3f}",
            str(r.hop_count),
            f"{r.best_before_s:.3f}",
            f"{r.volume_bytes:.3g}",
            " > ".join(str(n) for n in r.nodes),
        )
    console.print(table)
    best = routes[0]
    console.print(
        f"best: next hop {_label(names, best.next_hop)}, first hop sent at {best.departures_s[0]:.3f} s, "
        f"delivered {_utc(plan, best.arrival_s)}"
    )
