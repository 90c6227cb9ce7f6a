"""Contact plans from orbits: a `PlanSpec` (satellites, stations, lunar sites, ISL rules, rates) in, a
`ContactPlan` out.

    spec = PlanSpec(start=parse_utc("2026-01-03T00:00:00Z"), duration_s=86400,
                    satellites=tuple(load_tle("iridium.txt")), stations=tuple(load_ground_stations("gs.csv")),
                    isl=(IslRule(("default", "default"), policy="neighbours"),))
    plan = generate_plan(spec, progress=lambda stage, done, total: None)

Node numbers: ground stations 1..89 (in spec order), lunar sites 90..99, satellites 100.. (in spec order).
Every link window becomes two directed contacts (one each way) with the rate of its link type and an OWLT of
the largest range over the window divided by c. Output is deterministic: contacts sorted by (start, end,
from, to).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping

import numpy as np

from contact_plans.links import Windows, ground_windows, isl_windows, lunar_windows
from contact_plans.model import Contact, ContactPlan, Node, NodeKind, link_type_of
from contact_plans.orbits import (
    SPEED_OF_LIGHT_KM_PER_S,
    GroundStation,
    LunarSite,
    Satellite,
    neighbour_pairs,
    plane_slots,
    propagate,
    time_grid,
    utc,
)
from dtn.errors import PlanError

GROUND_FIRST = 1
GROUND_LAST = 89
LUNAR_FIRST = 90
LUNAR_LAST = 99
SATELLITE_FIRST = 100

DEFAULT_RATES_BYTES_PER_S: dict[str, float] = {
    "ground-satellite": 12_500_000.0,  # 100 Mbit/s feeder link
    "ground-station": 12_500_000.0,  # 100 Mbit/s to an orbital station
    "satellite-satellite": 2_500_000.0,  # 20 Mbit/s optical/RF crosslink
    "satellite-station": 2_500_000.0,
    "station-station": 2_500_000.0,
    "ground-lunar": 250_000.0,  # 2 Mbit/s deep-space link
}

IslPolicy = Literal["neighbours", "range"]


@dataclass(frozen=True, slots=True)
class IslRule:
    """Inter-satellite links between satellite groups `groups` (the same group twice for links inside a
    group). Policy "range": every pair; "neighbours": Iridium-style fore/aft in plane plus the nearest
    satellite in each adjacent plane (one group only). A pair has a link while its line of sight clears the
    Earth by `margin_km` and its range is at most `max_range_km`."""

    groups: tuple[str, str] = ("default", "default")
    policy: IslPolicy = "range"
    max_range_km: float = 5000.0
    margin_km: float = 80.0


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """Everything a generated plan depends on. `ground_groups`: satellite groups that link to the ground
    (None = all). `rates_bytes_per_s` overrides `DEFAULT_RATES_BYTES_PER_S` per link type."""

    start: dt.datetime
    duration_s: float
    satellites: tuple[Satellite, ...] = ()
    stations: tuple[GroundStation, ...] = ()
    lunar_sites: tuple[LunarSite, ...] = ()
    isl: tuple[IslRule, ...] = ()
    ground_groups: tuple[str, ...] | None = None
    rates_bytes_per_s: Mapping[str, float] = field(default_factory=dict)
    step_s: float = 30.0
    min_duration_s: float = 0.0
    name: str = ""


ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances."""


class _NoProgress:
    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, stage: str, done: int, total: int) -> None:
        return None


