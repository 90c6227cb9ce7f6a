"""Orbit sources and vectorized propagation: TLE files, Walker-delta shells, ground stations, a lunar site.

Frames: SGP4 gives TEME positions (km) and velocities (km/s). Earth-fixed positions use TEME -> PEF by the
GMST 1982 angle of UT1 (as in AIAA 2006-6753 and as skyfield does), without polar motion (skyfield's default).
UT1 - UTC comes from skyfield's built-in IERS table. TLE epochs are UTC (AIAA 2006-6753).

Everything is propagated over a time grid in one `SatrecArray.sgp4` call; between grid points a position is a
cubic Hermite interpolation of the grid positions and velocities (centimetre-level for a 30 s step in LEO), so
edge refinement never re-runs SGP4.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from sgp4.api import WGS72, SatrecArray, Satrec, jday

from contact_plans.model import NodeKind
from dtn.errors import PlanError, PlanFormatError

EARTH_EQUATORIAL_RADIUS_KM = 6378.137  # WGS84
WGS84_INVERSE_FLATTENING = 298.257223563
MOON_RADIUS_KM = 1737.4
SPEED_OF_LIGHT_KM_PER_S = 299792.458
MU_EARTH_WGS72_KM3_PER_S2 = 398600.8  # the constant sgp4init uses with WGS72
MAX_GRID_POINTS = 2_000_000
_J2000_JD = 2451545.0
_SECONDS_PER_DAY = 86400.0


def utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def parse_utc(text: str) -> dt.datetime:
    """'2026-01-03T00:00:00Z' (or any ISO 8601 form; naive means UTC) -> aware UTC datetime."""
    try:
        return utc(dt.datetime.fromisoformat(str(text).strip()))
    except ValueError:
        raise PlanError(f"invalid ISO 8601 time {text!r} (example: 2026-01-03T00:00:00Z)") from None


# -- sources ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class Satellite:
    """One satellite: its SGP4 record and the facts the plan records about it. `plane`/`slot` are known for
    Walker shells and derived (RAAN clustering) for TLE shells when None."""

    name: str
    satrec: Satrec
    group: str = "default"
    kind: NodeKind = NodeKind.SATELLITE
    norad: int | None = None
    plane: int | None = None
    slot: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GroundStation:
    """A ground station on the WGS84 ellipsoid, with its own elevation mask."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    mask_deg: float = 10.0
    network: str = ""
    baseline: bool = False


