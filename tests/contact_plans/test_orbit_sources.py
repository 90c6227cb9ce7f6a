"""contact_plans.orbits: TLE and station parsing, Walker shells, propagation, interpolation, planes."""

from __future__ import annotations

import numpy as np
import pytest
from sgp4.api import SatrecArray

from contact_plans.orbits import (
    load_ground_stations,
    load_tle,
    neighbour_pairs,
    parse_ground_stations,
    parse_tle,
    parse_utc,
    plane_slots,
    propagate,
    time_grid,
    walker_delta,
)
from dtn.errors import PlanError, PlanFormatError

START = parse_utc("2026-01-03T00:00:00Z")


def test_tle_file_loads_with_names_and_norad(shared_data):
    sats = load_tle(shared_data / "tle" / "iridium-next_2026-01-03.txt")
    assert len(sats) == 66
    assert sats[0].name == "IRIDIUM 106" and sats[0].norad == 41917


def test_bad_tle_names_line_and_reason(shared_data):
    lines = (shared_data / "tle" / "iridium-next_2026-01-03.txt").read_text().splitlines()
    broken = lines[:3]
    broken[2] = broken[2][:-1] + str((int(broken[2][-1]) + 1) % 10)
    with pytest.raises(PlanFormatError, match="checksum") as exc:
        parse_tle("\n".join(broken), source="x.tle")
    assert exc.value.where == 3
    with pytest.raises(PlanFormatError, match="line 2"):
        parse_tle("\n".join(lines[:2]), source="x.tle")
    with pytest.raises(PlanFormatError, match="no TLE"):
        parse_tle("", source="x.tle")


def test_ground_stations_csv(shared_data):
    baseline = load_ground_stations(shared_data / "ground_stations.csv", baseline_only=True)
    assert len(baseline) == 20
    pair = load_ground_stations(
        shared_data / "ground_stations.csv", names=["Fucino", "Matera"], masks_deg={"Matera": 5.0}
    )
    assert [s.name for s in pair] == ["Fucino", "Matera"] and pair[1].mask_deg == 5.0
    with pytest.raises(PlanError, match="unknown ground station"):
        load_ground_stations(shared_data / "ground_stations.csv", names=["Atlantis"])
    with pytest.raises(PlanFormatError):
        parse_ground_stations("name,lat_deg,lon_deg\nX,abc,1\n", source="g.csv")


def test_hermite_interpolation_matches_sgp4_within_a_metre(shared_data):
    sats = load_tle(shared_data / "tle" / "iridium-next_2026-01-03.txt")
    grid = time_grid(START, 7200, 30)
    eph = propagate(sats, grid)
    t = np.array([0.0, 14.2, 1000.7, 3599.99, 7200.0])
    jd, fr = grid.jd_fr(t)
    _e, r, _v = SatrecArray([sats[5].satrec]).sgp4(jd, fr)
    assert np.abs(eph.interpolate(np.full(len(t), 5), t) - r[0]).max() < 1e-3  # km


def test_walker_shell_and_planes():
    sats = walker_delta(66, 6, 1, altitude_km=780, inclination_deg=86.4, epoch=START)
    assert len(sats) == 66 and sats[12].plane == 1 and sats[12].slot == 1
    eph = propagate(sats, time_grid(START, 600, 30))
    alt = np.linalg.norm(eph.r_km[:, 0], axis=1) - 6378.137
    assert np.all(np.abs(alt - 780) < 30)
    pairs, plane, _slot = neighbour_pairs(eph, sats, list(range(66)))
    degree = np.bincount(pairs.ravel(), minlength=66)
    assert degree.min() == 4 and degree.max() == 4  # a delta shell wraps around: exactly 4 neighbours
    assert list(plane[:11]) == [0] * 11
    with pytest.raises(PlanError):
        walker_delta(10, 3, 0, altitude_km=500, inclination_deg=50, epoch=START)


def test_tle_planes_from_raan_clustering(shared_data):
    sats = load_tle(shared_data / "tle" / "iridium-next_2026-01-03.txt")
    eph = propagate(sats, time_grid(START, 600, 30))
    plane, slot = plane_slots(eph, sats)
    assert sorted(np.bincount(plane)) == [11] * 6
    assert all(sorted(slot[plane == p]) == list(range(11)) for p in range(6))
    pairs, _p, _s = neighbour_pairs(eph, sats, list(range(66)))
    degree = np.bincount(pairs.ravel(), minlength=66)
    # Iridium is a star: no cross links over the counter-rotating seam, so edge planes have 3 neighbours
    assert degree.min() == 3 and degree.max() == 4
