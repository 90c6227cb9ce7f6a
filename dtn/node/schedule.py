"""When this node's links are planned up: pure queries over the contact plan, plus admin overrides.

A TCPCLv4 session carries both directions, so the link to a neighbour is wanted while a contact in either
direction is active (plan seconds, half-open intervals [start_s, end_s)). Sending additionally needs an
outbound contact (this node -> neighbour) active now. An admin override ("up" or "down", from the agent API)
replaces the plan for that neighbour until it is set back to "plan".
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from contact_plans.model import Contact, ContactPlan

UP = "up"
DOWN = "down"
PLAN = "plan"


@dataclass(frozen=True, slots=True)
class Window:
    """A merged interval in which the link to `peer` is planned up."""

    peer: int
    start_s: float
    end_s: float


class LinkSchedule:
    """Planned link windows of node `node` to each neighbour."""

    def __init__(self, plan: ContactPlan | None, node: int) -> None:
        self.node = node
        self.overrides: dict[int, str] = {}
        self._outbound: dict[int, list[Contact]] = {}
        self._windows: dict[int, list[Window]] = {}
        self.replace_plan(plan)

    def replace_plan(self, plan: ContactPlan | None) -> None:
        outbound: dict[int, list[Contact]] = {}
        spans: dict[int, list[tuple[float, float]]] = {}
        for c in plan.contacts if plan is not None else ():
            if c.from_node == self.node:
                outbound.setdefault(c.to_node, []).append(c)
                spans.setdefault(c.to_node, []).append((c.start_s, c.end_s))
            elif c.to_node == self.node:
                spans.setdefault(c.from_node, []).append((c.start_s, c.end_s))
        self._outbound = {p: sorted(cs, key=lambda c: (c.start_s, c.end_s)) for p, cs in outbound.items()}
        self._windows = {p: _merge(p, s) for p, s in spans.items()}
        self._index_all()

    def _index_all(self) -> None:
        """Sorted look-up arrays per peer, so every query is a bisection (a ground station meets each satellite
        a few times a day; a long replay or a dense plan would otherwise make each query linear)."""
        self._window_starts: dict[int, list[float]] = {}
        self._changes: dict[int, list[float]] = {}
        self._outbound_starts: dict[int, list[float]] = {}
        for peer in set(self._windows) | set(self._outbound):
            self._index(peer)

    def _index(self, peer: int) -> None:
        windows = self._windows.get(peer, [])
        outbound = self._outbound.get(peer, [])
        self._window_starts[peer] = [w.start_s for w in windows]
        self._outbound_starts[peer] = [c.start_s for c in outbound]
        times = {w.start_s for w in windows} | {w.end_s for w in windows}
        times |= {c.start_s for c in outbound} | {c.end_s for c in outbound}
        self._changes[peer] = sorted(times)

    def add_contact(self, contact: Contact) -> None:
        """Add one contact (an admin "up" with no planned contact)."""
        peer = contact.to_node if contact.from_node == self.node else contact.from_node
        if contact.from_node == self.node:
            self._outbound.setdefault(peer, []).append(contact)
            self._outbound[peer].sort(key=lambda c: (c.start_s, c.end_s))
        spans = [(w.start_s, w.end_s) for w in self._windows.get(peer, [])] + [(contact.start_s, contact.end_s)]
        self._windows[peer] = _merge(peer, spans)
        self._index(peer)

    def peers(self) -> set[int]:
        return set(self._windows) | set(self.overrides)

    def windows(self, peer: int) -> list[Window]:
        return list(self._windows.get(peer, []))

    def _window_at(self, peer: int, t_s: float) -> Window | None:
        starts = self._window_starts.get(peer)
        if not starts:
            return None
        i = bisect.bisect_right(starts, t_s) - 1  # windows are merged: at most one can hold t_s
        if i >= 0:
            w = self._windows[peer][i]
            if w.start_s <= t_s < w.end_s:
                return w
        return None

    def planned_up(self, peer: int, t_s: float) -> bool:
        return self._window_at(peer, t_s) is not None

    def link_wanted(self, peer: int, t_s: float) -> bool:
        """Should a session to `peer` exist at plan time `t_s`?"""
        override = self.overrides.get(peer)
        if override == UP:
            return True
        if override == DOWN:
            return False
        return self.planned_up(peer, t_s)

    def outbound_contact(self, peer: int, t_s: float) -> Contact | None:
        """The planned contact this node -> peer active at `t_s` (the one ending last if several)."""
        contacts = self._outbound.get(peer)
        if not contacts:
            return None
        started = bisect.bisect_right(self._outbound_starts[peer], t_s)
        active = [c for c in contacts[:started] if t_s < c.end_s]
        return max(active, key=lambda c: c.end_s) if active else None

    def may_send(self, peer: int, t_s: float) -> bool:
        override = self.overrides.get(peer)
        if override == UP:
            return True
        if override == DOWN:
            return False
        return self.outbound_contact(peer, t_s) is not None

    def next_change_s(self, peer: int, t_s: float) -> float:
        """The first plan time after `t_s` at which `link_wanted` or `may_send` may change (inf: never)."""
        if self.overrides.get(peer) in (UP, DOWN):
            return math.inf
        changes = self._changes.get(peer)
        if not changes:
            return math.inf
        i = bisect.bisect_right(changes, t_s)
        return changes[i] if i < len(changes) else math.inf

    def window_end_s(self, peer: int, t_s: float) -> float | None:
        w = self._window_at(peer, t_s)
        return None if w is None else w.end_s


def _merge(peer: int, spans: list[tuple[float, float]]) -> list[Window]:
    out: list[Window] = []
    for start, end in sorted(spans):
        if out and start <= out[-1].end_s:
            if end > out[-1].end_s:
                out[-1] = Window(peer, out[-1].start_s, end)
        else:
            out.append(Window(peer, start, end))
    return out
