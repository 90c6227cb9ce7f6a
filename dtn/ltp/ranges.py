"""A set of byte ranges [start, end), kept sorted and merged: what a receiver holds, what a sender saw claimed."""

from __future__ import annotations

import bisect


class Ranges:
    """Disjoint, sorted, merged half-open intervals."""

    __slots__ = ("_starts", "_ends")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self):
        return iter(zip(self._starts, self._ends))

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        i = bisect.bisect_left(self._ends, start)  # first interval ending at or after start (touching merges)
        j = bisect.bisect_right(self._starts, end)  # intervals starting at or before end overlap or touch
        if i < j:
            start = min(start, self._starts[i])
            end = max(end, self._ends[j - 1])
        self._starts[i:j] = [start]
        self._ends[i:j] = [end]

    def covers(self, start: int, end: int) -> bool:
        if end <= start:
            return True
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def total(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends))

    def within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The held ranges clipped to [start, end)."""
        out = []
        i = max(0, bisect.bisect_right(self._ends, start))
        while i < len(self._starts) and self._starts[i] < end:
            s, e = max(self._starts[i], start), min(self._ends[i], end)
            if s < e:
                out.append((s, e))
            i += 1
        return out

    def missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """The gaps in [start, end)."""
        out = []
        cursor = start
        for s, e in self.within(start, end):
            if s > cursor:
                out.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < end:
            out.append((cursor, end))
        return out
