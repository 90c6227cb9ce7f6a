"""Routes and the delivery-time model of contact graph routing (CCSDS 734.3-B-1, SABR, §3.2).

The model, used identically by `routing.cgr.Router` and by the brute-force oracle in `routing.testing`:

* A bundle of ``size_bytes`` that is at node ``u`` at time ``t`` and is sent on a contact ``c`` from ``u``
  starts transmission at ``t0 = max(t, c.start_s)``. On the first hop only (the contact leaves the node that
  routes), the bytes already queued for that contact go first (SABR's earliest transmission opportunity,
  §3.2.6.2): ``t0 = max(now_s, c.start_s) + queued_bytes / c.rate_bytes_per_s``.
* Transmission takes ``size_bytes / c.rate_bytes_per_s`` on every hop (store and forward: a node relays a
  bundle only once it has received all of it) and must finish no later than the contact's end:
  ``t0 + size_bytes / rate <= c.end_s``.
* The bundle arrives at ``c.to_node`` at ``t0 + size_bytes / rate + c.owlt_s``.
* The contact's residual volume (its volume ``(end_s - start_s) * rate`` minus the bytes booked on it) must be
  at least ``size_bytes``.

A contact that ends exactly when the transmission ends is usable; one that ends earlier is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from contact_plans.model import Contact

__all__ = ["Route", "transmission_times", "latest_first_start_s"]


@dataclass(frozen=True, slots=True)
class Route:
    """A route: the ordered contacts a bundle takes, with its timeline (SABR §3.2.5).

    ``departures_s[i]`` is when hop ``i`` starts transmitting, ``arrivals_s[i]`` when the bundle has fully
    arrived at ``contacts[i].to_node``. ``arrival_s`` is the delivery time at the destination,
    ``best_before_s`` the latest time the first hop may start transmitting for the same contacts to still
    deliver the bundle, and ``volume_bytes`` the route volume: the smallest, over the hops, of the contact's
    residual volume and of what the contact can still carry from this bundle's start on that hop (so a
    feasible route always has ``volume_bytes >= size_bytes``).
    """

    contacts: tuple[Contact, ...]
    arrival_s: float
    hop_count: int
    volume_bytes: float
    best_before_s: float
    departures_s: tuple[float, ...]
    arrivals_s: tuple[float, ...]
    size_bytes: float

    @property
    def first_contact(self) -> Contact:
        return self.contacts[0]

    @property
    def next_hop(self) -> int:
        """The proximate node: the receiver of the first contact."""
        return self.contacts[0].to_node

    @property
    def source(self) -> int:
        return self.contacts[0].from_node

    @property
    def destination(self) -> int:
        return self.contacts[-1].to_node

    @property
    def nodes(self) -> tuple[int, ...]:
        """Every node on the route, source first."""
        return (self.contacts[0].from_node,) + tuple(c.to_node for c in self.contacts)

    @property
    def key(self) -> tuple[float, int]:
        """The ranking key: earliest arrival first, then fewest hops."""
        return (self.arrival_s, self.hop_count)

    def to_dict(self) -> dict:
        """A JSON-ready view (used by `dtn route --json`)."""
        return {
            "arrival_s": self.arrival_s,
            "hop_count": self.hop_count,
            "next_hop": self.next_hop,
            "nodes": list(self.nodes),
            "best_before_s": self.best_before_s,
            "volume_bytes": self.volume_bytes,
            "size_bytes": self.size_bytes,
            "hops": [
                {
                    "from_node": c.from_node,
                    "to_node": c.to_node,
                    "start_s": c.start_s,
                    "end_s": c.end_s,
                    "rate_bytes_per_s": c.rate_bytes_per_s,
                    "owlt_s": c.owlt_s,
                    "departure_s": d,
                    "arrival_s": a,
                }
                for c, d, a in zip(self.contacts, self.departures_s, self.arrivals_s)
            ],
        }


def transmission_times(
    contacts: Sequence[Contact], now_s: float, size_bytes: float, first_queued_bytes: float = 0.0
) -> tuple[list[float], list[float]] | None:
    """Simulate a bundle along ``contacts`` (the model in this module's docstring, volume not checked).

    Returns ``(departures_s, arrivals_s)``, or None if a hop cannot finish inside its contact.
    """
    departures: list[float] = []
    arrivals: list[float] = []
    t = now_s
    for i, c in enumerate(contacts):
        t0 = t if t > c.start_s else c.start_s
        if i == 0 and first_queued_bytes:
            t0 = t0 + first_queued_bytes / c.rate_bytes_per_s
        finish = t0 + size_bytes / c.rate_bytes_per_s
        if finish > c.end_s:
            return None
        departures.append(t0)
        t = finish + c.owlt_s
        arrivals.append(t)
    return departures, arrivals


def latest_first_start_s(contacts: Sequence[Contact], size_bytes: float) -> float:
    """The latest time the first hop may start transmitting so that the same contacts still deliver.

    Backwards from the last hop: hop ``i`` must start by ``min(end_i, latest_{i+1} - owlt_i) - tx_i``.
    """
    latest = math.inf
    for c in reversed(contacts):
        limit = c.end_s if c.end_s < latest - c.owlt_s else latest - c.owlt_s
        latest = limit - size_bytes / c.rate_bytes_per_s
    return latest
