"""Replica placement: where the k copies of an object go (pure, deterministic).

The policy, for an object put at node O with k replicas:

1. Candidates are the archive nodes other than O (and other than nodes declared lost), each with CGR's predicted
   delivery time of the whole object from O (`Candidate.arrival_s`; None: no route, never chosen).
2. When ground centres are configured, one replica goes to the ground centre (other than O) with the earliest
   predicted arrival.
3. The remaining replicas go to satellites on **distinct orbital planes**: the best satellite of each plane
   (earliest arrival, then lowest node number) ranks its plane, planes are taken in that order. Only when there
   are fewer reachable planes than replicas is a plane used twice (its second-best satellite, and so on).

So losing a whole plane, or the ground segment, never loses every copy. Ties are broken by node number, so every
node computes the same placement from the same inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from contact_plans.model import ContactPlan

SATELLITE = "satellite"
GROUND = "ground"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An archive node that may hold a replica, with CGR's predicted arrival (plan s) of the object there."""

    node: int
    kind: str  # "satellite" or "ground"
    plane: int | None = None
    arrival_s: float | None = None
    centre: bool = False  # a ground centre (kept apart from user stations)


def candidates_from_plan(
    plan: ContactPlan,
    *,
    archive_nodes: Iterable[int] | None = None,
    centres: Iterable[int] = (),
    arrival: Callable[[int], float | None] = lambda node: 0.0,
) -> list[Candidate]:
    """Candidates from a plan: satellites (nodes not of kind ground; their plane is the `plane` metadata, None
    when absent) and the configured ground centres. `archive_nodes` limits them to nodes running the archive
    service (default: every satellite not marked `storing = false`, plus the centres); `arrival(node)` predicts the object's arrival there."""
    centre_set = set(centres)
    allowed = set(archive_nodes) if archive_nodes is not None else None
    out = []
    for node in plan.nodes:
        meta = node.metadata or {}
        if allowed is not None and node.number not in allowed:
            continue
        if node.number in centre_set:
            out.append(Candidate(node.number, GROUND, None, arrival(node.number), centre=True))
        elif _in_orbit(node) and meta.get("storing", True) is not False:
            plane = meta.get("plane")
            out.append(
                Candidate(node.number, SATELLITE, int(plane) if plane is not None else None, arrival(node.number))
            )
    return out


def _in_orbit(node) -> bool:
    """A satellite (or station) of the plan; plain nodes of hand-written plans count as in orbit too."""
    return "plane" in (node.metadata or {}) or getattr(node.kind, "value", node.kind) != GROUND


def _rank(c: Candidate) -> tuple[float, int]:
    return (c.arrival_s if c.arrival_s is not None else math.inf, c.node)


def choose_replicas(candidates: Iterable[Candidate], k: int, *, exclude: Iterable[int] = ()) -> tuple[int, ...]:
    """The k replica nodes (fewer if fewer are reachable), in placement order (see the module docstring)."""
    excluded = set(exclude)
    usable = sorted((c for c in candidates if c.arrival_s is not None and c.node not in excluded), key=_rank)
    chosen: list[int] = []
    centres = [c for c in usable if c.centre]
    if centres and k > 0:
        chosen.append(centres[0].node)
    sats = [c for c in usable if c.kind == SATELLITE and not c.centre]
    chosen.extend(_by_plane(sats, k - len(chosen), used_planes=()))
    return tuple(chosen)


def _by_plane(sats: list[Candidate], n: int, *, used_planes: Iterable[int | None]) -> list[int]:
    """n satellites, one per plane first (planes ranked by their best satellite), preferring unused planes."""
    if n <= 0:
        return []
    planes: dict[int | None, list[Candidate]] = {}
    for c in sats:  # already sorted by rank
        planes.setdefault(c.plane, []).append(c)
    used = set(used_planes)
    order = sorted(planes, key=lambda p: (p in used, _rank(planes[p][0])))
    out: list[int] = []
    depth = 0
    while len(out) < n and any(depth < len(planes[p]) for p in order):
        for p in order:
            if depth < len(planes[p]) and len(out) < n:
                out.append(planes[p][depth].node)
        depth += 1
    return out


def repair_replica(candidates: Iterable[Candidate], current: Iterable[int], lost: Iterable[int]) -> int | None:
    """A new replica to replace a lost one: a satellite on a plane no surviving replica uses if there is one,
    else any reachable satellite not already a replica; None when there is none."""
    cands = list(candidates)
    current_set = set(current)
    gone = set(lost)
    by_node = {c.node: c for c in cands}
    used_planes = {by_node[n].plane for n in current_set - gone if n in by_node}
    sats = sorted(
        (
            c
            for c in cands
            if c.kind == SATELLITE and c.arrival_s is not None and c.node not in current_set and c.node not in gone
        ),
        key=_rank,
    )
    picked = _by_plane(sats, 1, used_planes=used_planes)
    return picked[0] if picked else None
