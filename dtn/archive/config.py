"""The `[archive]` table of a node's TOML (pure): validated into a frozen `ArchiveConfig`.

[archive]
service = 64            # the archive endpoint is ipn:N.64
path = "archive.db"     # default: <store.path>.archive, or in memory without a store path
max_bytes = 1073741824  # quota on chunk bytes kept here (none: unlimited)
replicas = 3            # default k for PUTs made at this node
chunk_bytes = 65536
nodes = [100, 101, 102] # archive nodes (default: every node of the plan)
centres = [1]           # ground centres: one replica goes to one of them
lifetime_s = 86400      # lifetime of archive bundles
fanout = 2              # holders a GET asks at once
retry_s = 600           # a GET not answered by its prediction plus this is asked elsewhere
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass
from typing import Any, Mapping

from dtn.archive.model import (
    ARCHIVE_SERVICE,
    DEFAULT_CHUNK_BYTES,
    DEFAULT_REPLICAS,
    MAX_CHUNK_BYTES,
    MAX_REPLICAS,
    MIN_CHUNK_BYTES,
)
from dtn.errors import ConfigError

KEYS = (
    "service",
    "path",
    "max_bytes",
    "replicas",
    "chunk_bytes",
    "nodes",
    "centres",
    "lifetime_s",
    "fanout",
    "retry_s",
    "enabled",
)


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """The archive service of one node (docs/archive.md)."""

    service: int = ARCHIVE_SERVICE
    path: pathlib.Path | None = None  # None: next to the bundle store, or in memory
    max_bytes: int | None = None
    replicas: int = DEFAULT_REPLICAS
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    nodes: tuple[int, ...] = ()  # () : every node of the plan
    centres: tuple[int, ...] = ()
    lifetime_s: float = 86400.0
    fanout: int = 2
    retry_s: float = 600.0


def parse_archive_table(data: Any, *, base_dir: pathlib.Path) -> ArchiveConfig | None:
    """`[archive]` -> ArchiveConfig; None when the table is absent or `enabled = false`."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table", key="archive")
    for name in data:
        if name not in KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(KEYS)})", key=f"archive.{name}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"expected true or false, got {enabled!r}", key="archive.enabled")
    if not enabled:
        return None
    path = data.get("path")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ConfigError("expected a non-empty string", key="archive.path")
        path = pathlib.Path(path).expanduser()
        if not path.is_absolute():
            path = base_dir / path
    return ArchiveConfig(
        service=_int(data, "service", ARCHIVE_SERVICE, 1, 2**64 - 1),
        path=path,
        max_bytes=_int(data, "max_bytes", None, 0, None),
        replicas=_int(data, "replicas", DEFAULT_REPLICAS, 1, MAX_REPLICAS),
        chunk_bytes=_int(data, "chunk_bytes", DEFAULT_CHUNK_BYTES, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES),
        nodes=_nodes(data, "nodes"),
        centres=_nodes(data, "centres"),
        lifetime_s=_seconds(data, "lifetime_s", 86400.0),
        fanout=_int(data, "fanout", 2, 1, MAX_REPLICAS + 1),
        retry_s=_seconds(data, "retry_s", 600.0),
    )


def _int(data: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int | None) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {value!r}", key=f"archive.{name}")
    if value < lo or (hi is not None and value > hi):
        raise ConfigError(f"must be in {lo}..{hi if hi is not None else 'any'}, got {value}", key=f"archive.{name}")
    return value


def _seconds(data: Mapping[str, Any], name: str, default: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"expected a positive number of seconds, got {value!r}", key=f"archive.{name}")
    return float(value)


def _nodes(data: Mapping[str, Any], name: str) -> tuple[int, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ConfigError("expected a list of node numbers", key=f"archive.{name}")
    return tuple(dict.fromkeys(value))
