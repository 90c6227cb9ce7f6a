"""`dtn plan`: generate, convert, show and plot contact plans."""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys

from dtn.cli import common
from dtn.errors import PlanError


def register(subparsers) -> None:
    parser = common.add_parser(
        subparsers,
        "plan",
        help="Contact plans: generate from orbits, convert (ION, HDTN, JSON), show, plot.",
        example="dtn plan generate milsca -o milsca.json && dtn plan show milsca.json",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    gen = common.add_parser(
        verbs,
        "generate",
        help="Compute a contact plan from a scenario or from TLEs and ground stations.",
        example="dtn plan generate --tle contact_plans/scenarios/data/iridium-next_2026-01-03.txt \\\n"
        "      --stations contact_plans/scenarios/data/ground_stations.csv --baseline-only \\\n"
        "      --start 2026-01-03T00:00:00Z --duration 6h --isl neighbours -o plan.json\n"
        "  (paths from the repository root; or simply: dtn plan generate milsca --duration 6h -o plan.json)",
    )
    gen.add_argument("scenario", nargs="?", help="a scenario name (see 'dtn plan scenarios'); or use --tle")
    gen.add_argument("--tle", action="append", metavar="FILE", help="TLE file (three-line sets); repeatable")
    gen.add_argument(
        "--stations",
        metavar="CSV",
        help="ground stations CSV (name, network, lat_deg, lon_deg, alt_m, in_baseline[, mask_deg])",
    )
    gen.add_argument("--station", action="append", metavar="NAME", help="use only these stations; repeatable")
    gen.add_argument("--baseline-only", action="store_true", help="use only stations with in_baseline = 1")
    gen.add_argument(
        "--start", metavar="ISO", help="UTC start, e.g. 2026-01-03T00:00:00Z (scenario default if omitted)"
    )
    gen.add_argument("--duration", metavar="DUR", help="e.g. 24h, 90m, 3600 (default 24h)")
    gen.add_argument("--mask-deg", type=float, default=10.0, help="station elevation mask, deg (default 10)")
    gen.add_argument(
        "--isl",
        choices=("none", "neighbours", "range"),
        default="none",
        help="inter-satellite links with --tle: none, 4 neighbours (Iridium style) or all in range",
    )
    gen.add_argument("--isl-max-range-km", type=float, default=5000.0, help="ISL maximum range (default 5000)")
    gen.add_argument(
        "--isl-margin-km",
        type=float,
        default=80.0,
        help="ISL line of sight must clear the Earth by this much (default 80)",
    )
    gen.add_argument("--step", type=float, default=30.0, metavar="S", help="time grid step in seconds (default 30)")
    gen.add_argument("-o", "--output", required=True, metavar="FILE", help="plan file to write")
    gen.add_argument(
        "--format",
        choices=("json", "ion", "hdtn"),
        default=None,
        help="output format (default: from the file name: .ionrc/.rc/.ion -> ion, .hdtn.json -> hdtn, else json)",
    )
    gen.add_argument(
        "--exact",
        action="store_true",
        help="ION/HDTN: write exact decimals instead of whole seconds (only spacedtn reads them)",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    conv = common.add_parser(
        verbs,
        "convert",
        help="Convert a plan between native JSON, ION commands and HDTN JSON.",
        example="dtn plan convert plan.json --to ion -o plan.ionrc",
    )
    conv.add_argument("input", metavar="IN", help="plan file (format detected from the content)")
    conv.add_argument("--to", required=True, choices=("json", "ion", "hdtn"), help="output format")
    conv.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write ('-' for stdout)")
    conv.add_argument(
        "--exact",
        action="store_true",
        help="ION/HDTN: exact decimals instead of whole seconds (lossless; ION/HDTN parse integers)",
    )
    conv.add_argument("--absolute-times", action="store_true", help="ION: yyyy/mm/dd-hh:mm:ss instead of +seconds")
    conv.add_argument("--epoch", metavar="ISO", help="epoch for ION/HDTN input that carries none")
    conv.set_defaults(func=_convert)

    show = common.add_parser(
        verbs,
        "show",
        help="Summarise a plan: nodes, contacts, per-link-type counts, durations and volume.",
        example="dtn plan show plan.json",
    )
    show.add_argument("plan", metavar="PLAN", help="plan file (any format)")
    show.add_argument("--nodes", action="store_true", help="also list every node")
    show.set_defaults(func=_show)

    plot = common.add_parser(
        verbs,
        "plot",
        help="Draw a plan's timeline (Gantt chart, one row per link) to an image.",
        example="dtn plan plot plan.json -o gantt.png",
    )
    plot.add_argument("plan", metavar="PLAN", help="plan file (any format)")
    plot.add_argument("-o", "--output", required=True, metavar="PNG", help="image file (.png, .svg, .pdf)")
    plot.add_argument("--max-links", type=int, default=60, help="draw at most this many links (default 60)")
    plot.add_argument("--node", action="append", metavar="NAME|NUMBER", help="only links touching these nodes")
    plot.set_defaults(func=_plot)

    scen = common.add_parser(verbs, "scenarios", help="List the built-in scenarios.", example="dtn plan scenarios")
    scen.set_defaults(func=_scenarios)


# -- helpers ----------------------------------------------------------------------------------------------------
def _fmt_for(path: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    name = path.lower()
    if name.endswith(".hdtn.json") or name.endswith(".hdtn"):
        return "hdtn"
    if name.endswith((".ionrc", ".rc", ".ion", ".ionadmin")):
        return "ion"
    return "json"


def _write(plan, output: str, fmt: str, *, exact: bool, absolute_times: bool = False) -> None:
    from contact_plans.formats import dumps_plan, save_plan

    if output == "-":
        sys.stdout.write(dumps_plan(plan, fmt, whole_seconds=not exact, absolute_times=absolute_times))
        return
    save_plan(plan, output, fmt, whole_seconds=not exact, absolute_times=absolute_times)


def _generate(args: argparse.Namespace) -> int:
    import contextlib

    from contact_plans.orbits import parse_utc
    from dtn.cli.progress import StageProgress

    duration_s = common.parse_duration_s(args.duration) if args.duration else None
    if duration_s is not None and duration_s <= 0:
        raise PlanError("--duration must be positive")
    start = parse_utc(args.start) if args.start else None
    bar = StageProgress() if (not args.quiet and sys.stderr.isatty()) else None
    with bar or contextlib.nullcontext():
        return _generate_with(args, start, duration_s, bar)


def _generate_with(args: argparse.Namespace, start, duration_s, progress) -> int:
    from contact_plans.generate import IslRule, PlanSpec, generate_plan
    from contact_plans.scenarios import build_plan, scenario
    from contact_plans.orbits import load_ground_stations, load_tle

    if args.scenario and args.tle:
        raise PlanError("give a scenario name or --tle files, not both")
    if args.scenario:
        scenario(args.scenario)  # unknown names fail before any work
        plan = build_plan(args.scenario, start=start, duration_s=duration_s, progress=progress)
    else:
        if not args.tle:
            raise PlanError("give a scenario name (dtn plan scenarios) or --tle FILE")
        if start is None:
            raise PlanError("--start is required with --tle (pick a time near the TLE epochs)")
        sats = [s for path in args.tle for s in load_tle(path)]
        stations = []
        if args.stations:
            stations = load_ground_stations(
                args.stations, mask_deg=args.mask_deg, names=args.station, baseline_only=args.baseline_only
            )
        elif args.station:
            raise PlanError("--station needs --stations CSV")
        isl = (
            ()
            if args.isl == "none"
            else (
                IslRule(
                    ("default", "default"),
                    policy=args.isl,
                    max_range_km=args.isl_max_range_km,
                    margin_km=args.isl_margin_km,
                ),
            )
        )
        spec = PlanSpec(
            start=start,
            duration_s=duration_s or 86400.0,
            satellites=tuple(sats),
            stations=tuple(stations),
            isl=isl,
            step_s=args.step,
            name=pathlib.Path(args.tle[0]).stem,
        )
        plan = generate_plan(spec, progress=progress)
    fmt = _fmt_for(args.output, args.format)
    _write(plan, args.output, fmt, exact=args.exact)
    counts = ", ".join(f"{k} {v}" for k, v in plan.link_type_counts().items()) or "no contacts"
    print(f"wrote {args.output} ({fmt}): {len(plan.nodes)} nodes, {len(plan.contacts)} contacts ({counts})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from contact_plans.formats import load_plan
    from contact_plans.orbits import parse_utc

    plan = load_plan(args.input, epoch=parse_utc(args.epoch) if args.epoch else None)
    _write(plan, args.output, args.to, exact=args.exact, absolute_times=args.absolute_times)
    if args.output != "-":
        print(f"wrote {args.output} ({args.to}): {len(plan.contacts)} contacts")
    return 0


def plan_summary(plan) -> dict:
    """Per-link-type figures used by `dtn plan show` (contacts, total/mean/max duration, volume)."""
    by_type: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: {"contacts": 0, "duration_s": 0.0, "max_s": 0.0, "volume_bytes": 0.0}
    )
    kinds = {n.number: n.kind for n in plan.nodes}
    from contact_plans.model import link_type_of

    for c in plan.contacts:
        row = by_type[link_type_of(kinds.get(c.from_node), kinds.get(c.to_node))]
        row["contacts"] += 1
        row["duration_s"] += c.duration_s
        row["max_s"] = max(row["max_s"], c.duration_s)
        row["volume_bytes"] += c.volume_bytes
    return dict(sorted(by_type.items()))


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from contact_plans.formats import load_plan

    plan = load_plan(args.plan)
    console = Console()
    kinds = collections.Counter(n.kind.value for n in plan.nodes)
    console.print(
        f"[bold]{plan.name or args.plan}[/bold]  epoch {plan.epoch:%Y-%m-%dT%H:%M:%SZ}  "
        f"span {plan.start_s:g} .. {plan.end_s:g} s ({(plan.end_s - plan.start_s) / 3600:.2f} h)"
    )
    console.print(
        "nodes: "
        + (", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none")
        + f" ({len(plan.nodes)} total); contacts: {len(plan.contacts)} (directed)"
    )
    table = Table(title="contacts per link type")
    for col in ("link type", "contacts", "total h", "mean s", "max s", "volume GB"):
        table.add_column(col, justify="left" if col == "link type" else "right")
    total = {"contacts": 0, "duration_s": 0.0, "volume_bytes": 0.0, "max_s": 0.0}
    for link, row in plan_summary(plan).items():
        n = int(row["contacts"])
        table.add_row(
            link,
            str(n),
            f"{row['duration_s'] / 3600:.1f}",
            f"{row['duration_s'] / max(n, 1):.0f}",
            f"{row['max_s']:.0f}",
            f"{row['volume_bytes'] / 1e9:.1f}",
        )
        total["contacts"] += n
        total["duration_s"] += row["duration_s"]
        total["volume_bytes"] += row["volume_bytes"]
        total["max_s"] = max(total["max_s"], row["max_s"])
    n = int(total["contacts"])
    table.add_row(
        "[bold]all[/bold]",
        str(n),
        f"{total['duration_s'] / 3600:.1f}",
        f"{total['duration_s'] / max(n, 1):.0f}",
        f"{total['max_s']:.0f}",
        f"{total['volume_bytes'] / 1e9:.1f}",
    )
    console.print(table)
    problems = plan.validate()
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/red]: " + "; ".join(problems[:5]))
    if args.nodes:
        nt = Table(title="nodes")
        for col in ("number", "eid", "name", "kind", "metadata"):
            nt.add_column(col)
        for node in sorted(plan.nodes, key=lambda x: x.number):
            meta = ", ".join(f"{k}={v}" for k, v in node.metadata.items())
            nt.add_row(str(node.number), node.eid, node.name, node.kind.value, meta)
        console.print(nt)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from contact_plans.formats import load_plan
    from contact_plans.plot import plot_gantt

    plan = load_plan(args.plan)
    if args.max_links <= 0:
        raise PlanError("--max-links must be positive")
    shown, total = plot_gantt(plan, args.output, max_links=args.max_links, nodes=args.node)
    more = f" (first {shown} of {total}; use --max-links or --node)" if shown < total else ""
    print(f"wrote {args.output}: {shown} links{more}")
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    from contact_plans.scenarios import SCENARIOS, describe

    for name in SCENARIOS:
        print(describe(name))
        print()
    return 0


__all__ = ["register", "plan_summary"]
