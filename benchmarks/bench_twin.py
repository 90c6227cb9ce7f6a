"""The digital twin at scale: the milsca scenario (66 satellites, 22 ground stations), a full day, 10,000 bundles.

    python benchmarks/bench_twin.py             # 24 h, 10,000 bundles of 10 kB (the issue's scale target)
    python benchmarks/bench_twin.py --quick     # 2 h, 500 bundles

Every node runs the real node code (BPv7 codec, TCPCLv4 bytes over emulated links, store, CGR) under Trio's
MockClock. The figure of merit is wall and CPU time against the target (<= 60 s on 2 cores). No peer runs the
same node code in virtual time, so no peer runs beside it; the time to compute the plan from orbits is printed
for scale.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from contact_plans.scenarios import build_plan  # noqa: E402
from dtn.twin.runner.simulate import SimulationOptions, simulate  # noqa: E402
from dtn.twin.defaults import MILSCA_USERS  # noqa: E402
from dtn.twin.links import LinkSchedule  # noqa: E402
from dtn.twin.report import load_report  # noqa: E402
from dtn.twin.workload import load_workload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bundles", type=int, default=None)
    parser.add_argument("--hours", type=float, default=None)
    args = parser.parse_args()
    hours = args.hours or (2.0 if args.quick else 24.0)
    bundles = args.bundles or (500 if args.quick else 10_000)
    duration_s = hours * 3600
    console = Console()

    t0, c0 = time.perf_counter(), time.process_time()
    plan = build_plan("milsca", duration_s=duration_s)
    schedule = LinkSchedule(plan)
    floor_wall, floor_cpu = time.perf_counter() - t0, time.process_time() - c0
    workload = load_workload(
        plan,
        {
            "flow": [
                {
                    "name": "fucino-to-users",
                    "from": "Fucino",
                    "to": MILSCA_USERS,
                    "size_bytes": 10_000,
                    "count": bundles,
                    "start_s": 0,
                    "end_s": duration_s * 0.9,
                }
            ]
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        t1, c1 = time.perf_counter(), time.process_time()
        run = simulate(plan, workload, tmp, SimulationOptions(duration_s=duration_s, seed=1))
        wall, cpu = time.perf_counter() - t1, time.process_time() - c1
        report = load_report(tmp)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sessions = sum(1 for e in run.events if e["event"] == "contact_up") // 2
    hops = sum(1 for e in run.events if e["event"] == "forwarded")

    table = Table(title=f"digital twin: milsca, {hours:g} h, {bundles:,} bundles of 10 kB")
    for col in ("measure", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    table.add_row(
        "nodes / contacts / link windows",
        f"{len(plan.nodes)} / {len(plan.contacts):,} / {len(schedule.all_windows()):,}",
    )
    table.add_row("contact plan from orbits + link schedule: wall / CPU s", f"{floor_wall:.1f} / {floor_cpu:.1f}")
    table.add_row("simulation: wall / CPU s", f"{wall:.1f} / {cpu:.1f}  (target <= 60 s wall)")
    table.add_row("TCPCLv4 sessions / bundle hops", f"{sessions:,} / {hops:,}")
    table.add_row("events / events per wall s", f"{len(run.events):,} / {len(run.events) / wall:,.0f}")
    table.add_row("virtual seconds per wall second", f"{duration_s / wall:,.0f}")
    table.add_row("peak RSS", f"{rss_mib:,.0f} MiB")
    table.add_row("outcome", report.one_line())
    console.print(table)


if __name__ == "__main__":
    main()
