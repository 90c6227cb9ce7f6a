"""Numbers for people: durations, sizes, rates and UTC times with their units (no imports beyond the stdlib)."""

from __future__ import annotations

import datetime as _dt
import math


def duration(seconds: float | None) -> str:
    """12 ms, 45 s, 4 min, 2.5 h, 3.0 d."""
    if seconds is None or not math.isfinite(seconds):
        return "never" if seconds is not None else "-"
    a = abs(seconds)
    if a < 1:
        return f"{a * 1000:.0f} ms"
    if a < 90:
        return f"{a:.0f} s" if a >= 10 else f"{a:.1f} s"
    if a < 90 * 60:
        return f"{a / 60:.0f} min"
    if a < 48 * 3600:
        return f"{a / 3600:.1f} h"
    return f"{a / 86400:.1f} d"


def relative(delta_s: float | None) -> str:
    """'in 4 min' for the future, '3 s ago' for the past."""
    if delta_s is None or not math.isfinite(delta_s):
        return "never" if delta_s is not None else "-"
    return f"in {duration(delta_s)}" if delta_s >= 0 else f"{duration(delta_s)} ago"


def utc(unix_s: float | None, *, seconds: bool = True) -> str:
    """'2026-12-07 22:58:57 UTC'."""
    if unix_s is None or not math.isfinite(unix_s):
        return "-"
    t = _dt.datetime.fromtimestamp(unix_s, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def size(n_bytes: float | None) -> str:
    """'0 bytes', '88 bytes', '1.50 kB', '12.3 MB' (powers of 1000)."""
    if n_bytes is None:
        return "-"
    value = float(n_bytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "bytes":
        return f"{value:.0f} bytes" if value != 1 else "1 byte"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"


def rate(bytes_per_s: float | None) -> str:
    """'1.25 MB/s'."""
    return "-" if bytes_per_s is None else size(bytes_per_s).replace("bytes", "bytes") + "/s"