@dataclass(frozen=True, slots=True)
class LunarSite:
    """A site on the lunar surface (selenographic latitude/longitude, mean-Earth frame). The Earth must be
    `mask_deg` above its horizon for a link."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    mask_deg: float = 0.0


def _tle_checksum(line: str) -> int:
    return sum(int(ch) if ch.isdigit() else (1 if ch == "-" else 0) for ch in line[:68]) % 10


def parse_tle(
    text: str, *, source: str | None = None, group: str = "default", kind: NodeKind = NodeKind.SATELLITE
) -> list[Satellite]:
    """Satellites from CelesTrak-style three-line sets (a name line, then lines 1 and 2). Two-line sets without
    a name line are accepted too (named 'NORAD <n>'). Checksums are verified."""
    lines = [(i, raw.rstrip("\r\n")) for i, raw in enumerate(text.splitlines(), start=1)]
    lines = [(i, raw) for i, raw in lines if raw.strip()]
    sats: list[Satellite] = []
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        name = None
        if not line.startswith("1 "):
            name = line.strip()
            if name.startswith("0 "):
                name = name[2:].strip()
            k += 1
            if k >= len(lines):
                raise PlanFormatError("name line without element lines", source, lineno)
        l1no, l1 = lines[k]
        if k + 1 >= len(lines):
            raise PlanFormatError("TLE line 1 without line 2", source, l1no)
        l2no, l2 = lines[k + 1]
        for number, (ln, text_line) in enumerate(((l1no, l1), (l2no, l2)), start=1):
            if not text_line.startswith(f"{number} ") or len(text_line.rstrip()) < 69:
                raise PlanFormatError(f"expected TLE line {number} (69 columns starting with '{number} ')", source, ln)
            if not text_line[68].isdigit() or int(text_line[68]) != _tle_checksum(text_line):
                raise PlanFormatError(f"TLE line {number} checksum mismatch", source, ln)
        if l1[2:7] != l2[2:7]:
            raise PlanFormatError("TLE lines 1 and 2 are for different satellites", source, l2no)
        try:
            satrec = Satrec.twoline2rv(l1.rstrip(), l2.rstrip())
        except (ValueError, IndexError) as exc:
            raise PlanFormatError(f"invalid TLE: {exc}", source, l1no) from None
        if satrec.error:
            raise PlanFormatError(f"invalid TLE elements (sgp4 error {satrec.error})", source, l1no)
        norad = int(satrec.satnum)
        sats.append(Satellite(name=name or f"NORAD {norad}", satrec=satrec, group=group, kind=kind, norad=norad))
        k += 2
    if not sats:
        raise PlanFormatError("no TLE sets found", source, 1)
    return sats


def load_tle(
    path: str | os.PathLike,
    *,
    group: str = "default",
    kind: NodeKind = NodeKind.SATELLITE,
    norad: Iterable[int] | None = None,
) -> list[Satellite]:
    """Read a TLE file; `norad` keeps only those catalogue numbers (in file order)."""
    path = pathlib.Path(path)
    if path.stat().st_size > 64 * 1024 * 1024:
        raise PlanFormatError("TLE file larger than 64 MiB", str(path))
    sats = parse_tle(path.read_text(encoding="utf-8", errors="replace"), source=str(path), group=group, kind=kind)
    if norad is not None:
        wanted = set(norad)
        sats = [s for s in sats if s.norad in wanted]
        missing = wanted - {s.norad for s in sats}
        if missing:
            raise PlanError(f"{path}: no TLE for NORAD {sorted(missing)}")
    return sats


def _epoch_days_since_1949(epoch: dt.datetime) -> float:
    return (utc(epoch) - dt.datetime(1949, 12, 31, tzinfo=dt.timezone.utc)).total_seconds() / _SECONDS_PER_DAY


def walker_delta(
    total: int,
    planes: int,
    phasing: int,
    *,
    altitude_km: float,
    inclination_deg: float,
    epoch: dt.datetime,
    name_prefix: str = "WALKER",
    group: str = "default",
    kind: NodeKind = NodeKind.SATELLITE,
    raan_offset_deg: float = 0.0,
    first_satnum: int = 90000,
) -> list[Satellite]:
    """A Walker-delta shell T/P/F (circular orbits, RAANs spread over 360 deg), built with sgp4's `sgp4init`.
    Satellite s of plane p has RAAN 360 p / P and mean anomaly 360 s / S + 360 F p / T (S = T / P)."""
    if planes <= 0 or total <= 0 or total % planes:
        raise PlanError(f"Walker shell: total {total} must be a positive multiple of planes {planes}")
    if not 0 <= phasing < planes:
        raise PlanError(f"Walker shell: phasing F={phasing} must be in 0..{planes - 1}")
    if not 100.0 <= altitude_km <= 50000.0:
        raise PlanError(f"Walker shell: altitude {altitude_km} km out of range (100..50000)")
    if not 0.0 <= inclination_deg <= 180.0:
        raise PlanError(f"Walker shell: inclination {inclination_deg} deg out of range (0..180)")
    per_plane = total // planes
    a_km = EARTH_EQUATORIAL_RADIUS_KM + altitude_km
    mean_motion_rad_per_min = math.sqrt(MU_EARTH_WGS72_KM3_PER_S2 / a_km**3) * 60.0
    epoch_days = _epoch_days_since_1949(epoch)
    sats = []
    for p in range(planes):
        for s in range(per_plane):
            raan = math.radians(raan_offset_deg + 360.0 * p / planes)
            mean_anomaly = math.radians(360.0 * s / per_plane + 360.0 * phasing * p / total)
            rec = Satrec()
            satnum = first_satnum + p * per_plane + s
            rec.sgp4init(
                WGS72,
                "i",
                satnum,
                epoch_days,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                math.radians(inclination_deg),
                mean_anomaly % (2 * math.pi),
                mean_motion_rad_per_min,
                raan % (2 * math.pi),
            )
            sats.append(
                Satellite(
                    name=f"{name_prefix}-P{p}-S{s}",
                    satrec=rec,
                    group=group,
                    kind=kind,
                    norad=None,
                    plane=p,
                    slot=s,
                    metadata={"altitude_km": altitude_km, "inclination_deg": inclination_deg},
                )
            )
    return sats


def load_ground_stations(
    path: str | os.PathLike,
    *,
    mask_deg: float = 10.0,
    masks_deg: dict[str, float] | None = None,
    names: Sequence[str] | None = None,
    baseline_only: bool = False,
) -> list[GroundStation]:
    """Stations from a CSV with columns name, network, lat_deg, lon_deg, alt_m, in_baseline (as
    ../shared/data/ground_stations.csv) and an optional mask_deg column. `masks_deg` overrides per station;
    `names` selects (and orders) stations; `baseline_only` keeps in_baseline == 1."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    return parse_ground_stations(
        text, source=str(path), mask_deg=mask_deg, masks_deg=masks_deg, names=names, baseline_only=baseline_only
    )


