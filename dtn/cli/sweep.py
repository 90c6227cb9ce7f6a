"""`dtn sweep`: many digital-twin runs of a scenario on dask.distributed, one table and plots."""

from __future__ import annotations

import pathlib

from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import ScenarioError


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """'3', '0,2,5', '0..10' (inclusive) or '0..10:2' (step) -> the integers, in order."""
    values: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if ".." in part:
                lo, _, rest = part.partition("..")
                hi, _, step = rest.partition(":")
                lo_i, hi_i, step_i = int(lo), int(hi), int(step or 1)
                if step_i < 1 or hi_i < lo_i:
                    raise ValueError
                values.extend(range(lo_i, hi_i + 1, step_i))
            else:
                values.append(int(part))
    except ValueError:
        raise ScenarioError(f"{what}: expected integers like 3, 0,2,5, 0..10 or 0..10:2, got {text!r}") from None
    return tuple(values)


def parse_float_list(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in text.split(","))
    except ValueError:
        raise ScenarioError(f"{what}: expected numbers like 0.5,1,2, got {text!r}") from None


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "sweep",
        help="run many twin runs of a scenario on Dask; one table and plots",
        example="dtn sweep milsca --duration 6h --failures 0..10 --repeats 2 --out runs/sweep",
    )
    p.add_argument("plan", help="a scenario name (milsca, axiom, ...) or a plan file (then --traffic is needed)")
    p.add_argument("--duration", default="6h", help="plan time per run (default 6h)")
    p.add_argument("--start", default="0", help="plan time to start at (default 0)")
    p.add_argument("--bundles", type=int, default=200, help="bundles in the default traffic (default 200)")
    p.add_argument("--traffic", help="traffic TOML file (its seed is replaced by each run's traffic seed)")
    p.add_argument("--faults", help="faults TOML file applied to every run (default: the scenario's)")
    p.add_argument("--failures", default="0", help="random satellite failures per run: 3, 0,2,5 or 0..10 (default 0)")
    p.add_argument("--station-outages", default="0", help="random ground-station outages per run (default 0)")
    p.add_argument("--traffic-seeds", default="1", help="traffic seeds (default 1)")
    p.add_argument("--rates", default="1", help="link rate scale factors, e.g. 0.5,1,2 (default 1)")
    p.add_argument(
        "--replicas",
        default=None,
        help="archive replica counts, e.g. 1..3: runs the orbital archive (default: 3 for milsca, "
        "no archive otherwise)",
    )
    p.add_argument("--no-archive", action="store_true", help="no archive service, even for milsca")
    p.add_argument("--repeats", type=int, default=1, help="runs per grid point, each with its own seed (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sweep seed: every run's seed derives from it and its id")
    p.add_argument(
        "--out",
        default="dtn-sweep",
        help="results directory (default ./dtn-sweep); finished runs found there are not run again",
    )
    p.add_argument(
        "--scheduler",
        help="an existing Dask scheduler, tcp://HOST:PORT (default: an embedded LocalCluster on 127.0.0.1)",
    )
    p.add_argument("--workers", type=int, default=None, help="LocalCluster worker processes (default: CPUs)")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    p.set_defaults(func=run_sweep_command)


def spec_from_args(args):
    from dtn.sweep.spec import SweepSpec

    if args.replicas is not None and args.no_archive:
        raise ScenarioError("--replicas and --no-archive contradict each other")
    if args.replicas is not None:
        replicas = parse_int_list(args.replicas, "--replicas")
    else:
        replicas = (3,) if args.plan == "milsca" and not args.no_archive else ()
    if args.workers is not None and args.workers < 1:
        raise ScenarioError("--workers must be >= 1")
    for path in (args.traffic, args.faults):
        if path and not pathlib.Path(path).is_file():
            raise ScenarioError(f"{path}: no such file")
    return SweepSpec(
        scenario=str(pathlib.Path(args.plan).resolve()) if pathlib.Path(args.plan).is_file() else args.plan,
        duration_s=parse_duration_s(args.duration),
        start_s=parse_duration_s(args.start),
        bundles=args.bundles,
        traffic=str(pathlib.Path(args.traffic).resolve()) if args.traffic else None,
        faults=str(pathlib.Path(args.faults).resolve()) if args.faults else None,
        failed_satellites=parse_int_list(args.failures, "--failures"),
        station_outages=parse_int_list(args.station_outages, "--station-outages"),
        traffic_seeds=parse_int_list(args.traffic_seeds, "--traffic-seeds"),
        rate_scales=parse_float_list(args.rates, "--rates"),
        replicas=replicas,
        repeats=args.repeats,
        seed=args.seed,
    )


def run_sweep_command(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dtn.sweep.cluster import run_sweep

    spec = spec_from_args(args)
    progress = Progress(
        TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(), transient=True
    )
    task = progress.add_task("sweep", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        table, rows = run_sweep(
            spec, args.out, scheduler=args.scheduler, workers=args.workers, on_progress=update, plots=not args.no_plots
        )
    delivered = sum(r["delivered"] for r in rows)
    sent = sum(r["sent"] for r in rows)
    print(f"{len(rows)} runs; {delivered} of {sent} bundles delivered over all runs; table: {table}")
    return 0
