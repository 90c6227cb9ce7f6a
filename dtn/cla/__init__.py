"""Convergence layer adapters (Trio): TCPCLv4 (RFC 9174) with TLS, uD3TN's MTCP, and LTP over UDP (docs/ltp.md).

Every CLA gives the node the same `Link` (see `dtn.cla.base`) and the same callbacks, so a new CLA (UDP, LTP)
plugs in without touching the node. See docs/tcpcl.md.
"""

from __future__ import annotations

import trio

from dtn.tcpcl import TcpclConfig

from .base import ConvergenceLayer, Link, OnBundle, OnLinkDown, OnLinkUp
from .ltp import LtpEndpoint, LtpLink
from .mtcp import MtcpDecoder, MtcpLink, connect_mtcp, encode_mtcp, run_mtcp_session, serve_mtcp
from .tcpcl import TcpclLink, connect_tcpcl, open_link_over_stream, run_session, serve_tcpcl


class TcpclConvergenceLayer:
    """TCPCLv4 as a `ConvergenceLayer` (one config for the listener and every outgoing session)."""

    name = "tcpcl"

    def __init__(self, config: TcpclConfig, *, max_sessions: int = 256) -> None:
        self.config = config
        self.max_sessions = max_sessions

    async def serve(
        self,
        on_bundle,
        on_link_up=None,
        on_link_down=None,
        *,
        host="127.0.0.1",
        port=0,
        task_status=trio.TASK_STATUS_IGNORED,
    ) -> None:
        await serve_tcpcl(
            self.config,
            on_bundle,
            on_link_up,
            on_link_down,
            host=host,
            port=port,
            max_sessions=self.max_sessions,
            task_status=task_status,
        )

    async def connect(self, host, port, on_bundle, *, nursery, on_link_up=None, on_link_down=None) -> TcpclLink:
        return await connect_tcpcl(
            self.config, host, port, on_bundle, nursery=nursery, on_link_up=on_link_up, on_link_down=on_link_down
        )


class MtcpConvergenceLayer:
    """MTCP as a `ConvergenceLayer`."""

    name = "mtcp"

    def __init__(self, *, max_bundle_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bundle_bytes = max_bundle_bytes

    async def serve(
        self,
        on_bundle,
        on_link_up=None,
        on_link_down=None,
        *,
        host="127.0.0.1",
        port=0,
        task_status=trio.TASK_STATUS_IGNORED,
    ) -> None:
        await serve_mtcp(
            on_bundle,
            on_link_up,
            on_link_down,
            host=host,
            port=port,
            max_bundle_bytes=self.max_bundle_bytes,
            task_status=task_status,
        )

    async def connect(self, host, port, on_bundle, *, nursery, on_link_up=None, on_link_down=None) -> MtcpLink:
        return await connect_mtcp(
            host,
            port,
            on_bundle,
            nursery=nursery,
            on_link_up=on_link_up,
            on_link_down=on_link_down,
            max_bundle_bytes=self.max_bundle_bytes,
        )


__all__ = [
    "ConvergenceLayer",
    "Link",
    "OnBundle",
    "OnLinkDown",
    "OnLinkUp",
    "TcpclConvergenceLayer",
    "MtcpConvergenceLayer",
    "TcpclLink",
    "connect_tcpcl",
    "open_link_over_stream",
    "run_session",
    "serve_tcpcl",
    "MtcpDecoder",
    "MtcpLink",
    "connect_mtcp",
    "encode_mtcp",
    "run_mtcp_session",
    "serve_mtcp",
    "LtpEndpoint",
    "LtpLink",
]
