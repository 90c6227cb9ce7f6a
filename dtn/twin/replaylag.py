"""How far `dtn replay` falls behind the wall clock.

The replay controller sleeps until the wall time of each scheduled action (a send, a kill, a restart, the end of
the run) and records how late it woke up. On a loaded machine (too many node processes for the cores) those
wake-ups come late, and so does everything the nodes do: the replay then no longer follows the plan. The meter
turns the lateness into plan seconds (x speed) and says whether the run kept up, and if not, by how much and which
speed would have held. No clock here: the caller passes the lateness in.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


@dataclass
class LagMeter:
    """Lateness of the replay's scheduled actions. `tolerance_plan_s`: the lag (plan seconds) still counted as
    keeping up, one minute by default, short against contacts of minutes."""

    speed: float
    tolerance_plan_s: float = 60.0
    late_wall_s: list[float] = field(default_factory=list)

    def record(self, late_s: float) -> None:
        self.late_wall_s.append(max(0.0, late_s))

    def summary(self) -> dict:
        values = sorted(self.late_wall_s)
        p50, p95, worst = _quantile(values, 0.5), _quantile(values, 0.95), (values[-1] if values else 0.0)
        kept_up = p95 * self.speed <= self.tolerance_plan_s
        out = {
            "actions": len(values),
            "lag_p50_wall_s": round(p50, 3),
            "lag_p95_wall_s": round(p95, 3),
            "lag_max_wall_s": round(worst, 3),
            "lag_p95_plan_s": round(p95 * self.speed, 1),
            "lag_max_plan_s": round(worst * self.speed, 1),
            "tolerance_plan_s": self.tolerance_plan_s,
            "kept_up": kept_up,
        }
        if not kept_up:
            out["speed_that_would_hold"] = round(self.tolerance_plan_s / p95, 1)
        return out


def lag_message(lag: dict, speed: float) -> str:
    """One line for the user: that the replay kept up, or by how much it did not."""
    if not lag.get("actions"):
        return "replay lag: nothing was scheduled, nothing measured"
    if lag["kept_up"]:
        return (
            f"replay kept up with the wall clock: its actions ran at most {lag['lag_max_wall_s']:.3f} s late "
            f"(p95 {lag['lag_p95_wall_s']:.3f} s = {lag['lag_p95_plan_s']:.0f} plan s at speed {speed:g})"
        )
    return (
        f"replay could NOT keep up at speed {speed:g}: its actions ran {lag['lag_p95_wall_s']:.2f} s late "
        f"(p95; max {lag['lag_max_wall_s']:.2f} s), i.e. {lag['lag_p95_plan_s']:.0f} plan s (max "
        f"{lag['lag_max_plan_s']:.0f}) behind the plan, more than the {lag['tolerance_plan_s']:.0f} s tolerated; "
        f"the results do not follow the plan. A speed of about {lag['speed_that_would_hold']:g} would hold "
        "(--speed), or run it in the twin (dtn simulate)"
    )
