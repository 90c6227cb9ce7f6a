"""Archive workloads for the digital twin (pure): who puts what when, who asks for it, and the summary.

    ArchiveWorkload(origin=1, users=(9, 10, 16), puts=((600.0, "eo/p0", 200_000),), gets_at_s=(7200.0,))

`mode="archive"` keeps objects on `replicas` archive nodes (satellites, plus a centre when `centres` is set);
`mode="ground-only"` is the baseline: objects are kept only at the origin centre (no other archive node may hold
them) and users fetch them from there. `summarize` turns the twin's archive records into the figures of merit:
availability within 1 h / 6 h and retrieval latency percentiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from contact_plans.model import ContactPlan
from dtn.errors import ConfigError

MODES = ("archive", "ground-only")


@dataclass(frozen=True, slots=True)
class ArchiveWorkload:
    origin: int
    users: tuple[int, ...]
    puts: tuple[tuple[float, str, int], ...]  # (plan t_s, name, size_bytes)
    gets_at_s: tuple[float, ...]  # every user asks for every object put before each of these times
    mode: str = "archive"
    replicas: int = 3
    centres: tuple[int, ...] = ()
    archive_nodes: tuple[int, ...] = ()  # default: every satellite, the origin, the centres and the users
    get_timeout_s: float = 6 * 3600.0
    chunk_bytes: int = 64 * 1024
    declare_lost_after_s: float | None = 600.0  # a killed satellite is declared lost this long after
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}", key="archive.mode")
        if not self.users:
            raise ConfigError("at least one user station is needed", key="archive.users")

    def nodes_for(self, plan: ContactPlan) -> tuple[int, ...]:
        """The nodes that run the archive service in this workload."""
        if self.mode == "ground-only":
            return tuple(sorted({self.origin, *self.users}))
        if self.archive_nodes:
            return tuple(sorted({*self.archive_nodes, self.origin, *self.users, *self.centres}))
        sats = {n.number for n in plan.nodes if "plane" in (n.metadata or {})}
        return tuple(sorted(sats | {self.origin, *self.users, *self.centres}))


def baseline_users(plan: ContactPlan, *, exclude: Iterable[int] = ()) -> tuple[int, ...]:
    """The plan's baseline ground stations (metadata `baseline = true`), as user stations."""
    skip = set(exclude)
    return tuple(n.number for n in plan.nodes if (n.metadata or {}).get("baseline") and n.number not in skip)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(gets: list[dict]) -> dict:
    """Availability (answered within 1 h and 6 h) and latency p50/p95 of GET records
    (`latency_s` None: not answered)."""
    n = len(gets)
    latencies = [g["latency_s"] for g in gets if g.get("latency_s") is not None]
    return {
        "requests": n,
        "answered": len(latencies),
        "within_1h": (sum(1 for x in latencies if x <= 3600) / n) if n else None,
        "within_6h": (sum(1 for x in latencies if x <= 6 * 3600) / n) if n else None,
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
    }
