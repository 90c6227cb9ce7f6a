"""The `[ltp]` table of a node's TOML (pure), validated into `LtpSettings` (docs/ltp.md).

[ltp]
mtu_bytes = 1400             # largest segment = UDP payload
rate_bytes_per_s = 0         # send rate when no plan contact gives one (0: unlimited)
owlt_s = 0.0                 # one-way light time when no plan contact gives one
timer_margin_s = 0.5         # checkpoint/report timers run 2 x OWLT + this
max_retransmissions = 20     # per checkpoint, report or cancel segment
max_export_sessions = 64     # blocks in flight
max_import_sessions = 1024
inactivity_s = 120           # an import session silent this long (link-up time) is cancelled
aggregation_bytes = 0        # > 0: bundles share blocks up to this size ...
aggregation_s = 0.1          # ... or until the first has waited this long
max_block_retries = 5        # a cancelled block is sent again in a new session this many times
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from dtn.errors import ConfigError

KEYS = (
    "mtu_bytes",
    "rate_bytes_per_s",
    "owlt_s",
    "timer_margin_s",
    "max_retransmissions",
    "max_export_sessions",
    "max_import_sessions",
    "inactivity_s",
    "aggregation_bytes",
    "aggregation_s",
    "max_block_retries",
)


@dataclass(frozen=True, slots=True)
class LtpSettings:
    mtu_bytes: int = 1400
    rate_bytes_per_s: float = 0.0
    owlt_s: float = 0.0
    timer_margin_s: float = 0.5
    max_retransmissions: int = 20
    max_export_sessions: int = 64
    max_import_sessions: int = 1024
    inactivity_s: float = 120.0
    aggregation_bytes: int = 0
    aggregation_s: float = 0.1
    max_block_retries: int = 5


_INT_RANGES = {
    "mtu_bytes": (64, 65507),  # the largest UDP payload over IPv4
    "max_retransmissions": (0, 10_000),
    "max_export_sessions": (1, 1_000_000),
    "max_import_sessions": (1, 1_000_000),
    "aggregation_bytes": (0, 2**31),
    "max_block_retries": (0, 1000),
}
_FLOATS = ("rate_bytes_per_s", "owlt_s", "timer_margin_s", "inactivity_s", "aggregation_s")


def parse_ltp_table(data: Any) -> LtpSettings:
    """`[ltp]` (None: defaults). Raises `ConfigError` naming `ltp.<key>`."""
    if data is None:
        return LtpSettings()
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table", key="ltp")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"ltp.{name}"
        if name not in KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(KEYS)})", key=key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected a number, got {value!r}", key=key)
        if name in _INT_RANGES:
            low, high = _INT_RANGES[name]
            if not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"expected an integer in {low}..{high}, got {value!r}", key=key)
        elif not math.isfinite(value) or value < 0:
            raise ConfigError(f"expected a finite number >= 0, got {value!r}", key=key)
        if name == "timer_margin_s" and value <= 0:
            raise ConfigError("must be positive", key=key)
        values[name] = float(value) if name in _FLOATS else value
    return LtpSettings(**values)
