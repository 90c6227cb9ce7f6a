"""One run of a sweep in the digital twin: what a Dask worker calls. Plain data in, one table row out."""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import random
import tempfile
import time

from contact_plans.model import ContactPlan, NodeKind
from dtn.errors import ScenarioError
from dtn.sweep.spec import RunSpec

HOUR_S = 3600.0


@functools.lru_cache(maxsize=4)
def load_plan(scenario: str, end_s: float) -> ContactPlan:
    """A scenario's plan up to `end_s`, or a plan file; kept per worker process (runs of a sweep share it)."""
    from contact_plans.scenarios import SCENARIOS, build_plan

    if scenario in SCENARIOS:
        return build_plan(scenario, duration_s=end_s, progress=False)
    from contact_plans.formats import load_plan as load_file

    if not pathlib.Path(scenario).exists():
        raise ScenarioError(f"{scenario}: no such scenario ({', '.join(SCENARIOS)}) or plan file")
    return load_file(scenario)


def scaled_plan(plan: ContactPlan, rate_scale: float) -> ContactPlan:
    if rate_scale == 1.0:
        return plan
    contacts = [dataclasses.replace(c, rate_bytes_per_s=c.rate_bytes_per_s * rate_scale) for c in plan.contacts]
    return ContactPlan(epoch=plan.epoch, nodes=plan.nodes, contacts=contacts, name=plan.name)


def build_workload(plan: ContactPlan, run: RunSpec):
    """The run's traffic (its traffic seed), the scenario's or file's faults, plus the run's random satellite
    failures and station outages, drawn from the run seed."""
    import tomllib

    from contact_plans.scenarios import SCENARIOS
    from dtn.twin.defaults import generic_tables, milsca_tables
    from dtn.twin.workload import Fault, Workload, parse_faults, parse_traffic

    is_scenario = run.scenario in SCENARIOS
    if run.traffic:
        with open(run.traffic, "rb") as fh:
            try:
                traffic = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ScenarioError(f"{run.traffic}: {exc}") from None
        faults = {"fault": []}
    elif is_scenario:
        if run.scenario == "milsca":
            traffic, faults = milsca_tables(run.duration_s, run.bundles)
        else:
            traffic, faults = generic_tables(plan, run.duration_s, run.bundles)
    else:
        raise ScenarioError("a plan file needs a traffic file (a scenario has default traffic)")
    if run.faults:
        with open(run.faults, "rb") as fh:
            try:
                faults = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ScenarioError(f"{run.faults}: {exc}") from None
    traffic = dict(traffic, seed=run.traffic_seed)
    flows, seed = parse_traffic(traffic, plan, source=run.traffic or f"traffic of {run.scenario}")
    workload = Workload(flows=flows, faults=parse_faults(faults, plan, source=run.faults or "faults"), seed=seed)

    rng = random.Random(run.seed)
    t0, d = run.start_s, run.duration_s
    satellites = sorted(n.number for n in plan.nodes if n.kind == NodeKind.SATELLITE)
    stations = sorted(n.number for n in plan.nodes if n.kind == NodeKind.GROUND)
    if run.failed_satellites > len(satellites):
        raise ScenarioError(f"sweep: {run.failed_satellites} failed satellites asked, the plan has {len(satellites)}")
    if run.station_outages > len(stations):
        raise ScenarioError(f"sweep: {run.station_outages} station outages asked, the plan has {len(stations)}")
    for sat in sorted(rng.sample(satellites, run.failed_satellites)):
        workload.faults.append(Fault(kind="kill_node", node=sat, at_s=t0 + rng.uniform(0.1 * d, 0.5 * d)))
    for station in sorted(rng.sample(stations, run.station_outages)):
        from_s = t0 + rng.uniform(0.1 * d, 0.5 * d)
        workload.faults.append(Fault(kind="node_down", node=station, from_s=from_s, to_s=from_s + 0.25 * d))
    return workload


def build_archive(plan: ContactPlan, workload, run: RunSpec):
    """The orbital archive for runs with a replica count: the first flow's source backs up objects early in the
    run, the flows' destinations ask for every object at half and three quarters of the run (and every 2 h)."""
    if run.replicas is None:
        return None
    from dtn.archive.workload import ArchiveWorkload

    if not workload.flows:
        raise ScenarioError("sweep: archive runs need traffic (its first flow's source is the archive origin)")
    origin = workload.flows[0].source
    users = tuple(sorted({d for f in workload.flows for d in f.destinations} - {origin}))
    t0, d = run.start_s, run.duration_s
    objects = max(1, min(10, run.bundles // 40))
    puts = tuple((t0 + 0.05 * d + 60.0 * i, f"sweep/object-{i:02d}", 500_000) for i in range(objects))
    gets, t = [], t0 + 0.5 * d
    while t < t0 + d:
        gets.append(t)
        t += min(2 * HOUR_S, 0.25 * d)
    return ArchiveWorkload(
        origin=origin, users=users, puts=puts, gets_at_s=tuple(gets), replicas=run.replicas, seed=run.seed
    )


def run_one(run: RunSpec) -> dict:
    """Run it in the twin (in a temporary directory) and return its row of the table (plus `cpu_s`)."""
    from dtn.twin.runner.simulate import SimulationOptions, simulate
    from dtn.twin.report import load_report

    cpu0 = time.process_time()
    plan = scaled_plan(load_plan(run.scenario, run.start_s + run.duration_s), run.rate_scale)
    workload = build_workload(plan, run)
    archive = build_archive(plan, workload, run)
    with tempfile.TemporaryDirectory(prefix="dtn-sweep-") as tmp:
        simulate(
            plan,
            workload,
            tmp,
            SimulationOptions(start_s=run.start_s, duration_s=run.duration_s, seed=run.seed, archive=archive),
        )
        report = load_report(tmp)
        summary = report.summary()
        archive_meta = report.meta.get("archive") or {}
    row = {
        "run_id": run.run_id,
        "seed": run.seed,
        "failed_satellites": run.failed_satellites,
        "station_outages": run.station_outages,
        "traffic_seed": run.traffic_seed,
        "rate_scale": run.rate_scale,
        "replicas": run.replicas,
        "repeat": run.repeat,
    }
    for key in (
        "sent",
        "delivered",
        "delivery_ratio",
        "expired",
        "deleted",
        "pending_at_end",
        "lost",
        "latency_p50_s",
        "latency_p95_s",
        "latency_max_s",
    ):
        row[key] = summary[key]
    row["archive_requests"] = archive_meta.get("requests")
    row["archive_answered"] = archive_meta.get("answered")
    for key in ("within_1h", "within_6h"):
        value = archive_meta.get(key)
        row[f"archive_{key}"] = None if value is None else round(value, 4)
    row["cpu_s"] = round(time.process_time() - cpu0, 3)
    return row
