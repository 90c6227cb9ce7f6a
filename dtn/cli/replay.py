"""`dtn simulate` (digital twin, virtual time) and `dtn replay` (real processes on the wall clock)."""

from __future__ import annotations

import pathlib

from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import ScenarioError


def _common(p) -> None:
    p.add_argument("plan", help="a scenario name (milsca, axiom, lonestar, ascend, starlink) or a plan file")
    p.add_argument("--duration", default=None, help="how much plan time to run (e.g. 6h; default: the whole plan)")
    p.add_argument("--start", default="0", help="plan time to start at (default 0)")
    p.add_argument("--traffic", help="traffic TOML file (default: the scenario's default traffic)")
    p.add_argument("--faults", help="faults TOML file (default: the scenario's default faults, none for a file)")
    p.add_argument("--bundles", type=int, default=200, help="bundles in the default traffic (default 200)")
    p.add_argument("--shape", action="store_true", help="shape each link to the contact rate")
    p.add_argument("--no-report", action="store_true", help="do not print the report")
    p.add_argument("--plots", action="store_true", help="also write PNG plots and index.html")


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "simulate",
        help="run a scenario or plan in the digital twin (virtual time)",
        example="dtn simulate milsca --duration 6h --out runs/milsca --seed 7",
    )
    _common(p)
    p.add_argument("--out", default="dtn-sim", help="run directory (default ./dtn-sim)")
    p.add_argument("--store", choices=("memory", "sqlite"), default="memory", help="bundle store per node")
    p.add_argument("--seed", type=int, default=0, help="scheduler seed: the same seed gives the same event log")
    p.set_defaults(func=run_simulate)

    p = add_parser(
        subparsers,
        "replay",
        help="replay a scenario or plan with real node processes",
        example="dtn replay plan.json --speed 600 --duration 2h --traffic traffic.toml --out runs/r1",
    )
    _common(p)
    p.add_argument("--speed", type=float, default=600.0, help="plan seconds per wall second (default 600)")
    p.add_argument("--out", default="dtn-replay", help="run directory (default ./dtn-replay)")
    p.set_defaults(func=run_replay)


def load_inputs(args, *, default_duration_s: float | None = None):
    """The plan, the workload and the time span the arguments name."""
    from contact_plans.scenarios import SCENARIOS, build_plan
    from dtn.twin.defaults import default_workload
    from dtn.twin.workload import load_workload

    start_s = parse_duration_s(args.start)
    duration_s = parse_duration_s(args.duration) if args.duration else default_duration_s
    scenario = args.plan if args.plan in SCENARIOS else None
    if scenario:
        plan = build_plan(scenario, duration_s=(start_s + duration_s) if duration_s else None, progress=None)
    else:
        from contact_plans.formats import load_plan

        if not pathlib.Path(args.plan).exists():
            raise ScenarioError(f"{args.plan}: no such scenario ({', '.join(SCENARIOS)}) or plan file")
        plan = load_plan(args.plan)
    if duration_s is None:
        duration_s = max(0.0, plan.end_s - start_s)
    if args.traffic or args.faults or not scenario:
        workload = load_workload(plan, args.traffic, args.faults)
        if not args.traffic and not scenario:
            raise ScenarioError("a plan file needs --traffic (a scenario has default traffic)")
    else:
        workload = default_workload(plan, scenario, duration_s, args.bundles)
    return plan, workload, start_s, duration_s


def write_run_extras(out: pathlib.Path, plan, workload, scenario: str | None, end_s: float) -> None:
    """faults.json and (for a named scenario) geometry.json next to a run's logs, for its report page."""
    import dataclasses
    import json

    out.mkdir(parents=True, exist_ok=True)
    faults = [{k: v for k, v in dataclasses.asdict(f).items() if v is not None} for f in workload.faults]
    (out / "faults.json").write_text(json.dumps(faults, indent=1), encoding="utf-8")
    if scenario:
        from contact_plans.scenarios import spec_for
        from dtn.twin.geometry import run_geometry, write_geometry

        spec = spec_for(scenario, duration_s=max(end_s, 60.0))
        write_geometry(out, run_geometry(plan, spec.satellites, end_s=max(end_s, 60.0)))


def progress_bar(description: str):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[plan]}"),
        TimeElapsedColumn(),
        transient=True,
    )
    task = progress.add_task(description, total=1.0, plan="")

    def update(done_s: float, total_s: float) -> None:
        progress.update(
            task,
            completed=done_s / total_s if total_s else 1.0,
            plan=f"plan time {done_s / 3600:.1f} of {total_s / 3600:.1f} h",
        )

    return progress, update


def show_report(run_dir: pathlib.Path, *, plots: bool) -> None:
    from dtn.cli.reportview import render_report
    from dtn.twin.report import load_report

    report = load_report(run_dir)
    render_report(report)
    if plots:
        from dtn.twin.plots import write_html, write_plots

        page = write_html(report, run_dir, write_plots(report, run_dir))
        print(f"report page: {page}")


def _scenario(args) -> str | None:
    from contact_plans.scenarios import SCENARIOS

    return args.plan if args.plan in SCENARIOS else None


def run_simulate(args) -> int:
    from dtn.twin.runner.simulate import SimulationOptions, simulate

    plan, workload, start_s, duration_s = load_inputs(args)
    progress, update = progress_bar("simulating")
    options = SimulationOptions(
        start_s=start_s,
        duration_s=duration_s,
        store=args.store,
        seed=args.seed,
        shape_rate=args.shape,
        progress_callback=update,
    )
    with progress:
        simulate(plan, workload, args.out, options)
    write_run_extras(pathlib.Path(args.out), plan, workload, _scenario(args), start_s + duration_s)
    if not args.no_report:
        show_report(pathlib.Path(args.out), plots=args.plots)
    return 0


def run_replay(args) -> int:
    from dtn.twin.runner.replay import ReplayOptions, replay

    plan, workload, start_s, duration_s = load_inputs(args, default_duration_s=7200.0)
    progress, update = progress_bar("replaying")
    options = ReplayOptions(
        speed=args.speed, start_s=start_s, duration_s=duration_s, shape_rate=args.shape, progress_callback=update
    )
    with progress:
        replay(plan, workload, args.out, options)
    _say_lag(pathlib.Path(args.out), args.speed)
    write_run_extras(pathlib.Path(args.out), plan, workload, _scenario(args), start_s + duration_s)
    if not args.no_report:
        show_report(pathlib.Path(args.out), plots=args.plots)
    return 0


def _say_lag(run_dir: pathlib.Path, speed: float) -> None:
    """Say whether the replay kept up with the wall clock (meta.json "lag"), on stderr when it did not."""
    import json
    import sys

    from dtn.twin.replaylag import lag_message

    try:
        lag = json.loads((run_dir / "meta.json").read_text()).get("lag")
    except (OSError, ValueError):
        return
    if lag:
        print(lag_message(lag, speed), file=sys.stderr if not lag.get("kept_up") else sys.stdout)
