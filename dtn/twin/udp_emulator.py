"""The datagram link model of the UDP link emulator: what happens to each datagram in one direction.

Pure (a seeded `random.Random`, time passed in): the Trio relay `dtn.twin.runner.udp_emulator` applies it to real
loopback datagrams, and the LTP property tests apply it to two engines in virtual time, so both see the same
impairments:

- a fixed one-way light time (`owlt_s`);
- random loss (`loss`, independent per datagram) and bursty loss (a Gilbert-Elliott two-state chain: from the
  good state a datagram starts a burst with probability `burst_start`; in a burst every datagram is lost and
  the burst ends after each with probability 1 / `burst_length`);
- duplication (`duplicate`: the datagram is delivered twice);
- reordering (`reorder`: the datagram gets an extra delay uniform in (0, `reorder_s`], so later ones overtake);
- one-way links: `up = False` drops everything in this direction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from dtn.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Impairments:
    """One direction of an emulated link."""

    owlt_s: float = 0.0
    loss: float = 0.0
    burst_start: float = 0.0
    burst_length: float = 1.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_s: float = 0.01
    up: bool = True

    def __post_init__(self) -> None:
        for name in ("loss", "burst_start", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"must be a probability in [0, 1], got {value}", key=name)
        if self.owlt_s < 0 or self.reorder_s < 0:
            raise ConfigError("delays must be >= 0", key="owlt_s")
        if self.burst_length < 1:
            raise ConfigError("must be >= 1 (datagrams)", key="burst_length")

    def with_(self, **changes) -> "Impairments":
        return replace(self, **changes)


class LinkModel:
    """Decides the fate of each datagram sent in one direction. `transmit(now_s)` returns the times at which
    it arrives: [] if lost, one time normally, two if duplicated. Counters in `stats`."""

    def __init__(self, impairments: Impairments, *, seed: int | None = None) -> None:
        self.impairments = impairments
        self._rng = random.Random(seed)
        self._in_burst = False
        self.stats = {"sent": 0, "lost": 0, "duplicated": 0, "reordered": 0}

    def transmit(self, now_s: float) -> list[float]:
        imp = self.impairments
        rng = self._rng
        self.stats["sent"] += 1
        if not imp.up:
            self.stats["lost"] += 1
            return []
        if self._in_burst:
            if rng.random() < 1.0 / imp.burst_length:
                self._in_burst = False
            self.stats["lost"] += 1
            return []
        if imp.burst_start and rng.random() < imp.burst_start:
            self._in_burst = imp.burst_length > 1
            self.stats["lost"] += 1
            return []
        if imp.loss and rng.random() < imp.loss:
            self.stats["lost"] += 1
            return []
        copies = 1
        if imp.duplicate and rng.random() < imp.duplicate:
            copies = 2
            self.stats["duplicated"] += 1
        out = []
        for _ in range(copies):
            t = now_s + imp.owlt_s
            if imp.reorder and rng.random() < imp.reorder:
                t += rng.uniform(0.0, imp.reorder_s) or imp.reorder_s
                self.stats["reordered"] += 1
            out.append(t)
        return out