def _check(spec: PlanSpec) -> None:
    if not (spec.duration_s > 0 and math.isfinite(spec.duration_s)):
        raise PlanError(f"duration must be positive, got {spec.duration_s!r}")
    if len(spec.stations) > GROUND_LAST - GROUND_FIRST + 1:
        raise PlanError(f"at most {GROUND_LAST - GROUND_FIRST + 1} ground stations (node numbers 1..89)")
    if len(spec.lunar_sites) > LUNAR_LAST - LUNAR_FIRST + 1:
        raise PlanError("at most 10 lunar sites (node numbers 90..99)")
    counts = Counter([s.name for s in spec.stations] + [s.name for s in spec.lunar_sites])
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        raise PlanError(f"station and site names must be unique: {dup[:5]}")
    groups = {s.group for s in spec.satellites}
    for rule in spec.isl:
        if rule.policy not in ("neighbours", "range"):
            raise PlanError(f"unknown ISL policy {rule.policy!r} (neighbours or range)")
        for g in rule.groups:
            if g not in groups:
                raise PlanError(f"ISL rule names satellite group {g!r}; groups are {sorted(groups)}")
        if rule.policy == "neighbours" and rule.groups[0] != rule.groups[1]:
            raise PlanError("the neighbours ISL policy links satellites inside one group")
        if not (rule.max_range_km > 0 and rule.margin_km >= 0):
            raise PlanError("ISL max_range_km must be positive and margin_km >= 0")
    for s in spec.stations:
        if not -90 < s.mask_deg < 90:
            raise PlanError(f"station {s.name}: mask {s.mask_deg} deg out of range")
    for key, rate in spec.rates_bytes_per_s.items():
        if not (rate > 0 and math.isfinite(rate)):
            raise PlanError(f"rate for {key!r} must be positive, got {rate!r}")


def generate_plan(spec: PlanSpec, *, progress: ProgressFn | None = None) -> ContactPlan:
    """Compute the contact plan of `spec`. A function progress(stage, done, total) receives updates as work
    advances (the CLI draws them as a progress bar: `dtn.cli.progress.StageProgress`)."""
    _check(spec)
    if callable(progress):
        reporter = None
        report = progress
    else:
        reporter: _NoProgress | None = _NoProgress()
        report: ProgressFn = reporter
    if reporter is not None:
        with reporter:
            return _generate(spec, report)
    return _generate(spec, report)


