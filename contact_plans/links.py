"""Link windows: satellite-ground, inter-satellite, Earth-Moon.

One method for every link type. A visibility function f (positive when the link is up, in km or a sine) is
sampled on the time grid for many "series" at once (a series is one satellite-station or satellite-satellite
pair), shape (n_series, n_times). Windows are the runs of positive samples: each edge lies between two grid
points where f changes sign and is refined by bisection on the interpolated state (no SGP4 re-run). A grazing
pass, whose peak lies between grid points while every sample is negative, shows as a sampled local maximum
close to zero (judged by the local curvature); its peak is found by bisection on the sign of df/dt and, when
positive, its two edges are bisected like the others. No Python loop runs over time steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from contact_plans.orbits import (
    EARTH_EQUATORIAL_RADIUS_KM,
    MOON_RADIUS_KM,
    Ephemeris,
    GroundStation,
    LunarSite,
    TimeGrid,
    ephemeris_de421,
    geodetic_to_ecef,
    moon_site_normal_icrf,
    teme_to_ecef,
    timescale,
)
from dtn.errors import PlanError

EDGE_TOLERANCE_S = 1e-3
# A sampled local maximum f[k] <= 0 is searched for a hidden pass when f[k] + GRAZE_SAFETY * curvature / 8 > 0
# (for a parabola whose peak lies within half a step of sample k, peak - f[k] <= |second difference| / 8).
GRAZE_SAFETY = 4.0
# Samples per ISL working block (pairs x times): small enough to stay in cache.
ISL_BLOCK_ELEMENTS = 200_000


class Evaluator:
    """f and range (km) of series at times: `ev(series, t_s) -> (f, range_km)`. `bracketed(series, k)` returns
    a faster function of time alone for times inside grid interval k (subclasses precompute there)."""

    def __call__(self, series: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise PlanError("Evaluator subclasses define __call__")

    def bracketed(self, series: np.ndarray, k: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return lambda t_s: self(series, t_s)


class FunctionEvaluator(Evaluator):
    """An Evaluator from a plain function (series, t_s) -> (f, range_km)."""

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
        self._fn = fn

    def __call__(self, series: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._fn(series, t_s)


@dataclass(frozen=True, slots=True, eq=False)
class Windows:
    """Link windows: series `a` and `b` (satellite/station/site indices, by link type), edges in plan seconds,
    and the largest range (km) seen over each window (for the OWLT)."""

    a: np.ndarray
    b: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    max_range_km: np.ndarray

    def __len__(self) -> int:
        return len(self.start_s)

    @staticmethod
    def empty() -> "Windows":
        z = np.empty(0)
        return Windows(z.astype(np.int64), z.astype(np.int64), z, z.copy(), z.copy())

    @staticmethod
    def concat(parts: Sequence["Windows"]) -> "Windows":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Windows.empty()
        return Windows(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("a", "b", "start_s", "end_s", "max_range_km"))
        )

    def sorted(self) -> "Windows":
        order = np.lexsort((self.end_s, self.b, self.a, self.start_s))
        return Windows(self.a[order], self.b[order], self.start_s[order], self.end_s[order], self.max_range_km[order])


def _bisect(
    series: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    lo_positive: np.ndarray,
    evaluate: Evaluator,
    tolerance_s: float,
    k: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink brackets [lo, hi] whose ends have opposite signs of f until narrower than tolerance_s. `k`, when
    given, is the grid interval holding each bracket (enables the evaluator's fast path)."""
    lo = lo.astype(float).copy()
    hi = hi.astype(float).copy()
    if len(lo) == 0:
        return lo, hi
    at = evaluate.bracketed(series, k) if k is not None else (lambda t_s: evaluate(series, t_s))
    width = float(np.max(hi - lo))
    steps = max(1, int(math.ceil(math.log2(max(width, tolerance_s) / tolerance_s))))
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        f, _r = at(mid)
        same_as_lo = (f > 0) == lo_positive
        lo = np.where(same_as_lo, mid, lo)
        hi = np.where(same_as_lo, hi, mid)
    return lo, hi


