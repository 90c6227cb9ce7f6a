"""Time for everything a node does, RFC 9171 §4.2.6 DTN time conversion at the edge.

`Clock` is the one interface a node uses for time. `TrioClock` reads Trio's current clock, so the same node
code runs on the wall clock under a normal `trio.run` and in virtual time under `trio.testing.MockClock`
(autojump): the digital twin. `epoch_unix_s` maps the clock's zero to Unix time so DTN timestamps are right in
both worlds.
"""

from __future__ import annotations

import time
from typing import Protocol

import trio

# Seconds between the Unix epoch and the DTN epoch (2000-01-01T00:00:00Z).
DTN_EPOCH_UNIX_S = 946_684_800


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds on this clock (monotonic within a run)."""

    def unix_s(self) -> float:
        """The current time as Unix seconds (for DTN creation timestamps and expiry)."""

    async def sleep_until(self, t_s: float) -> None:
        """Sleep until `now_s()` >= t_s."""


class TrioClock:
    """Trio's clock (wall or MockClock) with a fixed mapping to Unix time.

    `unix_at_zero_s` is the Unix time that `now_s() == 0` stands for. By default it is taken from the system
    clock when the Clock is created, so on the wall clock `unix_s()` tracks real time; a simulation passes the
    plan epoch so virtual time starts at the plan's start.
    """

    def __init__(self, unix_at_zero_s: float | None = None, *, zero_s: float | None = None) -> None:
        self._zero_s = trio.current_time() if zero_s is None else zero_s
        self._unix_at_zero_s = time.time() if unix_at_zero_s is None else unix_at_zero_s

    def now_s(self) -> float:
        return trio.current_time() - self._zero_s

    def unix_s(self) -> float:
        return self._unix_at_zero_s + self.now_s()

    def dtn_time_ms(self) -> int:
        return unix_to_dtn_ms(self.unix_s())

    async def sleep_until(self, t_s: float) -> None:
        await trio.sleep_until(self._zero_s + t_s)


def unix_to_dtn_ms(unix_s: float) -> int:
    return max(0, int(round((unix_s - DTN_EPOCH_UNIX_S) * 1000)))


def dtn_ms_to_unix(dtn_ms: int) -> float:
    return dtn_ms / 1000.0 + DTN_EPOCH_UNIX_S
