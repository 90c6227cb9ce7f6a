"""Where the nodes of a run were: ground stations and satellite sub-points over time (pure; numpy, sgp4).

`run_geometry(plan, satellites, ...)` returns a JSON-able dict that `dtn simulate`, `dtn replay` and `dtn demo`
write to a run directory as `geometry.json`; the report's world map (`dtn.twin.plots.plot_map`) reads it, so a
report can be drawn again later without the TLEs. Latitudes are geocentric (good to ~0.2 deg on a world map).
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any, Sequence

import numpy as np

from contact_plans.generate import SATELLITE_FIRST
from contact_plans.model import ContactPlan, NodeKind
from contact_plans.orbits import Satellite, propagate, teme_to_ecef, time_grid

GEOMETRY_FILE = "geometry.json"


def run_geometry(
    plan: ContactPlan, satellites: Sequence[Satellite], *, end_s: float, step_s: float = 60.0
) -> dict[str, Any]:
    """Stations (fixed) and satellite sub-points every `step_s` from the plan epoch to `end_s`.

    `satellites` are the plan's satellites in node-number order (node SATELLITE_FIRST + i), as the plan
    generator numbers them."""
    stations = {}
    for node in plan.nodes:
        md = node.metadata or {}
        if node.kind == NodeKind.GROUND and "lat_deg" in md and "lon_deg" in md:
            stations[str(node.number)] = {
                "name": node.name,
                "lat_deg": round(float(md["lat_deg"]), 3),
                "lon_deg": round(float(md["lon_deg"]), 3),
            }
    out: dict[str, Any] = {"step_s": step_s, "t_s": [], "stations": stations, "satellites": {}}
    if not satellites or not (end_s > 0 and math.isfinite(end_s)):
        return out
    grid = time_grid(plan.epoch, end_s, step_s)
    eph = propagate(list(satellites), grid)
    ecef = teme_to_ecef(eph.r_km, grid.gmst_rad(grid.t_s))
    x, y, z = ecef[..., 0], ecef[..., 1], ecef[..., 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    names = {n.number: n.name for n in plan.nodes}
    out["t_s"] = [round(float(t), 1) for t in grid.t_s]
    for i in range(len(satellites)):
        number = SATELLITE_FIRST + i
        ok = np.isfinite(lat[i])
        out["satellites"][str(number)] = {
            "name": names.get(number, satellites[i].name),
            "lat_deg": [round(float(v), 2) if k else None for v, k in zip(lat[i], ok)],
            "lon_deg": [round(float(v), 2) if k else None for v, k in zip(lon[i], ok)],
        }
    return out


def write_geometry(run_dir: str | pathlib.Path, geometry: dict[str, Any]) -> pathlib.Path:
    path = pathlib.Path(run_dir) / GEOMETRY_FILE
    path.write_text(json.dumps(geometry, separators=(",", ":")), encoding="utf-8")
    return path


def read_geometry(run_dir: str | pathlib.Path) -> dict[str, Any] | None:
    """The run's geometry, or None when the run has none (a plan without orbits) or the file is unreadable."""
    path = pathlib.Path(run_dir) / GEOMETRY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "stations" in data else None


def position_at(geometry: dict[str, Any], number: int, t_s: float) -> tuple[float, float] | None:
    """(lat, lon) of a node at plan time t_s (the nearest grid point for satellites)."""
    key = str(number)
    if key in geometry.get("stations", {}):
        st = geometry["stations"][key]
        return st["lat_deg"], st["lon_deg"]
    sat = geometry.get("satellites", {}).get(key)
    times = geometry.get("t_s") or []
    if sat is None or not times:
        return None
    k = int(round((t_s - times[0]) / geometry.get("step_s", 60.0)))
    k = min(max(k, 0), len(times) - 1)
    lat, lon = sat["lat_deg"][k], sat["lon_deg"][k]
    return None if lat is None or lon is None else (lat, lon)