def _peak(series: np.ndarray, lo: np.ndarray, hi: np.ndarray, evaluate: Evaluator, tolerance_s: float) -> np.ndarray:
    """Time of the maximum of a unimodal f in [lo, hi]: bisection on the sign of a central difference."""
    lo = lo.astype(float).copy()
    hi = hi.astype(float).copy()
    if len(lo) == 0:
        return lo
    width = float(np.max(hi - lo))
    steps = max(1, int(math.ceil(math.log2(max(width, tolerance_s) / tolerance_s))))
    eps = tolerance_s / 4
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        f_plus, _ = evaluate(series, mid + eps)
        f_minus, _ = evaluate(series, mid - eps)
        rising = f_plus > f_minus
        lo = np.where(rising, mid, lo)
        hi = np.where(rising, hi, mid)
    return 0.5 * (lo + hi)


@dataclass(slots=True)
class _Detections:
    """Sign changes and grazing candidates found on the grid, to be refined together."""

    rise_m: list = field(default_factory=list)  # series of each window (global index)
    rise_k: list = field(default_factory=list)  # first positive sample
    set_k: list = field(default_factory=list)  # first negative sample after the run (n_t: open at the end)
    sampled_r: list = field(default_factory=list)  # largest sampled range in the window (0 if not sampled)
    cand_m: list = field(default_factory=list)  # grazing candidates: series
    cand_k: list = field(default_factory=list)  # ... and the sample of the local maximum

    def add(self, f: np.ndarray, offset: int, range_km: np.ndarray | None = None) -> None:
        """Scan one block of samples f (rows = series offset.., columns = grid times)."""
        n_rows, n_t = f.shape
        pos = f > 0  # NaN (failed propagation) counts as no link
        padded = np.zeros((n_rows, n_t + 2), dtype=np.int8)
        padded[:, 1:-1] = pos
        d = np.diff(padded, axis=1)  # +1 at a rise, -1 after a run; they alternate along each row
        flat = np.flatnonzero(d)
        rises = flat[0::2]
        sets = flat[1::2]
        rm, rk = np.divmod(rises, n_t + 1)
        _sm, sk = np.divmod(sets, n_t + 1)
        if len(rm):
            self.rise_m.append(rm + offset)
            self.rise_k.append(rk)
            self.set_k.append(sk)
            if range_km is not None:
                flat = np.append(np.where(np.isfinite(range_km), range_km, 0.0).ravel(), 0.0)
                idx = np.empty(2 * len(rm), dtype=np.int64)
                idx[0::2] = rm * n_t + rk
                idx[1::2] = _sm * n_t + sk
                self.sampled_r.append(np.maximum.reduceat(flat, idx)[0::2].astype(float))
            else:
                self.sampled_r.append(np.zeros(len(rm)))
        if n_t >= 3:
            rising = np.diff(f, axis=1) > 0
            peak = rising[:, :-1] & ~rising[:, 1:]
            cm, ck = np.nonzero(peak)
            ck = ck + 1
            mid = f[cm, ck]
            curvature = 2 * mid - f[cm, ck - 1] - f[cm, ck + 1]
            keep = (mid <= 0) & (mid + GRAZE_SAFETY * curvature / 8 > 0)
            if keep.any():
                self.cand_m.append(cm[keep] + offset)
                self.cand_k.append(ck[keep])

    def refine(
        self, t_s: np.ndarray, evaluate: Evaluator, *, tolerance_s: float = EDGE_TOLERANCE_S, rescue: bool = True
    ) -> tuple[np.ndarray, ...]:
        """(series, start_s, end_s, max_range_km), ordered by series then start."""
        n_t = len(t_s)
        cat = lambda xs, dtype: np.concatenate(xs) if xs else np.empty(0, dtype)  # noqa: E731
        rise_m, rise_k, set_k = cat(self.rise_m, np.int64), cat(self.rise_k, np.int64), cat(self.set_k, np.int64)
        sampled_r = cat(self.sampled_r, float)
        starts = t_s[np.minimum(rise_k, n_t - 1)].astype(float)
        ends = t_s[np.minimum(set_k, n_t - 1)].astype(float)
        need = rise_k > 0
        if need.any():
            _lo, hi = _bisect(
                rise_m[need],
                t_s[rise_k[need] - 1],
                t_s[rise_k[need]],
                np.zeros(int(need.sum()), bool),
                evaluate,
                tolerance_s,
                rise_k[need] - 1,
            )
            starts[need] = hi  # first time known inside the window
        need = set_k < n_t
        if need.any():
            lo, _hi = _bisect(
                rise_m[need],
                t_s[set_k[need] - 1],
                t_s[set_k[need]],
                np.ones(int(need.sum()), bool),
                evaluate,
                tolerance_s,
                set_k[need] - 1,
            )
            ends[need] = lo  # last time known inside the window
        series, out_start, out_end, out_r = [rise_m], [starts], [ends], [sampled_r]
        cm, ck = cat(self.cand_m, np.int64), cat(self.cand_k, np.int64)
        if rescue and len(cm):
            peak_t = _peak(cm, t_s[ck - 1], t_s[ck + 1], evaluate, tolerance_s)
            peak_f, _ = evaluate(cm, peak_t)
            up = peak_f > 0
            cm, ck, peak_t = cm[up], ck[up], peak_t[up]
            if len(cm):
                _lo, rise = _bisect(cm, t_s[ck - 1], peak_t, np.zeros(len(cm), bool), evaluate, tolerance_s)
                fall, _hi = _bisect(cm, peak_t, t_s[ck + 1], np.ones(len(cm), bool), evaluate, tolerance_s)
                series.append(cm)
                out_start.append(rise)
                out_end.append(fall)
                out_r.append(np.zeros(len(cm)))
        series_a = np.concatenate(series)
        start_a = np.concatenate(out_start)
        end_a = np.concatenate(out_end)
        r_a = np.concatenate(out_r)
        if len(series_a):
            _f0, r0 = evaluate(series_a, start_a)
            _f1, r1 = evaluate(series_a, end_a)
            r_a = np.fmax(r_a, np.fmax(r0, r1))
        keep = end_a > start_a
        series_a, start_a, end_a, r_a = series_a[keep], start_a[keep], end_a[keep], r_a[keep]
        order = np.lexsort((start_a, series_a))
        return series_a[order], start_a[order], end_a[order], r_a[order]


