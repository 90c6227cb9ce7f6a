"""Contact graph routing: spacedtn's `routing.Router` against aiodtnsim 0.3.1's `tvdijkstra`, same plans,
same queries, same run.

    python benchmarks/bench_routing.py            # 300 queries per plan (60 for the 10-route lists)
    python benchmarks/bench_routing.py --quick    # 40 queries per plan (10 for the 10-route lists)

Plans: three satellite plans computed by `contact_plans.generate` from the shared TLE sets and ground stations
(about 50, 110 and 190 nodes; 6k, 16k and 40k contacts), stored gzip-compressed in the native JSON format in
benchmarks/plans/ and generated there when missing.

Queries: random (source, destination, time) with a fixed seed. Single route: `Router.best_route` (cache
cleared before each query) against `tvdijkstra` with the destination given (it stops there too). Both see a
bundle of 0 bytes, because tvdijkstra has no transmission time; they must agree on the arrival time (tvdijkstra
prefers fewer hops when arrivals differ by less than 1 ms, so agreement is checked to 1 ms and exact agreement
is counted). Ten routes: `Router.routes(k=10)` (Yen: the ten best loopless routes) against tvdijkstra
repeated with the route's earliest-ending contact suppressed each time, as aiodtnsim's NG-SABR node does (ten
alternatives, not the ten best).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import pathlib
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contact_plans.model import ContactPlan  # noqa: E402
from routing import Router  # noqa: E402

PLANS_DIR = ROOT / "benchmarks" / "plans"
SHARED = ROOT.parent / "shared" / "data"

# name, TLE file, satellites (first N of the file), all stations (else the 20 baseline), start, duration
PLAN_SPECS = (
    ("routing-50", "iridium-next_2026-01-03.txt", 30, False, "2026-01-03T00:00:00Z", 43_200.0),
    ("routing-110", "iridium-next_2023-08-09.txt", 80, True, "2023-08-09T00:00:00Z", 19_200.0),
    ("routing-190", "oneweb_2025-12-22.txt", 170, False, "2025-12-22T00:00:00Z", 17_400.0),
)


def generate(name: str, tle: str, satellites: int, all_stations: bool, start: str, duration_s: float) -> ContactPlan:
    """Compute one benchmark plan with contact_plans (24 h would be 2 to 4 times larger: we keep a window)."""
    from contact_plans.generate import IslRule, PlanSpec, generate_plan
    from contact_plans.orbits import load_ground_stations, load_tle, parse_utc

    sats = load_tle(SHARED / "tle" / tle)[:satellites]
    stations = load_ground_stations(SHARED / "ground_stations.csv", baseline_only=not all_stations)
    spec = PlanSpec(
        start=parse_utc(start),
        duration_s=duration_s,
        satellites=tuple(sats),
        stations=tuple(stations),
        isl=(IslRule(policy="range"),),
        name=name,
    )
    return generate_plan(spec)


def load(path: pathlib.Path) -> ContactPlan:
    from contact_plans.formats import loads_plan

    return loads_plan(gzip.decompress(path.read_bytes()).decode("utf-8"), source=str(path))


def ensure_plans() -> list[ContactPlan]:
    from contact_plans.formats import dumps_plan

    PLANS_DIR.mkdir(parents=True, exist_ok=True)
    plans = []
    for spec in PLAN_SPECS:
        path = PLANS_DIR / f"{spec[0]}.json.gz"
        if not path.exists():
            plan = generate(*spec)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(gzip.compress(dumps_plan(plan).encode("utf-8"), compresslevel=9, mtime=0))
            os.replace(tmp, path)
        plans.append(load(path))
    return plans


def to_tvg(plan: ContactPlan):
    """The plan as the TVG that aiodtnsim's tvdijkstra walks: per (tx, rx) edge, contacts sorted by start."""
    from tvgutil.contact_plan import SimplePredictedContactTuple
    from tvgutil.tvg import TVG

    vertices: dict[int, set[int]] = {n.number: set() for n in plan.nodes}
    edges: dict[tuple[int, int], list] = {}
    for c in plan.contacts:
        vertices.setdefault(c.from_node, set()).add(c.to_node)
        vertices.setdefault(c.to_node, set())
        edges.setdefault((c.from_node, c.to_node), []).append(
            SimplePredictedContactTuple(
                tx_node=c.from_node,
                rx_node=c.to_node,
                start_time=c.start_s,
                end_time=c.end_s,
                bit_rate=c.rate_bytes_per_s * 8,
                probability=c.confidence,
                delay=c.owlt_s,
            )
        )
    for contacts in edges.values():
        contacts.sort(key=lambda t: t.start_time)
    return TVG({k: sorted(v) for k, v in vertices.items()}, edges, contact_type=SimplePredictedContactTuple)


def tv_best(tvdijkstra, tvg, source, destination, t_s):
    result = tvdijkstra(tvg, source, dest_node=destination, start_time=t_s, node_blacklist=[], contact_blacklist=set())
    return result.get_metrics(destination).eat


def tv_suppression(tvdijkstra, tvg, source, destination, t_s, k):
    """Up to k routes: tvdijkstra again and again, each time without the previous route's earliest-ending
    contact (the route generator of aiodtnsim's NG-SABR node)."""
    suppressed: set = set()
    routes = []
    while len(routes) < k:
        result = tvdijkstra(
            tvg, source, dest_node=destination, start_time=t_s, node_blacklist=[], contact_blacklist=suppressed
        )
        hops, _, contacts, _ = result.get_path(destination)
        if not hops:
            break
        contacts = list(contacts)
        routes.append(contacts)
        suppressed.add(min(contacts, key=lambda c: c.end_time))
    return routes


