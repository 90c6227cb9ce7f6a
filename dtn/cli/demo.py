"""`dtn demo`: the space cloud scenario end to end, in the digital twin (or with real processes)."""

from __future__ import annotations

import pathlib
import time

from dtn.cli.common import add_parser, parse_duration_s

DEMO_SCENARIOS = ("milsca", "lonestar", "axiom", "ascend")


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "demo",
        help="run the space cloud demo: milsca in the digital twin, a 6 h ground outage, nothing lost",
        example="dtn demo            # or: dtn demo --scenario lonestar, dtn demo --processes",
    )
    p.add_argument("--scenario", choices=DEMO_SCENARIOS, default="milsca", help="scenario (default: milsca)")
    p.add_argument(
        "--processes",
        action="store_true",
        help="run real `dtn node run` processes behind link emulators instead of the digital twin",
    )
    p.add_argument("--duration", default=None, help="plan time to run (default: 12h; 2h with --processes)")
    p.add_argument("--bundles", type=int, default=None, help="products to send (default: 400; 60 with --processes)")
    p.add_argument("--speed", type=float, default=None, help="with --processes: plan seconds per wall second")
    p.add_argument("--out", default="dtn-demo", help="where the logs, plots and index.html go (default ./dtn-demo)")
    p.add_argument("--seed", type=int, default=1, help="digital twin seed (default 1)")
    p.set_defaults(func=run)


def story(report, scenario: str, workload) -> str:
    """One line saying what happened."""
    from dtn.twin.report import human_s as _fmt_s, percentile

    names = {int(k): v for k, v in report.meta.get("nodes", {}).items()}
    outages = [f for f in workload.faults if f.kind == "node_down"]
    losses = [f for f in workload.faults if f.kind == "kill_node" and f.restart_after_s is None]
    delivered = [b for b in report.bundles if b.delivered_s is not None]
    users = sorted({names.get(b.dst, str(b.dst)) for b in delivered})
    latency = percentile([b.latency_s for b in delivered], 0.5)
    text = (
        f"{len(delivered)} of {report.sent} products reached {len(users)} user stations"
        f"{f' (p50 {_fmt_s(latency)})' if latency is not None else ''}"
    )
    archive = report.meta.get("archive")
    if outages:
        start_s = min(f.from_s for f in outages)
        end_s = max(f.to_s for f in outages)
        down = " and ".join(sorted({names.get(f.node, str(f.node)) for f in outages}))
        text += f"; {down} were down from {start_s / 3600:g} h to {end_s / 3600:g} h"
        if losses:
            text += f" and {len(losses)} satellites were lost"
    if archive:
        acks = archive.get("acks") or []
        held = sum(1 for a in acks if a.get("all_replicas_s") is not None)
        text += (
            f"; the {len(acks)} products backed up in orbit ({held} on all replicas) were retrieved "
            f"{archive.get('answered', 0)} of {archive.get('requests', 0)} times during the outage"
        )
        if archive.get("p95_s") is not None:
            text += f" (p95 {_fmt_s(archive['p95_s'])})"
    text += f"; {report.lost} lost."
    return text


def run(args) -> int:
    from rich.console import Console

    from contact_plans.scenarios import build_plan
    from dtn.cli.replay import progress_bar
    from dtn.twin.defaults import default_workload
    from dtn.twin.plots import write_html, write_plots
    from dtn.cli.reportview import render_report
    from dtn.twin.report import load_report

    console = Console()
    duration_s = parse_duration_s(args.duration) if args.duration else (7200.0 if args.processes else 12 * 3600.0)
    bundles = args.bundles if args.bundles is not None else (60 if args.processes else 400)
    out = pathlib.Path(args.out)
    started = time.monotonic()
    console.print(
        f"[bold]spacedtn demo[/]: scenario {args.scenario}, {duration_s / 3600:g} h of plan time, "
        f"{'real node processes' if args.processes else 'digital twin (virtual time)'}"
    )
    with console.status("computing the contact plan from orbits"):
        plan = build_plan(args.scenario, duration_s=duration_s)
    console.print(f"contact plan: {len(plan.nodes)} nodes, {len(plan.contacts)} contacts (generated from TLEs)")
    archive = None
    if args.scenario == "milsca" and not args.processes:
        from dtn.twin.defaults import milsca_demo

        workload, archive = milsca_demo(plan, duration_s, bundles, seed=args.seed)
    else:
        workload = default_workload(plan, args.scenario, duration_s, bundles)
    progress, update = progress_bar("replaying" if args.processes else "simulating")
    with progress:
        if args.processes:
            from dtn.twin.runner.replay import ReplayOptions, replay

            speed = args.speed or max(60.0, duration_s / 120.0)
            replay(plan, workload, out, ReplayOptions(speed=speed, duration_s=duration_s, progress_callback=update))
        else:
            from dtn.twin.runner.simulate import SimulationOptions, simulate

            simulate(
                plan,
                workload,
                out,
                SimulationOptions(duration_s=duration_s, seed=args.seed, archive=archive, progress_callback=update),
            )
    from dtn.cli.replay import write_run_extras

    write_run_extras(out, plan, workload, args.scenario, duration_s)
    report = load_report(out)
    render_report(report, console)
    page = write_html(report, out, write_plots(report, out))
    console.print(f"plots and report page: {page} ({time.monotonic() - started:.0f} s)")
    console.print(f"[bold]{story(report, args.scenario, workload)}[/]")
    archive = report.meta.get("archive")
    unanswered = archive["requests"] - archive["answered"] if archive else 0
    return 0 if report.lost == 0 and unanswered == 0 else 1