def _generate(spec: PlanSpec, report: ProgressFn) -> ContactPlan:
    start = utc(spec.start)
    grid = time_grid(start, spec.duration_s, spec.step_s)
    sats = list(spec.satellites)
    report("propagate", 0, 1)
    eph = propagate(sats, grid)
    report("propagate", 1, 1)
    rates = {**DEFAULT_RATES_BYTES_PER_S, **spec.rates_bytes_per_s}

    # nodes
    nodes: list[Node] = []
    for i, st in enumerate(spec.stations):
        nodes.append(
            Node(
                GROUND_FIRST + i,
                st.name,
                NodeKind.GROUND,
                {
                    "lat_deg": st.lat_deg,
                    "lon_deg": st.lon_deg,
                    "alt_m": st.alt_m,
                    "mask_deg": st.mask_deg,
                    "network": st.network,
                    "baseline": st.baseline,
                },
            )
        )
    for i, site in enumerate(spec.lunar_sites):
        nodes.append(
            Node(
                LUNAR_FIRST + i,
                site.name,
                NodeKind.LUNAR,
                {"lat_deg": site.lat_deg, "lon_deg": site.lon_deg, "alt_m": site.alt_m, "mask_deg": site.mask_deg},
            )
        )
    planes, slots = plane_slots(eph, sats) if sats else (np.empty(0, int), np.empty(0, int))
    taken = {n.name for n in nodes}
    sat_names = Counter(s.name for s in sats)
    for i, sat in enumerate(sats):
        name = sat.name
        if sat_names[name] > 1 or name in taken:  # TLE files repeat names now and then: add the NORAD number
            name = f"{name} ({sat.norad if sat.norad is not None else SATELLITE_FIRST + i})"
        meta = dict(sat.metadata)
        meta["group"] = sat.group
        if sat.norad is not None:
            meta["norad"] = sat.norad
        plane = sat.plane if sat.plane is not None else int(planes[i])
        slot = sat.slot if sat.slot is not None else int(slots[i])
        if plane >= 0:
            meta["plane"] = int(plane)
            meta["slot"] = int(slot)
        nodes.append(Node(SATELLITE_FIRST + i, name, NodeKind(sat.kind), meta))
    kinds = [NodeKind(s.kind) for s in sats]

    arrays: list[tuple[np.ndarray, ...]] = []  # (from, to, start, end, rate, owlt)

    def add(windows: Windows, a_num: np.ndarray, b_num: np.ndarray, rate: np.ndarray) -> None:
        keep = (windows.end_s - windows.start_s) > spec.min_duration_s
        if not keep.any():
            return
        owlt = windows.max_range_km[keep] / SPEED_OF_LIGHT_KM_PER_S
        s, e = windows.start_s[keep], windows.end_s[keep]
        a_num, b_num, rate = a_num[keep], b_num[keep], rate[keep]
        arrays.append((a_num, b_num, s, e, rate, owlt))
        arrays.append((b_num, a_num, s, e, rate, owlt))

    def rate_for(kind_a: NodeKind, kind_b: NodeKind) -> float:
        key = link_type_of(kind_a, kind_b)
        if key not in rates:
            raise PlanError(f"no rate for link type {key!r}: give rates_bytes_per_s[{key!r}]")
        return float(rates[key])

    # satellite <-> ground
    ground_sats = [i for i, s in enumerate(sats) if spec.ground_groups is None or s.group in spec.ground_groups]
    if spec.stations and ground_sats:
        total = len(ground_sats)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            report("ground passes", done[0], total)

        gw = ground_windows(eph, spec.stations, ground_sats, on_chunk=tick)
        kind_rate = {k: rate_for(k, NodeKind.GROUND) for k in set(kinds)}
        rate = np.array([kind_rate[kinds[i]] for i in gw.a], dtype=float)
        add(gw, SATELLITE_FIRST + gw.a, GROUND_FIRST + gw.b, rate)

    # satellite <-> satellite
    for rule in spec.isl:
        members_a = [i for i, s in enumerate(sats) if s.group == rule.groups[0]]
        if rule.policy == "neighbours":
            pairs, _p, _s = neighbour_pairs(eph, sats, members_a)
        elif rule.groups[0] == rule.groups[1]:
            pairs = np.array(list(itertools.combinations(members_a, 2)), dtype=np.int64).reshape(-1, 2)
        else:
            members_b = [i for i, s in enumerate(sats) if s.group == rule.groups[1]]
            pairs = np.array(
                [(min(a, b), max(a, b)) for a in members_a for b in members_b if a != b], dtype=np.int64
            ).reshape(-1, 2)
            pairs = np.unique(pairs, axis=0)
        total = len(pairs)
        done = [0]
        stage = f"ISL {rule.groups[0]}-{rule.groups[1]}"

        def tick_isl(n: int, stage=stage, total=total) -> None:
            done[0] += n
            report(stage, done[0], total)

        iw = isl_windows(eph, pairs, max_range_km=rule.max_range_km, margin_km=rule.margin_km, on_chunk=tick_isl)
        rate = np.array([rate_for(kinds[a], kinds[b]) for a, b in zip(iw.a, iw.b)], dtype=float)
        add(iw, SATELLITE_FIRST + iw.a, SATELLITE_FIRST + iw.b, rate)

    # Earth station <-> lunar site
    if spec.lunar_sites and spec.stations:
        report("lunar links", 0, 1)
        lw = lunar_windows(grid, spec.stations, spec.lunar_sites)
        add(lw, LUNAR_FIRST + lw.a, GROUND_FIRST + lw.b, np.full(len(lw), rate_for(NodeKind.LUNAR, NodeKind.GROUND)))
        report("lunar links", 1, 1)

    if arrays:
        cols = [np.concatenate([a[i] for a in arrays]) for i in range(6)]
    else:
        cols = [np.empty(0)] * 6
    order = np.lexsort((cols[1], cols[0], cols[3], cols[2]))
    f_, t_, s_, e_, r_, o_ = (c[order] for c in cols)
    contacts = [
        Contact(int(a), int(b), float(s), float(e), float(r), float(o))
        for a, b, s, e, r, o in zip(f_.tolist(), t_.tolist(), s_.tolist(), e_.tolist(), r_.tolist(), o_.tolist())
    ]
    return ContactPlan(epoch=start, nodes=nodes, contacts=contacts, name=spec.name)