def queries(plan: ContactPlan, n: int, seed: int) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    nodes = plan.node_numbers()
    lo, hi = plan.start_s, plan.start_s + 0.75 * (plan.end_s - plan.start_s)
    return [(*rng.sample(nodes, 2), rng.uniform(lo, hi)) for _ in range(n)]


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def run(n_single: int, n_lists: int, seed: int) -> list[dict]:
    try:
        from aiodtnsim.simulation.cgr.tvdijkstra import tvdijkstra
    except ImportError:
        tvdijkstra = None
        print("aiodtnsim is not installed (pip install -e .[bench]): timing spacedtn alone", file=sys.stderr)
    rows = []
    for plan in ensure_plans():
        built = time.perf_counter()
        router = Router(plan)
        build_s = time.perf_counter() - built
        tvg = to_tvg(plan) if tvdijkstra else None
        qs = queries(plan, n_single, seed)
        ours, theirs, sized, hops = [], [], [], []
        agree_exact = agree_ms = 0
        worst_diff_s = 0.0
        gc.collect()
        for source, destination, t_s in qs:
            router.clear_cache()
            t0 = time.perf_counter()
            route = router.best_route(source, destination, t_s, 0)
            ours.append(time.perf_counter() - t0)
            router.clear_cache()
            t0 = time.perf_counter()
            router.best_route(source, destination, t_s, 1_000_000)
            sized.append(time.perf_counter() - t0)
            mine = route.arrival_s if route else float("inf")
            if route:
                hops.append(route.hop_count)
            if tvdijkstra:
                t0 = time.perf_counter()
                eat = tv_best(tvdijkstra, tvg, source, destination, t_s)
                theirs.append(time.perf_counter() - t0)
                diff = 0.0 if eat == mine else abs(eat - mine)
                worst_diff_s = max(worst_diff_s, diff)
                agree_exact += diff == 0.0
                agree_ms += diff <= 1e-3
        ours10, theirs10 = [], []
        for source, destination, t_s in qs[:n_lists]:
            router.clear_cache()
            t0 = time.perf_counter()
            router.routes(source, destination, t_s, 0, k=10)
            ours10.append(time.perf_counter() - t0)
            if tvdijkstra:
                t0 = time.perf_counter()
                tv_suppression(tvdijkstra, tvg, source, destination, t_s, 10)
                theirs10.append(time.perf_counter() - t0)
        rows.append(
            {
                "plan": plan.name,
                "nodes": len(plan.nodes),
                "contacts": len(plan.contacts),
                "build_ms": build_s * 1e3,
                "queries": len(qs),
                "mean_hops": statistics.mean(hops) if hops else 0.0,
                "ours_ms": ms(ours),
                "ours_p90_ms": statistics.quantiles(ours, n=10)[-1] * 1e3 if len(ours) > 1 else ms(ours),
                "ours_1mb_ms": ms(sized),
                "theirs_ms": ms(theirs) if theirs else None,
                "agree_ms": agree_ms,
                "agree_exact": agree_exact,
                "worst_diff_s": worst_diff_s,
                "lists": len(ours10),
                "ours10_ms": ms(ours10),
                "theirs10_ms": ms(theirs10) if theirs10 else None,
            }
        )
    return rows


def render(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    def ratio(a, b):
        return f"{a / b:.1f}x" if a and b else "-"

    def num(x, fmt="{:.3f}"):
        return "-" if x is None else fmt.format(x)

    table = Table(title="CGR: spacedtn Router vs aiodtnsim tvdijkstra (median ms per query)")
    for column in (
        "plan",
        "nodes",
        "contacts",
        "queries",
        "hops",
        "spacedtn",
        "aiodtnsim",
        "speed-up",
        "agree 1ms",
        "10 routes",
        "aiodtnsim 10",
        "speed-up 10",
    ):
        table.add_column(column, justify="left" if column == "plan" else "right")
    for r in rows:
        table.add_row(
            r["plan"],
            str(r["nodes"]),
            f"{r['contacts']:,}",
            str(r["queries"]),
            f"{r['mean_hops']:.1f}",
            num(r["ours_ms"]),
            num(r["theirs_ms"]),
            ratio(r["theirs_ms"], r["ours_ms"]),
            f"{r['agree_ms']}/{r['queries']}" if r["theirs_ms"] is not None else "-",
            num(r["ours10_ms"], "{:.2f}"),
            num(r["theirs10_ms"], "{:.2f}"),
            ratio(r["theirs10_ms"], r["ours10_ms"]),
        )
    console = Console()
    if console.width < 150:  # a pipe or a narrow terminal: keep the table readable in logs
        console = Console(width=150)
    console.print(table)
    for r in rows:
        console.print(
            f"{r['plan']}: router built in {r['build_ms']:.0f} ms; spacedtn p90 {r['ours_p90_ms']:.3f} ms, "
            f"1 MB bundle {r['ours_1mb_ms']:.3f} ms; exact arrival agreement {r['agree_exact']}/{r['queries']}, "
            f"largest difference {r['worst_diff_s'] * 1e3:.3f} ms"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 queries per plan (10 for 10-route lists)")
    parser.add_argument("--queries", type=int, default=300, help="single-route queries per plan (default 300)")
    parser.add_argument("--lists", type=int, default=60, help="10-route queries per plan (default 60)")
    parser.add_argument("--seed", type=int, default=2024, help="query seed (default 2024)")
    args = parser.parse_args(argv)
    n_single, n_lists = (40, 10) if args.quick else (args.queries, args.lists)
    render(run(n_single, n_lists, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
