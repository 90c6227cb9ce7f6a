"""The `[web] table of a node's TOML (pure): validated into a frozen `WebConfig`.

[web]
address = "127.0.0.1:8080"    # off when the table is absent; loopback only, port 0 picks a free port
secret_file = "web.secret"    # optional: a request carrying this secret may change contact overrides
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from dtn.errors import ConfigError

KEYS = ("address", "secret_file")
_LOOPBACK = re.compile(r"^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$")


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Where the node's web page listens, and the file holding the secret that allows changes."""

    host: str
    port: int
    secret_file: pathlib.Path | None = None


def parse_web_table(data: Any, *, base_dir: pathlib.Path) -> WebConfig | None:
    """`[web]` -> WebConfig; None when the table is absent (the page is off by default)."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table", key="web")
    for name in data:
        if name not in KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(KEYS)})", key=f"web.{name}")
    address = data.get("address")
    if not isinstance(address, str):
        raise ConfigError("expected 'host:port', e.g. \"127.0.0.1:8080\"", key="web.address")
    m = re.match(r"^\[([0-9A-Fa-f:.]+)\]:(\d+)$", address) or re.match(r"^([^:\[\]]+):(\d+)$", address)
    if not m:
        raise ConfigError(f"expected 'host:port' (IPv6 as [::1]:port), got {address!r}", key="web.address")
    host, port = m.group(1), int(m.group(2))
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} out of range 0..65535", key="web.address")
    if not _LOOPBACK.match(host):
        raise ConfigError(
            "the web page listens on loopback only (127.0.0.1 or ::1); put a proxy in front to reach it from elsewhere",
            key="web.address",
        )
    secret = data.get("secret_file")
    if secret is not None and not isinstance(secret, str):
        raise ConfigError(f"expected a file path, got {secret!r}", key="web.secret_file")
    secret_path = None if secret is None else (base_dir / secret)
    return WebConfig(host=host, port=port, secret_file=secret_path)
