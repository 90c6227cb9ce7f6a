"""When each link is up: the plan's contacts per node pair, with faults applied.

A TCPCLv4 session needs both directions, so a pair's link is up while a contact in either direction is active.
The link emulator (real processes) and the digital twin (virtual time) both consult this one schedule, so the
two modes see the same links. The nodes never see faults: they only notice links dropping or not coming up.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, replace

from contact_plans.model import ContactPlan
from dtn.twin.workload import Fault


@dataclass(frozen=True, slots=True)
class Window:
    """The a-b link is up in [start_s, end_s) (plan seconds); a < b. Rates per direction, OWLT the largest."""

    a: int
    b: int
    start_s: float
    end_s: float
    owlt_s: float
    rate_ab_bytes_per_s: float
    rate_ba_bytes_per_s: float


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class LinkSchedule:
    """Merged per-pair up windows of a plan, with `cut_link`, `node_down` and `missing_contact` faults."""

    def __init__(self, plan: ContactPlan, faults: list[Fault] = ()) -> None:
        by_pair: dict[tuple[int, int], list] = defaultdict(list)
        for c in plan.contacts:
            by_pair[pair(c.from_node, c.to_node)].append(c)
        self._windows: dict[tuple[int, int], list[Window]] = {}
        for key, contacts in by_pair.items():
            self._windows[key] = _merge(key, contacts)
        for fault in faults:
            self._apply(fault)
        self._starts = {k: [w.start_s for w in ws] for k, ws in self._windows.items()}

    # -- faults ----------------------------------------------------------------------------------------------
    def _apply(self, fault: Fault) -> None:
        if fault.kind == "cut_link":
            key = pair(fault.a, fault.b)
            self._windows[key] = [
                replace(w, end_s=fault.at_s) if w.start_s <= fault.at_s < w.end_s else w
                for w in self._windows.get(key, [])
                if not (w.start_s == fault.at_s)
            ]
        elif fault.kind == "missing_contact":
            key = pair(fault.a, fault.b)
            self._windows[key] = [w for w in self._windows.get(key, []) if not (w.start_s <= fault.at_s < w.end_s)]
        elif fault.kind == "node_down":
            for key, windows in self._windows.items():
                if fault.node in key:
                    self._windows[key] = _subtract(windows, fault.from_s, fault.to_s)

    # -- queries ---------------------------------------------------------------------------------------------
    def pairs(self) -> list[tuple[int, int]]:
        return sorted(k for k, ws in self._windows.items() if ws)

    def windows(self, a: int, b: int) -> list[Window]:
        return list(self._windows.get(pair(a, b), []))

    def all_windows(self) -> list[Window]:
        out = [w for ws in self._windows.values() for w in ws]
        out.sort(key=lambda w: (w.start_s, w.a, w.b))
        return out

    def window_at(self, a: int, b: int, t_s: float) -> Window | None:
        key = pair(a, b)
        starts = self._starts.get(key)
        if not starts:
            return None
        i = bisect.bisect_right(starts, t_s) - 1
        if i >= 0:
            w = self._windows[key][i]
            if w.start_s <= t_s < w.end_s:
                return w
        return None

    def is_up(self, a: int, b: int, t_s: float) -> bool:
        return self.window_at(a, b, t_s) is not None

    def next_window(self, a: int, b: int, t_s: float) -> Window | None:
        """The window that is up at t_s, or else the next one to start after t_s."""
        current = self.window_at(a, b, t_s)
        if current is not None:
            return current
        key = pair(a, b)
        starts = self._starts.get(key, [])
        i = bisect.bisect_right(starts, t_s)
        return self._windows[key][i] if i < len(starts) else None


def _merge(key: tuple[int, int], contacts) -> list[Window]:
    a, b = key
    contacts = sorted(contacts, key=lambda c: (c.start_s, c.end_s))
    windows: list[Window] = []
    group: list = []
    group_end = float("-inf")

    def flush() -> None:
        if not group:
            return
        ab = [c.rate_bytes_per_s for c in group if c.from_node == a]
        ba = [c.rate_bytes_per_s for c in group if c.from_node == b]
        windows.append(
            Window(
                a=a,
                b=b,
                start_s=min(c.start_s for c in group),
                end_s=max(c.end_s for c in group),
                owlt_s=max(c.owlt_s for c in group),
                rate_ab_bytes_per_s=min(ab) if ab else min(ba),
                rate_ba_bytes_per_s=min(ba) if ba else min(ab),
            )
        )

    for c in contacts:
        if group and c.start_s > group_end:
            flush()
            group = []
        group.append(c)
        group_end = max(group_end, c.end_s) if len(group) > 1 else c.end_s
    flush()
    return windows


def _subtract(windows: list[Window], from_s: float, to_s: float) -> list[Window]:
    out = []
    for w in windows:
        if w.end_s <= from_s or w.start_s >= to_s:
            out.append(w)
            continue
        if w.start_s < from_s:
            out.append(replace(w, end_s=from_s))
        if w.end_s > to_s:
            out.append(replace(w, start_s=to_s))
    return out