def parse_ground_stations(
    text: str,
    *,
    source: str | None = None,
    mask_deg: float = 10.0,
    masks_deg: dict[str, float] | None = None,
    names: Sequence[str] | None = None,
    baseline_only: bool = False,
) -> list[GroundStation]:
    reader = csv.DictReader(io.StringIO(text))
    required = {"name", "lat_deg", "lon_deg"}
    if reader.fieldnames is None or not required <= set(reader.fieldnames):
        raise PlanFormatError(f"ground station CSV needs columns {sorted(required)}", source, 1)
    masks_deg = dict(masks_deg or {})
    stations: dict[str, GroundStation] = {}
    for row in reader:
        lineno = reader.line_num
        try:
            lat = float(row["lat_deg"])
            lon = float(row["lon_deg"])
            alt = float(row.get("alt_m") or 0.0)
            mask = float(row["mask_deg"]) if row.get("mask_deg") else mask_deg
        except (TypeError, ValueError):
            raise PlanFormatError("lat_deg, lon_deg, alt_m and mask_deg must be numbers", source, lineno) from None
        name = (row["name"] or "").strip()
        if not name:
            raise PlanFormatError("empty station name", source, lineno)
        if not (-90 <= lat <= 90 and -180 <= lon <= 360 and -90 <= mask < 90):
            raise PlanFormatError("latitude, longitude or mask out of range", source, lineno)
        mask = masks_deg.pop(name, mask)
        baseline = str(row.get("in_baseline") or "0").strip() == "1"
        stations[name] = GroundStation(
            name=name,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            mask_deg=mask,
            network=(row.get("network") or "").strip(),
            baseline=baseline,
        )
    if masks_deg:
        raise PlanError(f"mask given for unknown station(s): {sorted(masks_deg)}")
    if names is not None:
        missing = [n for n in names if n not in stations]
        if missing:
            raise PlanError(f"unknown ground station(s) {missing}; known: {sorted(stations)}")
        return [stations[n] for n in names]
    out = list(stations.values())
    return [s for s in out if s.baseline] if baseline_only else out


# -- time grid and propagation ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def timescale():
    """skyfield's Timescale with its built-in leap-second and UT1 tables (no download)."""
    from skyfield.api import load

    return load.timescale(builtin=True)


