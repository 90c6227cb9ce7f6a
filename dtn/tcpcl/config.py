"""TCPCLv4 session configuration: the local preferences and every resource limit (pure; no I/O)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import IntEnum

from dtn.errors import ConfigError

from .messages import U16_MAX, U64_MAX, ExtensionItem

KiB = 1024
MiB = 1024 * KiB


class Role(IntEnum):
    """Which side opened the TCP connection, RFC 9174 §3.1 ("active" and "passive" entities)."""

    ACTIVE = 1
    PASSIVE = 2


@dataclass(frozen=True, slots=True)
class TcpclConfig:
    """Local TCPCLv4 preferences and limits.

    - `node_id`: our Node ID sent in SESS_INIT (e.g. "ipn:1.0"; HDTN expects the `ipn:N.0` form).
    - `keepalive_s`: our proposed keepalive interval (0 disables; the session uses the minimum of both sides,
      RFC 9174 §4.7).
    - `segment_mru_bytes` / `transfer_mru_bytes`: the largest segment / whole transfer we accept (sent in
      SESS_INIT). A peer that sends a larger segment gets SESS_TERM(RESOURCE_EXHAUSTION); a larger transfer
      gets XFER_REFUSE(NO_RESOURCES).
    - `max_buffered_bytes`: all received transfer bytes we hold at once (partial transfer plus completed
      transfers not yet accepted or refused by the node). A transfer that would exceed it is refused.
    - `max_extension_items_bytes`: the largest session or transfer extension item list we parse.
    - `send_segment_bytes`: the largest segment we send (further capped by the peer's segment MRU).
    - `can_tls` / `require_tls`: offer TLS; refuse sessions without it (SESS_TERM(CONTACT_FAILURE)).
      `ssl_context_server` (passive side) and `ssl_context_client` (active side) are used by `dtn.cla`.
    - `require_node_id_auth`: with TLS, the peer's certificate must name the peer's SESS_INIT Node ID
      (RFC 9174 §4.4.3); otherwise SESS_TERM(CONTACT_FAILURE).
    - `accept_no_client_cert`: as the passive entity, accept an active peer that presents no TLS client
      certificate (HDTN's outduct cannot); its node ID then comes only from SESS_INIT. Off by default.
    - `session_init_timeout_s`: contact header, TLS and SESS_INIT must complete within this time.
    - `idle_timeout_s`: terminate with IDLE_TIMEOUT after this long without a message other than KEEPALIVE
      (RFC 9174 §6.2); None disables.
    - `term_timeout_s`: after SESS_TERM, wait at most this long for the reply and in-progress transfers.
    """

    node_id: str
    keepalive_s: int = 30
    segment_mru_bytes: int = 1 * MiB
    transfer_mru_bytes: int = 128 * MiB
    max_buffered_bytes: int = 256 * MiB
    max_extension_items_bytes: int = 64 * KiB
    send_segment_bytes: int = 1 * MiB
    can_tls: bool = False
    require_tls: bool = False
    ssl_context_server: ssl.SSLContext | None = None
    ssl_context_client: ssl.SSLContext | None = None
    require_node_id_auth: bool = True
    accept_no_client_cert: bool = False
    session_init_timeout_s: float = 10.0
    idle_timeout_s: float | None = None
    term_timeout_s: float = 5.0
    session_extensions: tuple[ExtensionItem, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) or not _looks_like_node_id(self.node_id):
            raise ConfigError(f"invalid node ID {self.node_id!r} (expected a URI such as ipn:1.0)", "node_id")
        if len(self.node_id.encode("utf-8")) > U16_MAX:
            raise ConfigError("node ID longer than 65535 bytes", "node_id")
        _int_in("keepalive_s", self.keepalive_s, 0, U16_MAX)
        _int_in("segment_mru_bytes", self.segment_mru_bytes, 1, U64_MAX)
        _int_in("transfer_mru_bytes", self.transfer_mru_bytes, 1, U64_MAX)
        _int_in("max_buffered_bytes", self.max_buffered_bytes, 1, U64_MAX)
        _int_in("max_extension_items_bytes", self.max_extension_items_bytes, 0, (1 << 32) - 1)
        _int_in("send_segment_bytes", self.send_segment_bytes, 1, U64_MAX)
        for name in ("session_init_timeout_s", "term_timeout_s"):
            _positive(name, getattr(self, name))
        if self.idle_timeout_s is not None:
            _positive("idle_timeout_s", self.idle_timeout_s)
        if self.require_tls and not self.can_tls:
            raise ConfigError("require_tls needs can_tls", "require_tls")
        for name in ("ssl_context_server", "ssl_context_client"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ssl.SSLContext):
                raise ConfigError("must be an ssl.SSLContext", name)


def _looks_like_node_id(text: str) -> bool:
    scheme, sep, rest = text.partition(":")
    return bool(sep and rest and scheme and scheme[0].isalpha() and all(c.isalnum() or c in "+-." for c in scheme))


def _int_in(name: str, value, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"must be an integer in {low}..{high}, got {value!r}", name)


def _positive(name: str, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"must be a positive number of seconds, got {value!r}", name)
