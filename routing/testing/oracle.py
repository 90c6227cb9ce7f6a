"""A brute-force routing oracle: exhaustive search of the time-expanded contact graph, for small plans.

It shares no code with `routing.cgr` (only the delivery-time model of `routing.route`, restated here), uses no
Dijkstra, no pruning and no FIFO argument: it walks every loopless sequence of contacts from the source, i.e.
every path of the time-expanded graph whose vertices are (node, time) and whose edges are transmissions on a
contact. Waiting at a node to send later on the same contact is never better in this model (a later start
finishes later), so each contact sequence is simulated with the earliest start on every hop.

Cost grows exponentially with the plan: keep to a dozen or two of contacts (`max_expansions` bounds the work
and raises `RoutingError` when exceeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from contact_plans.model import Contact, ContactPlan
from dtn.errors import RoutingError

__all__ = ["OracleRoute", "oracle_routes", "oracle_best"]


@dataclass(frozen=True, slots=True)
class OracleRoute:
    """One feasible loopless route found by the oracle."""

    contacts: tuple[Contact, ...]
    arrival_s: float
    hop_count: int
    departures_s: tuple[float, ...]
    arrivals_s: tuple[float, ...]

    @property
    def key(self) -> tuple[float, int]:
        return (self.arrival_s, self.hop_count)

    @property
    def nodes(self) -> tuple[int, ...]:
        return (self.contacts[0].from_node,) + tuple(c.to_node for c in self.contacts)


def oracle_routes(
    plan: ContactPlan | Iterable[Contact],
    source: int,
    destination: int,
    now_s: float,
    size_bytes: float,
    *,
    excluded: Iterable[int] = frozenset(),
    residual_bytes: Mapping[Contact, float] | None = None,
    queued_bytes: Mapping[Contact, float] | None = None,
    first_hop: int | None = None,
    max_expansions: int = 2_000_000,
) -> list[OracleRoute]:
    """Every feasible loopless route from `source` to `destination`, sorted by (arrival, hops).

    `residual_bytes` / `queued_bytes` give a contact's residual volume (default: its whole volume) and the
    bytes already queued on it as a first hop (default 0). `excluded` nodes appear nowhere on a route;
    `first_hop` restricts the first receiver.
    """
    contacts = list(dict.fromkeys(plan.contacts if isinstance(plan, ContactPlan) else plan))
    excluded = frozenset(excluded) - {source}
    by_sender: dict[int, list[Contact]] = {}
    for c in contacts:
        by_sender.setdefault(c.from_node, []).append(c)
    residual = residual_bytes or {}
    queued = queued_bytes or {}
    found: list[OracleRoute] = []
    budget = [max_expansions]

    def walk(node: int, t: float, visited: frozenset[int], path: tuple, departures: tuple, arrivals: tuple):
        if node == destination:
            found.append(OracleRoute(path, t, len(path), departures, arrivals))
            return
        for c in by_sender.get(node, ()):
            budget[0] -= 1
            if budget[0] < 0:
                raise RoutingError(f"plan too large for the oracle (more than {max_expansions} expansions)")
            if c.to_node in visited or c.to_node in excluded:
                continue
            if not path and first_hop is not None and c.to_node != first_hop:
                continue
            if residual.get(c, c.volume_bytes) < size_bytes:
                continue
            t0 = max(t, c.start_s)
            if not path:
                q = queued.get(c, 0.0)
                if q:
                    t0 = t0 + q / c.rate_bytes_per_s
            finish = t0 + size_bytes / c.rate_bytes_per_s
            if finish > c.end_s:
                continue
            arrival = finish + c.owlt_s
            walk(c.to_node, arrival, visited | {c.to_node}, path + (c,), departures + (t0,), arrivals + (arrival,))

    if destination not in excluded and source != destination:
        walk(source, float(now_s), frozenset({source}), (), (), ())
    found.sort(key=lambda r: r.key)
    return found


def oracle_best(
    plan: ContactPlan | Iterable[Contact],
    source: int,
    destination: int,
    now_s: float,
    size_bytes: float,
    **kwargs,
) -> tuple[float, int] | None:
    """The best (arrival_s, hop_count) over all routes, or None when the destination is unreachable."""
    routes = oracle_routes(plan, source, destination, now_s, size_bytes, **kwargs)
    return routes[0].key if routes else None
