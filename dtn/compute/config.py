"""The `[compute]` table of a node's TOML (pure): validated into a frozen `ComputeConfig`.

[compute]
service = 65                  # the compute endpoint is ipn:N.65
path = "compute.db"           # default: <store.path>.compute, or in memory without a store path
concurrency = 2               # jobs run at once (worker processes)
speed = 1.0                   # relative speed used for predictions (1.0: the reference machine)
cpu_s = 60                    # per-job CPU-time limit of a worker (RLIMIT_CPU)
memory_bytes = 1073741824     # per-job address-space limit of a worker (RLIMIT_AS)
output_bytes = 16777216       # per-job limit on the result size
allowed_sources = [1, 2]      # nodes that may submit (default: any)
lifetime_s = 86400            # lifetime of compute bundles
[compute.functions]           # only these run: name = "module:callable"
band_stats = "dtn.compute.examples:band_stats"
[compute.cost_s_per_mib]      # cost model: seconds per input MiB at speed 1.0 (default 1.0)
band_stats = 0.05
"""

from __future__ import annotations

import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from dtn.compute.messages import COMPUTE_SERVICE
from dtn.errors import ConfigError

KEYS = (
    "service",
    "path",
    "concurrency",
    "speed",
    "cpu_s",
    "memory_bytes",
    "output_bytes",
    "allowed_sources",
    "lifetime_s",
    "functions",
    "cost_s_per_mib",
    "enabled",
)
_SPEC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ComputeConfig:
    """The compute service of one node (docs/compute.md)."""

    service: int = COMPUTE_SERVICE
    path: pathlib.Path | None = None
    concurrency: int = 1
    speed: float = 1.0
    cpu_s: float = 60.0
    memory_bytes: int = 1024**3
    output_bytes: int = 16 * 1024**2
    allowed_sources: tuple[int, ...] | None = None  # None: any source
    lifetime_s: float = 86400.0
    functions: Mapping[str, str] = field(default_factory=dict)  # name -> "module:callable"
    cost_s_per_mib: Mapping[str, float] = field(default_factory=dict)


def parse_compute_table(data: Any, *, base_dir: pathlib.Path) -> ComputeConfig | None:
    """`[compute]` -> ComputeConfig; None when the table is absent or `enabled = false`."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table", key="compute")
    for name in data:
        if name not in KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(KEYS)})", key=f"compute.{name}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"expected true or false, got {enabled!r}", key="compute.enabled")
    if not enabled:
        return None
    path = data.get("path")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ConfigError("expected a non-empty string", key="compute.path")
        path = pathlib.Path(path).expanduser()
        if not path.is_absolute():
            path = base_dir / path
    functions = data.get("functions", {})
    if not isinstance(functions, Mapping):
        raise ConfigError('must be a table of name = "module:callable"', key="compute.functions")
    for name, spec in functions.items():
        if not _NAME.match(name):
            raise ConfigError("function names are 1..64 characters of [A-Za-z0-9_.-]", key=f"compute.functions.{name}")
        if not isinstance(spec, str) or not _SPEC.match(spec):
            raise ConfigError(f'expected "module:callable", got {spec!r}', key=f"compute.functions.{name}")
    costs = data.get("cost_s_per_mib", {})
    if not isinstance(costs, Mapping):
        raise ConfigError("must be a table of name = seconds", key="compute.cost_s_per_mib")
    for name, cost in costs.items():
        if name not in functions:
            raise ConfigError("no such function in [compute.functions]", key=f"compute.cost_s_per_mib.{name}")
        _positive(cost, f"compute.cost_s_per_mib.{name}", allow_zero=True)
    sources = data.get("allowed_sources")
    if sources is not None:
        if not isinstance(sources, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sources
        ):
            raise ConfigError("expected a list of node numbers", key="compute.allowed_sources")
        sources = tuple(dict.fromkeys(sources))
    return ComputeConfig(
        service=_int(data, "service", COMPUTE_SERVICE, 1, 2**64 - 1),
        path=path,
        concurrency=_int(data, "concurrency", 1, 1, 256),
        speed=_positive(data.get("speed", 1.0), "compute.speed"),
        cpu_s=_positive(data.get("cpu_s", 60.0), "compute.cpu_s"),
        memory_bytes=_int(data, "memory_bytes", 1024**3, 16 * 1024**2, None),
        output_bytes=_int(data, "output_bytes", 16 * 1024**2, 1, 48 * 1024**2),
        allowed_sources=sources,
        lifetime_s=_positive(data.get("lifetime_s", 86400.0), "compute.lifetime_s"),
        functions=dict(functions),
        cost_s_per_mib={k: float(v) for k, v in costs.items()},
    )


def _int(data: Mapping[str, Any], name: str, default: int, lo: int, hi: int | None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {value!r}", key=f"compute.{name}")
    if value < lo or (hi is not None and value > hi):
        raise ConfigError(f"must be in {lo}..{hi if hi is not None else 'any'}, got {value}", key=f"compute.{name}")
    return value


def _positive(value: Any, key: str, *, allow_zero: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (value < 0 if allow_zero else value <= 0)
    ):
        raise ConfigError(f"expected a positive finite number, got {value!r}", key=key)
    return float(value)
