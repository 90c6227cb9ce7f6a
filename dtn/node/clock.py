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

from dtn.bpv7.time import unix_to_dtn_ms


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds on this clock (monotonic within a run)."""

    def unix_s(self) -> float:
        """The current time as Unix seconds (for DTN creation timestamps and expiry)."""

    async def sleep_until(self, t_s: float) -> None:
        """Sleep until `now_s()` >= t_s."""

    def trio_time_at(self, t_s: float) -> float:
        """The Trio clock reading at which `now_s()` reaches t_s: a deadline for a cancel scope
        (`trio.move_on_at`), so that waits with a deadline need no extra task."""


class TrioClock:
    """Trio's clock (wall or MockClock) with a fixed mapping to Unix time.

    `unix_at_zero_s` is the Unix time that `now_s() == 0` stands for. By default it is taken from the system
    clock when the Clock is created, so on the wall clock `unix_s()` tracks real time; a simulation passes the
    plan epoch so virtual time starts at the plan's start.

    `speed` scales time for replays: with speed 600, ten minutes of plan time pass in one second of Trio time
    (every node and link emulator of a replay uses the same speed and the same `unix_at_zero_s`).
    """

    def __init__(self, unix_at_zero_s: float | None = None, *, zero_s: float | None = None, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self._zero_s = trio.current_time() if zero_s is None else zero_s
        self._unix_at_zero_s = time.time() if unix_at_zero_s is None else unix_at_zero_s
        self.speed = float(speed)

    @classmethod
    def from_wall(cls, wall_zero_unix_s: float, unix_at_zero_s: float, *, speed: float = 1.0) -> "TrioClock":
        """A clock whose zero is the wall-clock instant `wall_zero_unix_s`: every process of a replay builds its
        clock this way from the same numbers, so they agree on scaled time (Trio's own clock has a per-process
        offset)."""
        zero_s = trio.current_time() - (time.time() - wall_zero_unix_s)
        return cls(unix_at_zero_s, zero_s=zero_s, speed=speed)

    def now_s(self) -> float:
        return (trio.current_time() - self._zero_s) * self.speed

    def trio_time_at(self, t_s: float) -> float:
        """The Trio clock reading at which `now_s()` reaches t_s."""
        return self._zero_s + t_s / self.speed

    def unix_s(self) -> float:
        return self._unix_at_zero_s + self.now_s()

    def unix_at_trio_time(self, trio_time_s: float) -> float:
        """What `unix_s()` reads when Trio's clock reads `trio_time_s` (the very same arithmetic)."""
        return self._unix_at_zero_s + (trio_time_s - self._zero_s) * self.speed

    def trio_time_at_unix(self, t_unix_s: float) -> float:
        """The Trio clock reading at which `unix_s()` reaches t_unix_s, from the fixed mapping alone: unlike
        `now + (t - unix_s())`, it does not depend on when it is computed, so the twin's deadlines for one plan
        instant are the same floats in every run (docs/replay.md, determinism)."""
        return self._zero_s + (t_unix_s - self._unix_at_zero_s) / self.speed

    def dtn_time_ms(self) -> int:
        """Now as DTN time (ms since 2000-01-01T00:00:00Z), converted at the codec edge."""
        return unix_to_dtn_ms(self.unix_s())

    async def sleep_until(self, t_s: float) -> None:
        await trio.sleep_until(self.trio_time_at(t_s))

    async def sleep(self, duration_s: float) -> None:
        await self.sleep_until(self.now_s() + max(0.0, duration_s))


def move_on_after(clock: Clock, duration_s: float) -> trio.CancelScope:
    """A cancel scope that expires once `duration_s` has passed on `clock` (inf: never)."""
    if duration_s == float("inf"):
        return trio.CancelScope()
    return trio.move_on_at(clock.trio_time_at(clock.now_s() + max(0.0, duration_s)))
