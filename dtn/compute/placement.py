"""Cost models and job placement (pure): where should a job run so that its result arrives first?

The predicted completion of a job at node E, asked at plan time `now_s`:

    request_at  = request_arrival(E)                      # CGR: the request bundle reaches E
    inputs_at   = inputs_ready(E)                         # E holds the inputs (now, or moved there by CGR)
    start       = max(request_at, inputs_at) + E.queue_s  # the work already queued at E
    finish      = start + cost.compute_s(input_bytes, E.speed)
    result_at   = result_arrival(E, finish, result_bytes) # CGR: the result reaches the user

Time functions return None when CGR finds no route. `choose_placement` returns the candidates ordered by
predicted `result_at` (ties: lower node number); the first is the choice and the second the fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

MIB = 1024 * 1024


@dataclass(slots=True)
class CostModel:
    """Seconds per input MiB at speed 1.0, refined from measured runs (exponential moving average)."""

    s_per_mib: float = 1.0
    fixed_s: float = 0.0
    runs: int = 0
    alpha: float = 0.3

    def compute_s(self, input_bytes: int, speed: float = 1.0) -> float:
        return self.fixed_s + self.s_per_mib * (input_bytes / MIB) / speed

    def observe(self, input_bytes: int, speed: float, elapsed_s: float) -> None:
        """Refine from one measured run of `elapsed_s` on `input_bytes` at `speed` (tiny inputs are ignored)."""
        if input_bytes < 1024 or not math.isfinite(elapsed_s) or elapsed_s < 0:
            return
        measured = max(0.0, elapsed_s - self.fixed_s) * speed / (input_bytes / MIB)
        self.s_per_mib = measured if self.runs == 0 else (1 - self.alpha) * self.s_per_mib + self.alpha * measured
        self.runs += 1


@dataclass(frozen=True, slots=True)
class Offer:
    """What a node offers for one function."""

    node: int
    speed: float = 1.0
    queue_s: float = 0.0  # predicted wait for a free worker


@dataclass(frozen=True, slots=True)
class Prediction:
    node: int
    request_at_s: float
    inputs_at_s: float
    start_s: float
    finish_s: float
    result_at_s: float


TimeFn = Callable[[int], "float | None"]


def predict(
    offer: Offer,
    cost: CostModel,
    input_bytes: int,
    *,
    request_arrival: TimeFn,
    inputs_ready: TimeFn,
    result_arrival: Callable[[int, float], "float | None"],
) -> Prediction | None:
    """The predicted completion of the job at `offer.node`, or None when something cannot get there."""
    req = request_arrival(offer.node)
    inp = inputs_ready(offer.node)
    if req is None or inp is None:
        return None
    start = max(req, inp) + offer.queue_s
    finish = start + cost.compute_s(input_bytes, offer.speed)
    back = result_arrival(offer.node, finish)
    if back is None:
        return None
    return Prediction(offer.node, req, inp, start, finish, back)


def choose_placement(
    offers: Iterable[Offer],
    cost: CostModel,
    input_bytes: int,
    *,
    request_arrival: TimeFn,
    inputs_ready: TimeFn,
    result_arrival: Callable[[int, float], "float | None"],
) -> list[Prediction]:
    """Every reachable candidate, best first (earliest result, then lowest node number)."""
    out = []
    for offer in offers:
        p = predict(
            offer,
            cost,
            input_bytes,
            request_arrival=request_arrival,
            inputs_ready=inputs_ready,
            result_arrival=result_arrival,
        )
        if p is not None:
            out.append(p)
    out.sort(key=lambda p: (p.result_at_s, p.node))
    return out