@dataclass(frozen=True, slots=True, eq=False)
class TimeGrid:
    """Uniform UTC grid: t_s[k] = k * step_s seconds after `start` (the last point is exactly duration_s)."""

    start: dt.datetime
    step_s: float
    t_s: np.ndarray
    jd: float  # Julian date (UTC) of start's day, whole part, as sgp4.api.jday returns it
    fr: float  # fraction of day of `start`
    dut1_s: float  # UT1 - UTC at start

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1])

    def jd_fr(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t_s = np.asarray(t_s, dtype=float)
        return np.full(t_s.shape, self.jd), self.fr + t_s / _SECONDS_PER_DAY

    def gmst_rad(self, t_s: np.ndarray) -> np.ndarray:
        """GMST 1982 angle (rad) at plan seconds `t_s`: the TEME -> PEF rotation."""
        t_s = np.asarray(t_s, dtype=float)
        return gmst82_rad(self.jd, self.fr + (t_s + self.dut1_s) / _SECONDS_PER_DAY)


def time_grid(start: dt.datetime, duration_s: float, step_s: float = 30.0) -> TimeGrid:
    start = utc(start)
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise PlanError(f"duration must be positive, got {duration_s!r}")
    if not (0.1 <= step_s <= 600):
        raise PlanError(f"grid step {step_s!r} s out of range (0.1..600)")
    n = int(math.ceil(duration_s / step_s))
    if n + 1 > MAX_GRID_POINTS:
        raise PlanError(f"{n + 1} grid points is too many (limit {MAX_GRID_POINTS}): shorten or coarsen")
    t_s = np.arange(n + 1, dtype=float) * step_s
    t_s[-1] = duration_s
    if n >= 1 and t_s[-1] - t_s[-2] < 1e-9:
        t_s = t_s[:-1]
    jd, fr = jday(start.year, start.month, start.day, start.hour, start.minute, start.second + start.microsecond * 1e-6)
    dut1 = float(timescale().from_datetime(start).dut1)
    return TimeGrid(start=start, step_s=float(step_s), t_s=t_s, jd=jd, fr=fr, dut1_s=dut1)


def gmst82_rad(jd_whole: float | np.ndarray, fraction_ut1: float | np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time, IAU 1982 (AIAA 2006-6753 Appendix C), from a UT1 Julian date split into a
    whole part and a fraction (kept apart for precision)."""
    t = (jd_whole - _J2000_JD + fraction_ut1) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    return ((jd_whole % 1.0 + fraction_ut1 + (g / _SECONDS_PER_DAY) % 1.0) % 1.0) * (2.0 * math.pi)


@dataclass(frozen=True, slots=True, eq=False)
class Ephemeris:
    """Positions `r_km` and velocities `v_km_per_s` (TEME), shape (n_sats, n_times, 3), NaN where SGP4 failed
    (decayed orbits and the like)."""

    grid: TimeGrid
    r_km: np.ndarray
    v_km_per_s: np.ndarray

    @property
    def n_sats(self) -> int:
        return self.r_km.shape[0]

    def interval(self, t_s: np.ndarray) -> np.ndarray:
        """Index k of the grid interval [t_k, t_k+1] holding each time (clipped to the grid)."""
        t = self.grid.t_s
        return np.clip(np.searchsorted(t, t_s, side="right") - 1, 0, len(t) - 2)

    def hermite(self, sat: np.ndarray, k: np.ndarray) -> "Hermite":
        """Cubic Hermite polynomials of satellites `sat` over grid intervals `k` (positions and velocities
        at both ends), ready to evaluate at many times."""
        t = self.grid.t_s
        h = (t[k + 1] - t[k])[:, None]
        r0, r1 = self.r_km[sat, k], self.r_km[sat, k + 1]
        hv0, hv1 = h * self.v_km_per_s[sat, k], h * self.v_km_per_s[sat, k + 1]
        return Hermite(t[k], h[:, 0], r0, hv0, -3 * r0 - 2 * hv0 + 3 * r1 - hv1, 2 * r0 + hv0 - 2 * r1 + hv1)

    def interpolate(self, sat: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """TEME positions (n, 3) of satellites `sat` at plan seconds `t_s` (cubic Hermite between grid points)."""
        t_s = np.asarray(t_s, dtype=float)
        return self.hermite(np.asarray(sat), self.interval(t_s)).at(t_s)


@dataclass(frozen=True, slots=True, eq=False)
class Hermite:
    """r(t) = c0 + s (c1 + s (c2 + s c3)), s = (t - t0) / h: one cubic per row."""

    t0: np.ndarray
    h: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    c3: np.ndarray

    def at(self, t_s: np.ndarray) -> np.ndarray:
        s = ((np.asarray(t_s, dtype=float) - self.t0) / self.h)[:, None]
        return self.c0 + s * (self.c1 + s * (self.c2 + s * self.c3))


def propagate(sats: Sequence[Satellite], grid: TimeGrid) -> Ephemeris:
    """Every satellite over the whole grid in one vectorized SGP4 call (sgp4 SatrecArray)."""
    if len(grid.t_s) < 2:
        raise PlanError("the time grid needs at least two points")
    if not sats:
        empty = np.empty((0, len(grid.t_s), 3))
        return Ephemeris(grid, empty, empty.copy())
    jd, fr = grid.jd_fr(grid.t_s)
    err, r, v = SatrecArray([s.satrec for s in sats]).sgp4(jd, fr)
    bad = err != 0
    if bad.any():
        r[bad] = np.nan
        v[bad] = np.nan
    return Ephemeris(grid, r, v)


def teme_to_ecef(r_km: np.ndarray, theta_rad: np.ndarray) -> np.ndarray:
    """Rotate TEME positions (..., 3) to Earth-fixed (PEF) by the GMST angle (broadcast over the last axis)."""
    c, s = np.cos(theta_rad), np.sin(theta_rad)
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    return np.stack((c * x + s * y, -s * x + c * y, z), axis=-1)


def geodetic_to_ecef(lat_deg: float, lon_deg: float, alt_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 geodetic -> Earth-fixed position (km) and the unit 'up' vector (ellipsoid normal)."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    f = 1.0 / WGS84_INVERSE_FLATTENING
    e2 = f * (2.0 - f)
    n = EARTH_EQUATORIAL_RADIUS_KM / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
    h = alt_m / 1000.0
    pos = np.array(
        [
            (n + h) * math.cos(lat) * math.cos(lon),
            (n + h) * math.cos(lat) * math.sin(lon),
            (n * (1.0 - e2) + h) * math.sin(lat),
        ]
    )
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    return pos, up


# -- planes and slots of a TLE shell ----------------------------------------------------------------------------
def orbit_angles(eph: Ephemeris, k: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inclination_deg, raan_deg, argument_of_latitude_deg) of every satellite at grid point k, from r x v."""
    r = eph.r_km[:, k]
    v = eph.v_km_per_s[:, k]
    h = np.cross(r, v)
    hn = np.linalg.norm(h, axis=1)
    inc = np.degrees(np.arccos(np.clip(h[:, 2] / hn, -1, 1)))
    node = np.stack((-h[:, 1], h[:, 0], np.zeros(len(h))), axis=1)
    raan = np.degrees(np.arctan2(node[:, 1], node[:, 0])) % 360.0
    node_u = node / np.maximum(np.linalg.norm(node, axis=1), 1e-12)[:, None]
    w = np.cross(h / hn[:, None], node_u)
    u = np.degrees(np.arctan2(np.einsum("ij,ij->i", r, w), np.einsum("ij,ij->i", r, node_u))) % 360.0
    return inc, raan, u


def plane_slots(eph: Ephemeris, sats: Sequence[Satellite]) -> tuple[np.ndarray, np.ndarray]:
    """(plane, slot) per satellite: Walker satellites keep theirs; TLE satellites are clustered by inclination,
    then by RAAN at the grid start (a gap over 2 deg starts a new plane); slots follow the argument of
    latitude. Planes are numbered across inclination families in RAAN order; -1 where SGP4 failed."""
    plane = np.full(len(sats), -1)
    slot = np.full(len(sats), -1)
    p_index = 0
    for fam, _wrap in _plane_families(eph, sats):
        for members in fam:
            plane[members] = p_index
            slot[members] = np.arange(len(members))
            p_index += 1
    return plane, slot


def neighbour_pairs(
    eph: Ephemeris, sats: Sequence[Satellite], members: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Iridium-style 4-neighbour ISL pairs among satellites `members`: fore and aft in the plane, and the
    nearest (argument of latitude) satellite in each adjacent plane of the same inclination family. Returns
    (pairs (n, 2) sorted, plane per satellite, slot per satellite) for all satellites."""
    sub = [sats[i] for i in members]
    sub_eph = Ephemeris(eph.grid, eph.r_km[list(members)], eph.v_km_per_s[list(members)])
    families = _plane_families(sub_eph, sub)
    _inc, _raan, u = orbit_angles(sub_eph, 0)
    plane = np.full(len(sats), -1)
    slot = np.full(len(sats), -1)
    pairs: set[tuple[int, int]] = set()
    p_index = 0
    for fam, wrap in families:
        for members_in_plane in fam:
            for s_idx, j in enumerate(members_in_plane):
                plane[members[j]] = p_index
                slot[members[j]] = s_idx
            p_index += 1
            m = len(members_in_plane)
            if m >= 2:
                for a_idx in range(m if m > 2 else 1):
                    a, b = members_in_plane[a_idx], members_in_plane[(a_idx + 1) % m]
                    pairs.add((min(members[a], members[b]), max(members[a], members[b])))
        adjacent = list(zip(fam, fam[1:]))
        if wrap and len(fam) > 2:
            adjacent.append((fam[-1], fam[0]))
        for pa, pb in adjacent:
            ua = u[pa]
            ub = u[pb]
            for src, dst, us, ud in ((pa, pb, ua, ub), (pb, pa, ub, ua)):
                if not len(dst):
                    continue
                diff = np.abs(((us[:, None] - ud[None, :]) + 180.0) % 360.0 - 180.0)
                nearest = np.argmin(diff, axis=1)
                for i_src, i_dst in zip(src, np.asarray(dst)[nearest]):
                    a, b = members[i_src], members[int(i_dst)]
                    pairs.add((min(a, b), max(a, b)))
    out = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return out, plane, slot


def _plane_families(
    eph: Ephemeris, sats: Sequence[Satellite], *, raan_gap_deg: float = 2.0, inclination_gap_deg: float = 0.5
) -> list[tuple[list[np.ndarray], bool]]:
    """Planes grouped in inclination families: [(planes ordered by RAAN, wrap)], each plane an index array
    ordered by argument of latitude. Walker satellites keep their given plane numbers."""
    inc, raan, u = orbit_angles(eph, 0)
    n = len(sats)
    raw_families: list[list[list[int]]] = []
    given = [i for i in range(n) if sats[i].plane is not None]
    if given:
        by_group: dict[str, dict[int, list[int]]] = {}
        for i in given:
            by_group.setdefault(sats[i].group, {}).setdefault(int(sats[i].plane), []).append(i)
        for group in sorted(by_group):
            raw_families.append([by_group[group][p] for p in sorted(by_group[group])])
    rest = [i for i in range(n) if sats[i].plane is None and np.isfinite(inc[i])]
    if rest:
        order = sorted(rest, key=lambda i: (inc[i], i))
        fams: list[list[int]] = [[order[0]]]
        for prev, cur in zip(order, order[1:]):
            if inc[cur] - inc[prev] > inclination_gap_deg:
                fams.append([])
            fams[-1].append(cur)
        for fam in fams:
            srt = sorted(fam, key=lambda i: (raan[i], i))
            if len(srt) > 1:
                vals = [raan[i] for i in srt]
                gaps = np.diff(vals + [vals[0] + 360.0])
                start = (int(np.argmax(gaps)) + 1) % len(srt)
                srt = srt[start:] + srt[:start]
            clusters: list[list[int]] = [[srt[0]]]
            for prev, cur in zip(srt, srt[1:]):
                if (raan[cur] - raan[prev]) % 360.0 > raan_gap_deg:
                    clusters.append([])
                clusters[-1].append(cur)
            raw_families.append(clusters)
    out: list[tuple[list[np.ndarray], bool]] = []
    for fam in raw_families:
        means = []
        for members in fam:
            ang = np.radians(raan[members])
            means.append(math.degrees(math.atan2(np.sin(ang).mean(), np.cos(ang).mean())) % 360.0)
        if all(sats[m[0]].plane is not None for m in fam):
            ordered = fam  # Walker plane numbers already run in RAAN order
            ordered_means = means
        else:
            idx = np.argsort(means, kind="stable")
            ordered = [fam[i] for i in idx]
            ordered_means = [means[i] for i in idx]
        wrap = False
        if len(ordered) > 2:
            spacing = np.diff(np.unwrap(np.radians(ordered_means)))
            spacing_deg = np.degrees(np.abs(spacing))
            closing = 360.0 - float(spacing_deg.sum())
            wrap = bool(closing < 1.5 * float(np.median(spacing_deg)))
        planes = [
            np.array(sorted(m, key=lambda i: (u[i] if np.isfinite(u[i]) else 1e9, i)), dtype=np.int64) for m in ordered
        ]
        out.append((planes, wrap))
    return out


# -- the Moon ---------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def ephemeris_de421():
    """JPL DE421 from the skyfield-data package (valid 1900-2053; no download)."""
    import warnings

    from skyfield.api import Loader
    from skyfield_data import get_skyfield_data_path

    with warnings.catch_warnings():
        # skyfield-data warns that its IERS table has expired; we use only de421.bsp from it (valid to 2053)
        warnings.simplefilter("ignore", RuntimeWarning)
        path = get_skyfield_data_path()
    return Loader(path, verbose=False)("de421.bsp")


def moon_site_normal_icrf(site: LunarSite, tt_days_since_j2000: np.ndarray) -> np.ndarray:
    """Unit normal (3, n) of a lunar site in ICRF, from the IAU mean orientation of the Moon (secular terms
    only: pole RA 269.9949 + 0.0031 T, Dec 66.5392 + 0.0130 T, prime meridian W = 38.3213 + 13.17635815 d;
    the periodic libration terms, a few degrees, are left out)."""
    d = np.asarray(tt_days_since_j2000, dtype=float)
    t = d / 36525.0
    ra = np.radians(269.9949 + 0.0031 * t)
    dec = np.radians(66.5392 + 0.0130 * t)
    w = np.radians(38.3213 + 13.17635815 * d - 1.4e-12 * d * d)
    pole = np.stack((np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)))
    node = np.stack((np.cos(ra + np.pi / 2), np.sin(ra + np.pi / 2), np.zeros_like(ra)))
    q = np.cross(pole.T, node.T).T
    x_axis = np.cos(w) * node + np.sin(w) * q
    y_axis = np.cross(pole.T, x_axis.T).T
    lat, lon = math.radians(site.lat_deg), math.radians(site.lon_deg)
    return math.cos(lat) * (math.cos(lon) * x_axis + math.sin(lon) * y_axis) + math.sin(lat) * pole