def find_windows(
    f: np.ndarray,
    range_km: np.ndarray | None,
    t_s: np.ndarray,
    evaluate: Evaluator,
    *,
    tolerance_s: float = EDGE_TOLERANCE_S,
    rescue: bool = True,
) -> tuple[np.ndarray, ...]:
    """Windows where f > 0 for each series (row) of samples f (n_series, n_times) taken at times t_s.

    Returns (series, start_s, end_s, max_range_km) arrays, ordered by series then start. Windows open at the
    first or last grid point are clipped there. `range_km` (same shape as f, or None) gives sampled ranges;
    the window's maximum range always includes the refined edges.
    """
    det = _Detections()
    det.add(f, 0, range_km)
    return det.refine(t_s, evaluate, tolerance_s=tolerance_s, rescue=rescue)


# -- satellite <-> ground ---------------------------------------------------------------------------------------
class _GroundEvaluator(Evaluator):
    """f = (d . up) - sin(mask) |d|, d = satellite - station (Earth-fixed): positive above the mask."""

    def __init__(
        self, eph: Ephemeris, sats: np.ndarray, spos: np.ndarray, sup: np.ndarray, sin_mask: np.ndarray
    ) -> None:
        self.eph, self.sats, self.spos, self.sup, self.sin_mask = eph, sats, spos, sup, sin_mask
        self.n_sta = len(spos)

    def _f(self, r_teme: np.ndarray, sta: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dvec = teme_to_ecef(r_teme, self.eph.grid.gmst_rad(t_s)) - self.spos[sta]
        dist = np.sqrt(np.einsum("ij,ij->i", dvec, dvec))
        return np.einsum("ij,ij->i", dvec, self.sup[sta]) - self.sin_mask[sta] * dist, dist

    def __call__(self, series: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sta = series % self.n_sta
        return self._f(self.eph.interpolate(self.sats[series // self.n_sta], t_s), sta, t_s)

    def bracketed(self, series: np.ndarray, k: np.ndarray):
        poly = self.eph.hermite(self.sats[series // self.n_sta], k)
        sta = series % self.n_sta
        return lambda t_s: self._f(poly.at(t_s), sta, t_s)


def ground_windows(
    eph: Ephemeris,
    stations: Sequence[GroundStation],
    sat_indices: Sequence[int] | None = None,
    *,
    tolerance_s: float = EDGE_TOLERANCE_S,
    on_chunk: Callable[[int], None] | None = None,
) -> Windows:
    """Windows where each satellite is above each station's elevation mask. `a` = satellite index, `b` =
    station index. The OWLT range is the larger edge range (a pass is farthest at its lowest elevation)."""
    grid = eph.grid
    sats = np.arange(eph.n_sats) if sat_indices is None else np.asarray(sat_indices, dtype=np.int64)
    if not len(stations) or not len(sats):
        return Windows.empty()
    geo = [geodetic_to_ecef(s.lat_deg, s.lon_deg, s.alt_m) for s in stations]
    spos = np.stack([g[0] for g in geo])  # (S, 3)
    sup = np.stack([g[1] for g in geo])  # (S, 3)
    sin_mask = np.sin(np.radians([s.mask_deg for s in stations]))  # (S,)
    n_sta = len(stations)
    # Samples in float32, one satellite at a time so every array stays in cache; edges are refined in float64.
    weights = np.concatenate((sup, spos)).astype(np.float32)  # (2S, 3): r.u and r.s in one product
    s_up = np.einsum("ij,ij->i", spos, sup).astype(np.float32)[:, None]
    s_sq = np.einsum("ij,ij->i", spos, spos).astype(np.float32)[:, None]
    sin_mask32 = sin_mask.astype(np.float32)[:, None]
    theta = grid.gmst_rad(grid.t_s)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    det = _Detections()
    for n_done, sat in enumerate(sats):
        r = eph.r_km[sat]
        x = (cos_t * r[:, 0] + sin_t * r[:, 1]).astype(np.float32)
        y = (cos_t * r[:, 1] - sin_t * r[:, 0]).astype(np.float32)
        z = r[:, 2].astype(np.float32)
        prod = weights @ np.stack((x, y, z))  # (2S, T)
        f = prod[:n_sta] - s_up  # height of the satellite along the local vertical
        dist = prod[n_sta:]
        dist *= -2
        dist += x * x + y * y + z * z
        dist += s_sq
        np.sqrt(np.maximum(dist, 0, out=dist), out=dist)
        dist *= sin_mask32
        f -= dist  # > 0 when elevation > mask
        det.add(f, n_done * n_sta)
        if on_chunk:
            on_chunk(1)

    evaluate = _GroundEvaluator(eph, sats, spos, sup, sin_mask)
    m, start, end, max_r = det.refine(grid.t_s, evaluate, tolerance_s=tolerance_s)
    return Windows(sats[m // n_sta], m % n_sta, start, end, max_r)


# -- satellite <-> satellite ------------------------------------------------------------------------------------
def _segment_clearance_km(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Distance from the Earth's centre to the segment r1-r2 (arrays (..., 3))."""
    d = r2 - r1
    dd = np.einsum("...k,...k->...", d, d)
    s = np.clip(-np.einsum("...k,...k->...", r1, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    p = r1 + s[..., None] * d
    return np.sqrt(np.einsum("...k,...k->...", p, p))


class _IslEvaluator(Evaluator):
    """f = min(clearance of the line of sight - (Earth radius + margin), max range - range)."""

    def __init__(self, eph: Ephemeris, pairs: np.ndarray, floor_km: float, max_range_km: float) -> None:
        self.eph, self.pairs, self.floor_km, self.max_range_km = eph, pairs, floor_km, max_range_km

    def _f(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist = np.sqrt(np.einsum("ij,ij->i", b - a, b - a))
        return np.minimum(_segment_clearance_km(a, b) - self.floor_km, self.max_range_km - dist), dist

    def __call__(self, series: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._f(
            self.eph.interpolate(self.pairs[series, 0], t_s), self.eph.interpolate(self.pairs[series, 1], t_s)
        )

    def bracketed(self, series: np.ndarray, k: np.ndarray):
        pa = self.eph.hermite(self.pairs[series, 0], k)
        pb = self.eph.hermite(self.pairs[series, 1], k)
        return lambda t_s: self._f(pa.at(t_s), pb.at(t_s))


def isl_windows(
    eph: Ephemeris,
    pairs: np.ndarray,
    *,
    max_range_km: float = 5000.0,
    margin_km: float = 80.0,
    tolerance_s: float = EDGE_TOLERANCE_S,
    on_chunk: Callable[[int], None] | None = None,
) -> Windows:
    """Windows where the line of sight of each satellite pair clears the Earth (equatorial radius) by
    `margin_km` and the range is at most `max_range_km`. `a`, `b` = the pair's satellite indices."""
    if not max_range_km > 0 or not margin_km >= 0:
        raise PlanError("ISL max range must be positive and the margin >= 0")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return Windows.empty()
    grid = eph.grid
    n_t = len(grid.t_s)
    floor_km = EARTH_EQUATORIAL_RADIUS_KM + margin_km
    chunk = max(1, ISL_BLOCK_ELEMENTS // n_t)
    r32 = eph.r_km.astype(np.float32)
    det = _Detections()
    for c0 in range(0, len(pairs), chunk):
        cp = pairs[c0 : c0 + chunk]
        r1 = r32[cp[:, 0]]
        r2 = r32[cp[:, 1]]
        rng = np.sqrt(np.einsum("ptk,ptk->pt", r2 - r1, r2 - r1))
        f = np.minimum(_segment_clearance_km(r1, r2) - np.float32(floor_km), np.float32(max_range_km) - rng)
        det.add(f, c0, rng)
        if on_chunk:
            on_chunk(len(cp))
    del r32

    evaluate = _IslEvaluator(eph, pairs, floor_km, max_range_km)
    m, start, end, max_r = det.refine(grid.t_s, evaluate, tolerance_s=tolerance_s)
    return Windows(pairs[m, 0], pairs[m, 1], start, end, max_r)


# -- Earth station <-> lunar site -------------------------------------------------------------------------------
def lunar_windows(
    grid: TimeGrid,
    stations: Sequence[GroundStation],
    sites: Sequence[LunarSite],
    *,
    tolerance_s: float = EDGE_TOLERANCE_S,
) -> Windows:
    """Windows where a lunar site is above a station's mask and the station is above the site's mask (DE421
    positions via skyfield, geometric). `a` = site index, `b` = station index."""
    if not stations or not sites:
        return Windows.empty()
    from skyfield.api import wgs84
    from skyfield.framelib import itrs

    eph = ephemeris_de421()
    earth, moon = eph["earth"], eph["moon"]
    ts = timescale()
    start = grid.start
    n_sta = len(stations)
    tops = [wgs84.latlon(s.lat_deg, s.lon_deg, elevation_m=s.alt_m) for s in stations]
    sin_sta = np.sin(np.radians([s.mask_deg for s in stations]))
    sin_site = np.sin(np.radians([s.mask_deg for s in sites]))

    def geometry(site_idx: np.ndarray, sta_idx: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = ts.utc(
            start.year, start.month, start.day, start.hour, start.minute, start.second + start.microsecond * 1e-6 + t_s
        )
        earth_km = earth.at(t).position.km  # (3, n)
        moon_km = moon.at(t).position.km
        rot = itrs.rotation_at(t)  # GCRS -> ITRS, (3, 3, n)
        f = np.empty(len(t_s))
        dist = np.empty(len(t_s))
        for j in np.unique(sta_idx):
            sel = sta_idx == j
            top = tops[j]
            sta_itrs = top.itrs_xyz.km
            lat, lon = np.radians(stations[j].lat_deg), np.radians(stations[j].lon_deg)
            up_itrs = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
            sta_gcrs = np.einsum("jin,j->in", rot[:, :, sel], sta_itrs)
            up_gcrs = np.einsum("jin,j->in", rot[:, :, sel], up_itrs)
            sta_km = earth_km[:, sel] + sta_gcrs
            for i in np.unique(site_idx[sel]):
                sel2 = site_idx[sel] == i
                tt_days = t.tt[sel][sel2] - 2451545.0
                normal = moon_site_normal_icrf(sites[i], tt_days)
                site_km = moon_km[:, sel][:, sel2] + (MOON_RADIUS_KM + sites[i].alt_m / 1000.0) * normal
                los = site_km - sta_km[:, sel2]
                rng = np.sqrt(np.einsum("in,in->n", los, los))
                el_sta = np.einsum("in,in->n", los, up_gcrs[:, sel2]) / rng - sin_sta[j]
                el_site = -np.einsum("in,in->n", los, normal) / rng - sin_site[i]
                out_idx = np.flatnonzero(sel)[sel2]
                f[out_idx] = np.minimum(el_sta, el_site)
                dist[out_idx] = rng
        return f, dist

    n_series = len(sites) * n_sta
    series = np.arange(n_series)
    n_t = len(grid.t_s)
    all_series = np.repeat(series, n_t)
    all_t = np.tile(grid.t_s, n_series)
    f, rng = geometry(all_series // n_sta, all_series % n_sta, all_t)

    evaluate = FunctionEvaluator(lambda s, t: geometry(s // n_sta, s % n_sta, t))

    m, start_s, end_s, max_r = find_windows(
        f.reshape(n_series, n_t), rng.reshape(n_series, n_t), grid.t_s, evaluate, tolerance_s=tolerance_s
    )
    return Windows(m // n_sta, m % n_sta, start_s, end_s, max_r)
