"""The convergence layers a node can use, by the name its config gives them (`cla = "tcpcl"`).

Every CLA registers one `ClaKind`: how to listen, how to run a session over a stream the node dialled (stream
CLAs: TCPCLv4, TCPCLv3, STCP, MTCP) or how to open a link itself (datagram CLAs: UDP), and which
per-CLA options `[cla.<name>]` accepts, with their defaults. The node config validates `cla = ...` and the
options against this registry; `dtn.node.links` looks the kind up to serve and dial. Adapters are imported
lazily, so importing the registry (the config loader does) loads no CLA code.

    register(ClaKind(name="mycl", serve=..., run_over_stream=..., options={"max_bundle_bytes": 65507}))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import trio

from dtn.errors import ConfigError

from .base import OnBundle, OnLinkDown, OnLinkUp


@dataclass(frozen=True)
class ClaContext:
    """What a CLA gets from the node: its callbacks, its identity, and its options (`[cla.<name>]` merged over
    the kind's defaults). `tcpcl_config()` builds the TCPCLv4 config (with TLS) on demand."""

    on_bundle: OnBundle
    on_link_up: OnLinkUp | None
    on_link_down: OnLinkDown | None
    node_id: str
    keepalive_s: int
    options: Mapping[str, Any] = field(default_factory=dict)
    tcpcl_config: Callable[[], Any] | None = None


Serve = Callable[..., Awaitable[None]]
"""`serve(ctx, host, port, *, task_status)`: listen until cancelled; `task_status.started(port)`."""
RunOverStream = Callable[..., Awaitable[None]]
"""`run_over_stream(ctx, stream, *, peer_address, peer_node_id, task_status)`: run one session we opened over
`stream` until it ends; `task_status.started(link)` once it is established; `ClaError` if it cannot be."""
Dial = Callable[..., Awaitable[None]]
"""`dial(ctx, host, port, *, peer_node_id, task_status)`: open a link without a node-dialled stream (UDP);
`task_status.started(link)`, then run until the link is closed."""


@dataclass(frozen=True)
class ClaKind:
    name: str
    serve: Serve
    run_over_stream: RunOverStream | None = None
    dial: Dial | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def uses_stream(self) -> bool:
        """True when the node dials a byte stream (TCP, or the twin's in-memory stream) for this CLA."""
        return self.run_over_stream is not None

    def __post_init__(self) -> None:
        if (self.run_over_stream is None) == (self.dial is None):
            raise ValueError(f"CLA {self.name!r}: give exactly one of run_over_stream or dial")


_KINDS: dict[str, ClaKind] = {}


def register(kind: ClaKind) -> None:
    """Add a CLA (a later registration under the same name replaces the earlier one)."""
    _KINDS[kind.name] = kind


def cla_names() -> tuple[str, ...]:
    return tuple(_KINDS)


def get_cla(name: str, *, key: str | None = None) -> ClaKind:
    """The CLA registered as `name`; ConfigError (naming `key`) if there is none."""
    kind = _KINDS.get(name)
    if kind is None:
        raise ConfigError(f"unknown CLA {name!r} (one of {', '.join(_KINDS)})", key=key)
    return kind


def check_options(name: str, table: Mapping[str, Any], *, key: str) -> Mapping[str, Any]:
    """Validate `[cla.<name>]` against the kind's defaults (same type; numbers >= 0); return the merged options."""
    kind = get_cla(name, key=key)
    merged = dict(kind.options)
    for option, value in table.items():
        if option not in kind.options:
            known = ", ".join(kind.options) or "none"
            raise ConfigError(f"unknown option for CLA {name!r} (known: {known})", key=f"{key}.{option}")
        default = kind.options[option]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ConfigError(
                f"expected {type(default).__name__} (default {default!r}), got {value!r}", key=f"{key}.{option}"
            )
        merged[option] = float(value) if isinstance(default, float) else value
    return MappingProxyType(merged)


# -- the built-in CLAs -------------------------------------------------------------------------------------------


async def _tcpcl_serve(ctx: ClaContext, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from .tcpcl import serve_tcpcl

    await serve_tcpcl(
        ctx.tcpcl_config(),
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        host=host,
        port=port,
        max_sessions=ctx.options.get("max_sessions", 256),
        task_status=task_status,
    )


async def _tcpcl_run(
    ctx: ClaContext, stream, *, peer_address: str, peer_node_id: str | None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    from dtn.tcpcl import Role

    from .tcpcl import run_session

    await run_session(
        stream,
        ctx.tcpcl_config(),
        Role.ACTIVE,
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        peer_address=peer_address,
        task_status=task_status,
    )


async def _mtcp_serve(ctx: ClaContext, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from .mtcp import serve_mtcp

    await serve_mtcp(
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        host=host,
        port=port,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        task_status=task_status,
    )


async def _mtcp_run(
    ctx: ClaContext, stream, *, peer_address: str, peer_node_id: str | None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    from .mtcp import run_mtcp_session

    await run_mtcp_session(
        stream,
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        peer_address=peer_address,
        peer_node_id=peer_node_id,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        task_status=task_status,
    )


register(
    ClaKind(
        "tcpcl",
        _tcpcl_serve,
        run_over_stream=_tcpcl_run,
        options={"max_sessions": 256},
        description="TCPCLv4, RFC 9174 (TLS per [tls])",
    )
)
register(
    ClaKind(
        "mtcp",
        _mtcp_serve,
        run_over_stream=_mtcp_run,
        options={"max_bundle_bytes": 128 * 1024 * 1024},
        description="uD3TN's MTCP (CBOR byte string per bundle, no acknowledgements)",
    )
)


def _tcpclv3_config(ctx: ClaContext):
    from dtn.tcpclv3 import TcpclV3Config

    o = ctx.options
    return TcpclV3Config(
        ctx.node_id,
        keepalive_s=ctx.keepalive_s,
        request_acks=o["acks"],
        allow_refusal=o["refusal"],
        request_length=o["request_length"],
        segment_bytes=o["segment_bytes"],
        max_bundle_bytes=o["max_bundle_bytes"],
    )


async def _tcpclv3_serve(ctx: ClaContext, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from .tcpclv3 import serve_tcpclv3

    await serve_tcpclv3(
        _tcpclv3_config(ctx),
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        host=host,
        port=port,
        max_sessions=ctx.options["max_sessions"],
        task_status=task_status,
    )


async def _tcpclv3_run(
    ctx: ClaContext, stream, *, peer_address: str, peer_node_id: str | None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    from .tcpclv3 import run_tcpclv3_session

    await run_tcpclv3_session(
        stream,
        _tcpclv3_config(ctx),
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        peer_address=peer_address,
        task_status=task_status,
    )


register(
    ClaKind(
        "tcpclv3",
        _tcpclv3_serve,
        run_over_stream=_tcpclv3_run,
        options={
            "acks": True,
            "refusal": True,
            "request_length": False,
            "segment_bytes": 1024 * 1024,
            "max_bundle_bytes": 128 * 1024 * 1024,
            "max_sessions": 256,
        },
        description="TCPCLv3, RFC 7242 (ION's TCP CL)",
    )
)


async def _stcp_serve(ctx: ClaContext, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from .stcp import serve_stcp

    await serve_stcp(
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        host=host,
        port=port,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        task_status=task_status,
    )


async def _stcp_run(
    ctx: ClaContext, stream, *, peer_address: str, peer_node_id: str | None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    from .stcp import run_stcp_session

    await run_stcp_session(
        stream,
        ctx.on_bundle,
        ctx.on_link_up,
        ctx.on_link_down,
        peer_address=peer_address,
        peer_node_id=peer_node_id,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        keepalive_s=ctx.options["keepalive_s"],
        task_status=task_status,
    )


async def _udp_serve(ctx: ClaContext, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from .udp import serve_udp

    await serve_udp(
        ctx.on_bundle,
        host=host,
        port=port,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        receive_buffer_bytes=ctx.options["receive_buffer_bytes"],
        task_status=task_status,
    )


async def _udp_dial(
    ctx: ClaContext, host: str, port: int, *, peer_node_id: str | None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    from .udp import dial_udp

    await dial_udp(
        host,
        port,
        on_link_up=ctx.on_link_up,
        on_link_down=ctx.on_link_down,
        peer_node_id=peer_node_id,
        max_bundle_bytes=ctx.options["max_bundle_bytes"],
        rate_bytes_per_s=ctx.options["rate_bytes_per_s"],
        task_status=task_status,
    )


register(
    ClaKind(
        "stcp",
        _stcp_serve,
        run_over_stream=_stcp_run,
        options={"max_bundle_bytes": 128 * 1024 * 1024, "keepalive_s": 0.0},
        description="ION's and HDTN's simple TCP CL (4-byte length before each bundle)",
    )
)
register(
    ClaKind(
        "udp",
        _udp_serve,
        dial=_udp_dial,
        options={"max_bundle_bytes": 65507, "rate_bytes_per_s": 0.0, "receive_buffer_bytes": 4 * 1024 * 1024},
        description="one bundle per UDP datagram (ION, HDTN)",
    )
)


async def _ltp_not_alone(*args, **kwargs) -> None:
    # LTP runs one engine for every span, built from the node config ([ltp], the LTP neighbours' addresses):
    # the node starts it itself (dtn.node.ltp); the entry here names the CLA for the config (docs/ltp.md).
    from dtn.errors import ClaError

    raise ClaError("LTP is run by the node (dtn.node.ltp), not through the CLA registry")


register(
    ClaKind(
        "ltp",
        _ltp_not_alone,
        dial=_ltp_not_alone,
        description="LTP over UDP, RFC 5326 (settings in [ltp]; docs/ltp.md)",
    )
)

__all__ = ["ClaContext", "ClaKind", "register", "cla_names", "get_cla", "check_options"]
