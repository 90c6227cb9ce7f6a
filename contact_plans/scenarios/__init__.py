"""Ready-made scenarios: real orbits and stations, generated into contact plans.

    from contact_plans.scenarios import SCENARIOS, build_plan, scenario
    plan = build_plan("milsca")                        # 24 h from 2026-01-03T00:00:00Z
    print(scenario("milsca").description)

| name | what |
|---|---|
| milsca | Iridium NEXT (66 satellites, 6 planes) with 4-neighbour ISLs; Fucino, Matera + 20 baseline stations |
| axiom | the ISS as an orbital data centre, ground passes only (20 baseline stations) |
| lonestar | a data centre on the Moon; ESA's deep-space stations Cebreros, Malargue, New Norcia |
| ascend | 4 data-centre satellites at 1,400 km reached through a 72-satellite LEO shell at 550 km |
| starlink | the 1,806 Starlink satellites of early 2022 with ISLs, 26 stations (for scale) |

Every node carries a `role` in its metadata: "data_centre", "storage" (a storing satellite), "relay",
"user" or "gateway". The data files live in `contact_plans/scenarios/data/` (see its README.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from dataclasses import dataclass
from typing import Callable

from contact_plans.generate import IslRule, PlanSpec, ProgressFn, generate_plan
from contact_plans.model import ContactPlan, Node, NodeKind
from contact_plans.orbits import LunarSite, load_ground_stations, load_tle, parse_utc, utc, walker_delta
from dtn.errors import PlanError

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
STATIONS_CSV = DATA_DIR / "ground_stations.csv"
IRIDIUM_TLE = DATA_DIR / "iridium-next_2026-01-03.txt"
STATIONS_TLE = DATA_DIR / "stations_2022-01-07.txt"
STARLINK_TLE = DATA_DIR / "starlink_2022-01-07.txt"
DAY_S = 86400.0
ISS_NORAD = 25544


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario: what it models, who stores data and who uses it, and its default time span."""

    name: str
    title: str
    description: str
    data_centres: str
    users: str
    default_start: dt.datetime
    default_duration_s: float
    build_spec: Callable[[dt.datetime, float], tuple[PlanSpec, dict[str, str], str]]


def _baseline() -> list:
    return load_ground_stations(STATIONS_CSV, baseline_only=True)


def _milsca(start: dt.datetime, duration_s: float):
    sats = load_tle(IRIDIUM_TLE, group="iridium")
    stations = load_ground_stations(STATIONS_CSV, names=["Fucino", "Matera"]) + _baseline()
    spec = PlanSpec(
        start=start,
        duration_s=duration_s,
        satellites=tuple(sats),
        stations=tuple(stations),
        isl=(IslRule(("iridium", "iridium"), policy="neighbours", max_range_km=5000.0),),
        name="milsca",
    )
    roles = {"Fucino": "user", "Matera": "user"}
    return spec, roles, "gateway"


def _axiom(start: dt.datetime, duration_s: float):
    iss = load_tle(STATIONS_TLE, group="iss", kind=NodeKind.STATION, norad=[ISS_NORAD])
    spec = PlanSpec(
        start=start, duration_s=duration_s, satellites=tuple(iss), stations=tuple(_baseline()), name="axiom"
    )
    return spec, {iss[0].name: "data_centre"}, "user"


LONESTAR_SITE = LunarSite("Lonestar Moon DC", lat_deg=0.674, lon_deg=23.473, mask_deg=5.0)


def _lonestar(start: dt.datetime, duration_s: float):
    stations = load_ground_stations(STATIONS_CSV, names=["Cebreros", "Malargue", "New Norcia"])
    spec = PlanSpec(
        start=start,
        duration_s=duration_s,
        stations=tuple(stations),
        lunar_sites=(LONESTAR_SITE,),
        step_s=60.0,
        name="lonestar",
    )
    return spec, {LONESTAR_SITE.name: "data_centre"}, "user"


def _ascend(start: dt.datetime, duration_s: float):
    leo = walker_delta(
        72, 6, 1, altitude_km=550.0, inclination_deg=53.0, epoch=start, name_prefix="ASCEND-LEO", group="leo"
    )
    dcs = walker_delta(
        4,
        2,
        1,
        altitude_km=1400.0,
        inclination_deg=53.0,
        epoch=start,
        name_prefix="ASCEND-DC",
        group="dc",
        kind=NodeKind.STATION,
        first_satnum=91000,
        raan_offset_deg=30.0,
    )
    spec = PlanSpec(
        start=start,
        duration_s=duration_s,
        satellites=tuple(leo + dcs),
        stations=tuple(_baseline()),
        isl=(
            IslRule(("leo", "leo"), policy="neighbours", max_range_km=5000.0),
            IslRule(("leo", "dc"), policy="range", max_range_km=3000.0),
        ),
        ground_groups=("leo",),
        name="ascend",
    )
    roles = {s.name: "data_centre" for s in dcs} | {s.name: "relay" for s in leo}
    return spec, roles, "user"


def _starlink(start: dt.datetime, duration_s: float):
    sats = load_tle(STARLINK_TLE, group="starlink")
    stations = [s for s in load_ground_stations(STATIONS_CSV) if s.name not in ("Fucino", "Matera")]
    spec = PlanSpec(
        start=start,
        duration_s=duration_s,
        satellites=tuple(sats),
        stations=tuple(stations),
        isl=(IslRule(("starlink", "starlink"), policy="neighbours", max_range_km=5000.0),),
        name="starlink",
    )
    return spec, {s.name: "relay" for s in sats}, "gateway"


