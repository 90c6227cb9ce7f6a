"""contact_plans.links: windows against skyfield's find_events (sample of pairs), grazing passes, ISLs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skyfield.api import EarthSatellite, wgs84

from contact_plans.links import ground_windows, isl_windows, lunar_windows
from contact_plans.orbits import (
    GroundStation,
    LunarSite,
    load_ground_stations,
    load_tle,
    parse_utc,
    propagate,
    time_grid,
    timescale,
    walker_delta,
)

START = parse_utc("2026-01-03T00:00:00Z")


def _skyfield_windows(sat, station, start, duration_s):
    ts = timescale()
    t0 = ts.from_datetime(start)
    t1 = ts.tt_jd(t0.tt + duration_s / 86400.0)
    es = EarthSatellite.from_satrec(sat.satrec, ts)
    top = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    times, events = es.find_events(top, t0, t1, altitude_degrees=station.mask_deg)
    secs = (times.tt - t0.tt) * 86400.0
    out, rise = [], 0.0 if len(events) and events[0] != 0 else None
    for s, e in zip(secs, events):
        if e == 0:
            rise = s
        elif e == 2 and rise is not None:
            out.append((rise, s))
            rise = None
    return out


@pytest.mark.parametrize("step_s", [30.0, 120.0])
def test_ground_windows_match_skyfield(shared_data, step_s):
    """Edges within 0.5 s of skyfield and no missed window of 10 s or longer, also on a coarse grid where
    short passes peak between grid points (the grazing rescue)."""
    sats = load_tle(shared_data / "tle" / "iridium-next_2026-01-03.txt")
    stations = load_ground_stations(shared_data / "ground_stations.csv", names=["Svalbard", "Fucino", "Kourou"])
    duration_s = 6 * 3600.0
    eph = propagate(sats, time_grid(START, duration_s, step_s))
    w = ground_windows(eph, stations)
    worst = 0.0
    for si, sj in itertools.product(range(0, 66, 5), range(len(stations))):
        ours = [(s, e) for a, b, s, e in zip(w.a, w.b, w.start_s, w.end_s) if a == si and b == sj]
        theirs = _skyfield_windows(sats[si], stations[sj], START, duration_s)
        for rise, fall in theirs:
            match = [o for o in ours if o[0] < fall and rise < o[1]]
            if fall - rise >= 10.0:
                assert match, f"missed window {rise:.1f}..{fall:.1f} s of sat {si} at {stations[sj].name}"
            if match:
                o = match[0]
                if rise > 0:
                    worst = max(worst, abs(o[0] - rise))
                if fall < duration_s:
                    worst = max(worst, abs(o[1] - fall))
        assert len(ours) <= len(theirs) + 1
    assert worst < 0.5


def test_grazing_pass_between_grid_points_is_rescued():
    """A pass that never shows on the grid: a satellite whose whole pass above the mask lasts well under one
    grid step."""
    sats = walker_delta(1, 1, 0, altitude_km=500, inclination_deg=53, epoch=START)
    fine = propagate(sats, time_grid(START, 43200, 5))
    coarse = propagate(sats, time_grid(START, 43200, 240))
    station = [GroundStation("Site", 40.0, 10.0, mask_deg=30.0)]
    reference = ground_windows(fine, station)
    found = ground_windows(coarse, station)
    short = [(s, e) for s, e in zip(reference.start_s, reference.end_s) if e - s < 240]
    assert short, "the scenario should contain passes shorter than a coarse grid step"
    assert len(found) == len(reference)
    assert np.allclose(found.start_s, reference.start_s, atol=0.01)
    assert np.allclose(found.end_s, reference.end_s, atol=0.01)


def test_isl_line_of_sight_and_range():
    sats = walker_delta(24, 2, 0, altitude_km=550, inclination_deg=53, epoch=START)
    eph = propagate(sats, time_grid(START, 6000, 30))
    # in-plane neighbours 30 deg apart see each other all the time; 180 deg apart never
    w = isl_windows(eph, np.array([[0, 1], [0, 6]]), max_range_km=5000.0)
    assert list(zip(w.a, w.b)) == [(0, 1)]
    assert w.start_s[0] == 0.0 and w.end_s[0] == 6000.0
    assert 3000 < w.max_range_km[0] < 4000
    # 90 deg apart: the Earth is in the way, whatever the range limit
    assert len(isl_windows(eph, np.array([[0, 3]]), max_range_km=20000.0)) == 0
    # 30 deg apart (3,590 km) but the range limit is shorter
    assert len(isl_windows(eph, np.array([[0, 1]]), max_range_km=3000.0)) == 0


def test_lunar_windows_follow_the_moon():
    grid = time_grid(START, 86400, 60)
    stations = [GroundStation("Cebreros", 40.4526901, -4.3675499, mask_deg=10.0)]
    site = [LunarSite("Near side", 0.0, 0.0, mask_deg=0.0)]
    w = lunar_windows(grid, stations, site)
    assert 1 <= len(w) <= 2
    total_h = float(np.sum(w.end_s - w.start_s)) / 3600
    assert 8 < total_h < 16  # the Moon is above 10 deg for roughly half a day
    assert np.all(np.abs(w.max_range_km / 299792.458 - 1.28) < 0.1)
    # edges agree with skyfield's altitude of the Moon's centre within a few minutes (site vs centre)
    from contact_plans.orbits import ephemeris_de421

    eph = ephemeris_de421()
    ts = timescale()
    top = eph["earth"] + wgs84.latlon(40.4526901, -4.3675499)
    for edge in list(w.start_s) + list(w.end_s):
        if 0 < edge < 86400:
            t = ts.from_datetime(START)
            t = ts.tt_jd(t.tt + edge / 86400.0)
            alt, _az, _d = top.at(t).observe(eph["moon"]).apparent().altaz()
            assert abs(alt.degrees - 10.0) < 1.0
