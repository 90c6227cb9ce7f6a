"""Contact plan generation benchmark.

1. Satellite-ground windows, a milsca-like shell (Walker 66/6/1, 780 km, 86.4 deg) x the 20 baseline stations x
   24 h at a 10 deg mask: spacedtn's generator vs skyfield's EarthSatellite.find_events pair by pair (the peer)
   vs the bare sgp4 SatrecArray propagation of the same grid (the floor). CPU times, ratios, window counts, the
   largest edge difference and windows of 10 s or more that either side misses.
2. Inter-satellite links for the same 66 satellites (all pairs in range, and 4 neighbours).
3. Starlink: 1,806 satellites x 26 stations x 24 h with 4-neighbour ISLs, in a child process: CPU time and peak
   memory (RSS).

    python benchmarks/bench_plans.py            # full run
    python benchmarks/bench_plans.py --quick    # 6 h, a sample of skyfield pairs, Starlink over 2 h
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # CPU time of one core, as the targets are stated
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sgp4.api import SatrecArray  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contact_plans.links import ground_windows, isl_windows  # noqa: E402
from contact_plans.orbits import (  # noqa: E402
    load_ground_stations,
    neighbour_pairs,
    parse_utc,
    propagate,
    time_grid,
    timescale,
    walker_delta,
)
from contact_plans.scenarios import STATIONS_CSV  # noqa: E402

START = parse_utc("2026-01-03T00:00:00Z")
console = Console()


REPEATS = 5


def cpu() -> float:
    return time.process_time()


def _timed(fn):
    t = cpu()
    out = fn()
    return out, cpu() - t


def skyfield_windows(sats, stations, pairs, duration_s):
    from skyfield.api import EarthSatellite, wgs84

    ts = timescale()
    t0 = ts.from_datetime(START)
    t1 = ts.tt_jd(t0.tt + duration_s / 86400.0)
    tops = [wgs84.latlon(s.lat_deg, s.lon_deg, elevation_m=s.alt_m) for s in stations]
    earth_sats = [EarthSatellite.from_satrec(s.satrec, ts) for s in sats]
    out = {}
    for i, j in pairs:
        times, events = earth_sats[i].find_events(tops[j], t0, t1, altitude_degrees=stations[j].mask_deg)
        secs = (times.tt - t0.tt) * 86400.0
        wins, rise = [], (0.0 if len(events) and events[0] != 0 else None)
        for s, e in zip(secs, events):
            if e == 0:
                rise = s
            elif e == 2 and rise is not None:
                wins.append((rise, s))
                rise = None
        if rise is not None:
            wins.append((rise, duration_s))
        out[(i, j)] = wins
    return out


def compare(ours, theirs, duration_s):
    worst, missed, extra = 0.0, 0, 0
    for key, their_wins in theirs.items():
        our_wins = ours.get(key, [])
        for rise, fall in their_wins:
            match = [o for o in our_wins if o[0] < fall and rise < o[1]]
            if not match:
                missed += fall - rise >= 10.0
                continue
            o = match[0]
            if 0 < rise:
                worst = max(worst, abs(o[0] - rise))
            if fall < duration_s:
                worst = max(worst, abs(o[1] - fall))
        for s, e in our_wins:
            if e - s >= 10.0 and not any(r < e and s < f for r, f in their_wins):
                extra += 1
    return worst, missed, extra


def bench_ground(quick: bool) -> dict:
    duration_s = 6 * 3600.0 if quick else 86400.0
    sats = walker_delta(66, 6, 1, altitude_km=780.0, inclination_deg=86.4, epoch=START)
    stations = load_ground_stations(STATIONS_CSV, baseline_only=True, mask_deg=10.0)
    grid = time_grid(START, duration_s, 30.0)
    timescale()  # load tables outside the timings

    def floor_run():
        jd, fr = grid.jd_fr(grid.t_s)
        return SatrecArray([s.satrec for s in sats]).sgp4(jd, fr)

    def ours_run():
        return ground_windows(propagate(sats, grid), stations)

    # best of REPEATS CPU times (as timeit does): the first call also pays for page faults and warm-up
    floor_s = min(_timed(floor_run)[1] for _ in range(REPEATS))
    runs = [_timed(ours_run) for _ in range(REPEATS)]
    w = runs[0][0]
    ours_s = min(r[1] for r in runs)
    ours_first_s = runs[0][1]

    all_pairs = list(itertools.product(range(len(sats)), range(len(stations))))
    pairs = all_pairs[::10] if quick else all_pairs
    t = cpu()
    theirs = skyfield_windows(sats, stations, pairs, duration_s)
    sky_s = cpu() - t
    sky_full_s = sky_s * len(all_pairs) / len(pairs)
    ours = {}
    for a, b, s, e in zip(w.a.tolist(), w.b.tolist(), w.start_s.tolist(), w.end_s.tolist()):
        ours.setdefault((a, b), []).append((s, e))
    worst, missed, extra = compare(ours, theirs, duration_s)
    sky_count = sum(len(v) for v in theirs.values())
    our_count_sampled = sum(len(ours.get(k, [])) for k in pairs)

    table = Table(
        title=f"satellite-ground: 66 sats x 20 stations x {duration_s / 3600:g} h, 10 deg mask, 30 s grid"
        f" (CPU: best of {REPEATS})"
    )
    for col in ("method", "CPU s", "vs spacedtn", "windows"):
        table.add_column(col, justify="right" if col != "method" else "left")
    table.add_row("sgp4 SatrecArray grid (floor)", f"{floor_s:.3f}", f"{floor_s / ours_s:.2f}x", "-")
    table.add_row("spacedtn generator", f"{ours_s:.3f}", "1.00x", f"{len(w)}")
    table.add_row("spacedtn generator, first run", f"{ours_first_s:.3f}", f"{ours_first_s / ours_s:.2f}x", "")
    label = "skyfield find_events" + ("" if len(pairs) == len(all_pairs) else f" ({len(pairs)} pairs, scaled)")
    table.add_row(
        label,
        f"{sky_full_s:.3f}",
        f"{sky_full_s / ours_s:.1f}x",
        f"{sky_count} (ours on same pairs: {our_count_sampled})",
    )
    console.print(table)
    console.print(
        f"  spacedtn / floor = {ours_s / floor_s:.2f}x (target <= 2.2x); skyfield / spacedtn = "
        f"{sky_full_s / ours_s:.1f}x (target >= 10x); spacedtn CPU {ours_s:.3f} s (target <= 0.6 s)"
    )
    console.print(
        f"  max edge difference vs skyfield {worst:.3f} s (target <= 0.5 s); skyfield windows >= 10 s "
        f"we miss: {missed}; our windows >= 10 s skyfield lacks: {extra}"
    )
    return dict(
        duration_h=duration_s / 3600,
        floor_s=floor_s,
        ours_s=ours_s,
        ours_first_s=ours_first_s,
        skyfield_s=sky_full_s,
        windows=len(w),
        skyfield_windows=sky_count,
        max_edge_diff_s=worst,
        missed=missed,
        extra=extra,
        sampled_pairs=len(pairs),
    )


def bench_isl(quick: bool) -> dict:
    duration_s = 6 * 3600.0 if quick else 86400.0
    sats = walker_delta(66, 6, 1, altitude_km=780.0, inclination_deg=86.4, epoch=START)
    grid = time_grid(START, duration_s, 30.0)
    eph = propagate(sats, grid)
    all_pairs = np.array(list(itertools.combinations(range(66), 2)))
    t = cpu()
    w_all = isl_windows(eph, all_pairs, max_range_km=5000.0, margin_km=80.0)
    all_s = cpu() - t
    t = cpu()
    nb, _p, _s = neighbour_pairs(eph, sats, list(range(66)))
    w_nb = isl_windows(eph, nb, max_range_km=5000.0, margin_km=80.0)
    nb_s = cpu() - t
    table = Table(title=f"inter-satellite links: 66 sats x {duration_s / 3600:g} h, 5,000 km, 80 km clearance")
    for col in ("policy", "pairs", "pairs with a link", "windows", "CPU s"):
        table.add_column(col, justify="right" if col != "policy" else "left")
    table.add_row(
        "all in range",
        str(len(all_pairs)),
        str(len(set(zip(w_all.a.tolist(), w_all.b.tolist())))),
        str(len(w_all)),
        f"{all_s:.3f}",
    )
    table.add_row(
        "4 neighbours",
        str(len(nb)),
        str(len(set(zip(w_nb.a.tolist(), w_nb.b.tolist())))),
        str(len(w_nb)),
        f"{nb_s:.3f}",
    )
    console.print(table)
    return dict(
        all_pairs=len(all_pairs), all_windows=len(w_all), all_s=all_s, nb_pairs=len(nb), nb_windows=len(w_nb), nb_s=nb_s
    )


def starlink_child(duration_s: float) -> None:
    from contact_plans.scenarios import build_plan

    t = cpu()
    plan = build_plan("starlink", duration_s=duration_s)
    spent = cpu() - t
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "cpu_s": spent,
                "peak_rss_mib": peak_kib / 1024,
                "contacts": len(plan.contacts),
                "types": plan.link_type_counts(),
                "nodes": len(plan.nodes),
            }
        )
    )


def bench_starlink(quick: bool) -> dict:
    duration_s = 2 * 3600.0 if quick else 86400.0
    t = time.time()
    proc = subprocess.run(
        [sys.executable, __file__, "--starlink-child", str(duration_s)], capture_output=True, text=True, check=True
    )
    wall = time.time() - t
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    table = Table(title=f"Starlink: 1,806 sats x 26 stations x {duration_s / 3600:g} h, 4-neighbour ISLs")
    for col in ("CPU s", "wall s", "peak RSS MiB", "directed contacts", "by link type"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{res['cpu_s']:.1f}",
        f"{wall:.1f}",
        f"{res['peak_rss_mib']:.0f}",
        str(res["contacts"]),
        ", ".join(f"{k} {v}" for k, v in res["types"].items()),
    )
    console.print(table)
    console.print(f"  targets: <= 60 s, < 4 GiB")
    res["wall_s"] = wall
    res["duration_h"] = duration_s / 3600
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 h, 10 %% of the skyfield pairs, Starlink 2 h")
    parser.add_argument("--no-starlink", action="store_true", help="skip the Starlink run")
    parser.add_argument("--starlink-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.starlink_child is not None:
        starlink_child(args.starlink_child)
        return
    results = {"ground": bench_ground(args.quick), "isl": bench_isl(args.quick)}
    if not args.no_starlink:
        results["starlink"] = bench_starlink(args.quick)
    console.print_json(json.dumps(results))


if __name__ == "__main__":
    main()
