"""Static and default routes: "bundles for these endpoints go to that neighbour", used when CGR has no route.

    routes = StaticRoutes([StaticRoute("ipn:7.*", via=2), StaticRoute("*", via=3)])
    routes.next_hop("ipn:7.1")            # -> 2
    routes.next_hop("dtn://gs-1/files")   # -> 3 (the default route)

Patterns (`to` in `[[routes]]`), from most to least specific:

1. an exact endpoint: `ipn:7.1`, `dtn://gs-1/files`;
2. every endpoint of one node: `ipn:7.*`, `dtn://gs-1/*`;
3. every endpoint of a scheme: `ipn:*`, `dtn:*`;
4. the default route: `*`.

The most specific matching pattern wins; between equally specific ones, the first in the list (file order).
A route whose `via` is in `excluded` (the node the bundle came from) is skipped, so a default route never
bounces a bundle straight back, unless `via` is the destination node itself. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dtn.errors import RoutingError

_IPN_EXACT = re.compile(r"^ipn:(\d+)\.(\d+)$")
_IPN_NODE = re.compile(r"^ipn:(\d+)\.\*$")
_DTN_NODE = re.compile(r"^(dtn://[^/*]+/)\*$")
_DTN_EXACT = re.compile(r"^dtn://[^/*]+/[^*]*$")

EXACT, NODE, SCHEME, DEFAULT = 3, 2, 1, 0


@dataclass(frozen=True, slots=True)
class StaticRoute:
    """`to` (a pattern, see the module docstring) -> `via` (a neighbour's ipn node number)."""

    to: str
    via: int

    def __post_init__(self) -> None:
        specificity(self.to)  # raises RoutingError for a bad pattern
        if isinstance(self.via, bool) or not isinstance(self.via, int) or self.via < 1:
            raise RoutingError(f"via must be a node number >= 1, got {self.via!r}")


def specificity(pattern: str) -> int:
    """EXACT, NODE, SCHEME or DEFAULT; RoutingError if `pattern` is none of the accepted forms."""
    if not isinstance(pattern, str):
        raise RoutingError(f"route pattern must be a string, got {pattern!r}")
    if pattern == "*":
        return DEFAULT
    if pattern in ("ipn:*", "dtn:*"):
        return SCHEME
    if _IPN_NODE.match(pattern) or _DTN_NODE.match(pattern):
        return NODE
    if _IPN_EXACT.match(pattern) or _DTN_EXACT.match(pattern):
        return EXACT
    raise RoutingError(
        f"bad route pattern {pattern!r} (expected ipn:N.S, ipn:N.*, dtn://node/demux, dtn://node/*, ipn:*, dtn:* or *)"
    )


def matches(pattern: str, destination: str) -> bool:
    level = specificity(pattern)
    if level == DEFAULT:
        return True
    if level == SCHEME:
        return destination.startswith(pattern[:-1])
    if level == NODE:
        m = _IPN_NODE.match(pattern)
        if m:
            d = _IPN_EXACT.match(destination)
            return d is not None and int(d.group(1)) == int(m.group(1))
        return destination.startswith(pattern[:-1])
    d, p = _IPN_EXACT.match(destination), _IPN_EXACT.match(pattern)
    if d and p:
        return (int(d.group(1)), int(d.group(2))) == (int(p.group(1)), int(p.group(2)))
    return destination == pattern


class StaticRoutes:
    """An ordered set of static routes; `next_hop(destination)` applies the rule of the module docstring."""

    def __init__(self, routes: Iterable[StaticRoute] = ()) -> None:
        self.routes = tuple(routes)
        # Most specific first, file order within a level (sorted() is stable).
        self._ordered = sorted(self.routes, key=lambda r: -specificity(r.to))

    def __bool__(self) -> bool:
        return bool(self.routes)

    def match(
        self, destination: str, *, excluded: frozenset[int] = frozenset(), destination_node: int | None = None
    ) -> StaticRoute | None:
        """The winning route for `destination`, or None."""
        for route in self._ordered:
            if route.via in excluded and route.via != destination_node:
                continue
            if matches(route.to, destination):
                return route
        return None

    def next_hop(
        self, destination: str, *, excluded: frozenset[int] = frozenset(), destination_node: int | None = None
    ) -> int | None:
        route = self.match(destination, excluded=excluded, destination_node=destination_node)
        return None if route is None else route.via


__all__ = ["StaticRoute", "StaticRoutes", "specificity", "matches", "EXACT", "NODE", "SCHEME", "DEFAULT"]