_REGISTRY: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "milsca",
            "Iridium NEXT storing constellation over Italy",
            "The operational Iridium NEXT shell (66 satellites, 6 planes x 11, 780 km, 86.4 deg) with Iridium-style "
            "4-neighbour inter-satellite links (fore/aft in plane, nearest in each adjacent plane; none across the "
            "counter-rotating seam), range <= 5,000 km, line of sight 80 km above the Earth. Ground: Fucino and "
            "Matera (nodes 1, 2) plus the 20-station ESTRACK/KSAT/NEN baseline, 10 deg mask. Every satellite "
            "stores bundles (metadata role 'storage', storing true).",
            "every satellite (storing nodes, role 'storage')",
            "Fucino and Matera",
            parse_utc("2026-01-03T00:00:00Z"),
            DAY_S,
            _milsca,
        ),
        Scenario(
            "axiom",
            "Orbital data centre on the ISS",
            "The ISS (NORAD 25544, stations TLE of 2022-01-07) as an orbital data centre (node kind 'station'), "
            "with ground passes only to the 20 baseline stations at a 10 deg mask.",
            "the ISS",
            "the 20 baseline ground stations",
            parse_utc("2022-01-07T00:00:00Z"),
            DAY_S,
            _axiom,
        ),
        Scenario(
            "lonestar",
            "Lunar-surface data centre",
            "A data centre on the lunar surface (Mare Tranquillitatis, 0.674 N 23.473 E, near side) linked to ESA's "
            "deep-space stations Cebreros, Malargue and New Norcia whenever the Moon is 10 deg above a station and "
            "the station 5 deg above the site's horizon (DE421 positions; IAU mean lunar orientation). OWLT about "
            "1.3 s.",
            "the lunar site 'Lonestar Moon DC' (node 90)",
            "Cebreros, Malargue, New Norcia",
            parse_utc("2026-01-03T00:00:00Z"),
            DAY_S,
            _lonestar,
        ),
        Scenario(
            "ascend",
            "Data-centre satellites above a LEO relay shell",
            "Four data-centre satellites (node kind 'station', Walker 4/2/1 at 1,400 km, 53 deg) reached only through "
            "a 72-satellite LEO shell (Walker 72/6/1 at 550 km, 53 deg) with 4-neighbour ISLs; LEO to data-centre "
            "links whenever in view within 3,000 km. Only the LEO shell talks to the 20 baseline stations.",
            "the four ASCEND-DC satellites",
            "the 20 baseline ground stations",
            parse_utc("2026-01-03T00:00:00Z"),
            DAY_S,
            _ascend,
        ),
        Scenario(
            "starlink",
            "Starlink at scale",
            "The 1,806 Starlink satellites of 2022-01-07 with 4-neighbour ISLs (planes from RAAN clustering) and 26 "
            "ground stations (all but Fucino and Matera) at a 10 deg mask. For scale tests and benchmarks.",
            "none",
            "the 26 ground stations",
            parse_utc("2022-01-07T00:00:00Z"),
            DAY_S,
            _starlink,
        ),
    )
}

SCENARIOS: tuple[str, ...] = tuple(_REGISTRY)


def scenario(name: str) -> Scenario:
    """The Scenario called `name` (one of SCENARIOS)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PlanError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})") from None


def describe(name: str) -> str:
    """A paragraph about a scenario: what it models, its data centres and users, its default span."""
    s = scenario(name)
    return (
        f"{s.name}: {s.title}\n{s.description}\nData centres: {s.data_centres}. Users: {s.users}.\n"
        f"Default: {s.default_start:%Y-%m-%dT%H:%M:%SZ}, {s.default_duration_s / 3600:g} h."
    )


def spec_for(name: str, *, start: dt.datetime | None = None, duration_s: float | None = None) -> PlanSpec:
    """The generation spec of a scenario (for inspection or tweaking before `generate_plan`)."""
    s = scenario(name)
    spec, _roles, _default = s.build_spec(
        utc(start) if start else s.default_start, s.default_duration_s if duration_s is None else float(duration_s)
    )
    return spec


def build_plan(
    name: str, *, start: dt.datetime | None = None, duration_s: float | None = None, progress: ProgressFn | None = None
) -> ContactPlan:
    """Generate the contact plan of scenario `name` (default start near the TLE epochs, default 24 h)."""
    s = scenario(name)
    spec, roles, default_role = s.build_spec(
        utc(start) if start else s.default_start, s.default_duration_s if duration_s is None else float(duration_s)
    )
    plan = generate_plan(spec, progress=progress)
    nodes = []
    for node in plan.nodes:
        meta = dict(node.metadata)
        role = roles.get(node.name)
        if role is None:
            role = "storage" if name == "milsca" and node.kind == NodeKind.SATELLITE else default_role
        meta["role"] = role
        if name == "milsca" and node.kind == NodeKind.SATELLITE:
            meta["storing"] = True
        nodes.append(Node(node.number, node.name, node.kind, meta))
    return dataclasses.replace(plan, nodes=nodes)


__all__ = ["SCENARIOS", "Scenario", "scenario", "describe", "spec_for", "build_plan", "DATA_DIR"]
