"""The orbital archive in the digital twin: availability and retrieval latency with the origin centre down.

    python benchmarks/bench_archive.py            # a day of milsca (a few minutes)
    python benchmarks/bench_archive.py --quick    # six hours

The milsca scenario (66 Iridium NEXT satellites on six planes, 22 ground stations) runs in the digital twin
(`dtn.twin.runner.simulate`, virtual time, real node code). Fucino (node 1), the origin ground centre, puts objects at
t = 600 s and goes down (every link) for six hours from t = 3600 s; three random satellites are lost for good
during the outage and declared lost ten minutes later. Every baseline ground station asks for every object 5
minutes into the outage and then every 3 hours (each request is one GET; a station that already fetched an
object answers itself). Figures of merit: availability (fraction of GETs answered within 1 h and 6 h) and
retrieval latency p50/p95, against the peer in the same run: a ground-only baseline where objects are kept only at
the origin centre (no satellite holds them), same plan, same outage, same requests.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contact_plans.scenarios import build_plan  # noqa: E402
from dtn.archive.workload import summarize  # noqa: E402
from dtn.twin.defaults import outage_experiment  # noqa: E402
from dtn.twin.runner.simulate import SimulationOptions, simulate  # noqa: E402


def run(mode: str, plan, duration_s: float, seed: int, objects: int, object_bytes: int) -> dict:
    workload, archive = outage_experiment(
        plan,
        duration_s=duration_s,
        mode=mode,
        seed=seed,
        objects=objects,
        object_bytes=object_bytes,
        gets_every_s=3 * 3600.0,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = simulate(plan, workload, out, SimulationOptions(duration_s=duration_s, seed=seed, archive=archive))
        gets = [r for r in archive_records(result) if r["kind"] == "get"]
    wall_s = time.perf_counter() - started
    records = result.meta["archive"]
    summary = summarize(gets)
    first: dict[tuple, dict] = {}
    for g in sorted(gets, key=lambda g: g["requested_s"]):
        first.setdefault((g["user"], g["name"]), g)
    summary["first"] = summarize(list(first.values()))  # each station's first request for each object
    summary.update(
        wall_s=wall_s,
        acks=records["acks"],
        users=len(archive.users),
        unverified=sum(1 for g in gets if g["latency_s"] is not None and not g["verified"]),
    )
    return summary


def archive_records(result) -> list[dict]:
    import json

    path = result.out_dir / "archive.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{a / b:.2f}x" if b else "inf"


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x / 60:.1f} min" if x >= 60 else f"{x:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="six hours instead of a day")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--object-bytes", type=int, default=500_000)
    args = parser.parse_args()
    duration_s = 6 * 3600.0 if args.quick else 86400.0
    plan = build_plan("milsca", duration_s=duration_s)
    results = {
        mode: run(mode, plan, duration_s, args.seed, args.objects, args.object_bytes)
        for mode in ("archive", "ground-only")
    }

    from rich.console import Console
    from rich.table import Table

    a, g = results["archive"], results["ground-only"]
    table = Table(
        title=f"milsca, {duration_s / 3600:g} h, Fucino down 6 h, {a['users']} user stations, "
        f"{args.objects} x {args.object_bytes} B"
    )
    for col in ("", "GETs", "answered <= 1 h", "answered <= 6 h", "p50", "p95", "twin wall"):
        table.add_column(col)
    for label, pick in (("all GETs", lambda r: r), ("first GET per station and object", lambda r: r["first"])):
        for mode, r in results.items():
            x = pick(r)
            table.add_row(
                f"{mode}, {label}",
                str(x["requests"]),
                _pct(x["within_1h"]),
                _pct(x["within_6h"]),
                fmt_s(x["p50_s"]),
                fmt_s(x["p95_s"]),
                f"{r['wall_s']:.0f} s",
            )
        xa, xg = pick(a), pick(g)
        ratio = (xg["p95_s"] / xa["p95_s"]) if xa["p95_s"] and xg["p95_s"] else None
        table.add_row(
            f"archive / ground-only, {label}",
            "",
            _ratio(xa["within_1h"], xg["within_1h"]),
            _ratio(xa["within_6h"], xg["within_6h"]),
            "",
            f"{ratio:.0f}x lower" if ratio else "-",
            "",
        )
    console = Console()
    console.print(table)
    acks = a["acks"]
    console.print(
        "replica acknowledgements (archive run): "
        + "; ".join(
            f"{x['name']}: first {x['first_replica_s'] - x['put_s']:.1f} s, all {x['all_replicas_s'] - x['put_s']:.1f} s"
            if x["all_replicas_s"] is not None
            else f"{x['name']}: incomplete"
            for x in acks
        )
    )
    if a["unverified"] or g["unverified"]:
        console.print(f"[red]unverified retrievals: archive {a['unverified']}, ground-only {g['unverified']}")


if __name__ == "__main__":
    main()
