"""CLA sessions for the node: listeners, dialled sessions and inbound streams, all on `dtn.cla`.

Every session, whoever opened it, reports to the node through the same three callbacks (`dtn.cla.base`):
bundles go to `Node.receive_from_peer` (which returns only once the bundle is durable, so TCPCLv4 sends its
final XFER_ACK after that), and link up/down go to `Node.session_up` / `Node.session_down`. The neighbour is
identified by the node ID it sends in SESS_INIT (ipn:N.0 -> N); a dialled session also knows whom it dialled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

import trio

from dtn.errors import ClaError, DecodeError
from dtn.node.config import ListenConfig

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node.links")


class PeerSession(Protocol):
    """What the node uses of a session (`dtn.cla.base.Link`)."""

    async def send_bundle(self, data: bytes) -> None: ...

    async def close(self, reason: int | None = None) -> None: ...


class SessionFactory:
    """Builds TCPCLv4 configs from the node config and runs sessions with the node's callbacks."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self._config = None
        self._dialled: dict[int, int] = {}  # id(link) -> the peer we dialled

    def tcpcl_config(self):
        if self._config is None:
            from dtn.tcpcl import TcpclConfig

            cfg = self.node.config
            tls = cfg.tls
            server_ctx = client_ctx = None
            if tls.enabled:
                from dtn.cla.tls import client_context, server_context

                ca = tls.ca.read_bytes() if tls.ca else None
                cert = tls.cert.read_bytes() if tls.cert else None
                key = tls.key.read_bytes() if tls.key else None
                if cert is not None and key is not None:
                    server_ctx = server_context(
                        cert, key, ca, require_client_cert=ca is not None and not tls.accept_no_client_cert
                    )
                if ca is not None:
                    client_ctx = client_context(ca, cert, key, check_hostname=False)
            self._config = TcpclConfig(
                node_id=cfg.node_id,
                keepalive_s=cfg.routing.keepalive_s,
                can_tls=server_ctx is not None and client_ctx is not None,
                require_tls=tls.require,
                ssl_context_server=server_ctx,
                ssl_context_client=client_ctx,
                require_node_id_auth=tls.require,
                accept_no_client_cert=tls.accept_no_client_cert,
            )
        return self._config

    def dialled_by_us(self, link) -> bool:
        return id(link) in self._dialled

    # -- callbacks ---------------------------------------------------------------------------------------------
    def _peer_of(self, link) -> int | None:
        dialled = self._dialled.get(id(link))
        if dialled is not None:
            return dialled
        node_id = getattr(link, "peer_node_id", None)
        if not node_id:
            return None
        try:
            from dtn.node.bundles import eid_node_number

            return eid_node_number(node_id)
        except DecodeError:
            return None

    async def on_bundle(self, data: bytes, link) -> None:
        await self.node.receive_from_peer(bytes(data), self._peer_of(link))

    async def on_link_up(self, link) -> None:
        peer = self._peer_of(link)
        if peer is None or peer == self.node.node_number:
            log.info("session from %s without a usable ipn node ID: receive only", getattr(link, "peer_address", "?"))
            return
        self.node.session_up(peer, link)

    async def on_link_down(self, link, reason: str | None) -> None:
        peer = self._peer_of(link)
        self._dialled.pop(id(link), None)
        if peer is not None:
            self.node.session_down(peer, link, reason or "closed")

    # -- sessions ----------------------------------------------------------------------------------------------
    def context(self, cla: str):
        """The `dtn.cla.registry.ClaContext` for CLA `cla`: the node's callbacks, node ID and `[cla.<name>]`."""
        from dtn.cla.registry import ClaContext

        cfg = self.node.config
        return ClaContext(
            on_bundle=self.on_bundle,
            on_link_up=self.on_link_up,
            on_link_down=self.on_link_down,
            node_id=cfg.node_id,
            keepalive_s=cfg.routing.keepalive_s,
            options=cfg.options_for_cla(cla),
            tcpcl_config=self.tcpcl_config,
        )

    def cla_of(self, peer: int):
        """The registered CLA kind the node uses for sessions it opens to `peer` (default TCPCLv4)."""
        from dtn.cla.registry import get_cla

        nb = self.node.config.neighbours.get(peer)
        return get_cla(nb.cla if nb is not None else "tcpcl", key=f"neighbours.{peer}.cla")

    async def serve(self, listen: ListenConfig, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen with the configured CLA; `task_status.started(port)`."""
        if listen.cla == "ltp":  # one LTP engine for every span, built from the node config (docs/ltp.md)
            from dtn.node.ltp import serve_ltp

            await serve_ltp(self, listen, task_status=task_status)
            return
        from dtn.cla.registry import get_cla

        kind = get_cla(listen.cla, key="listen.cla")
        await kind.serve(self.context(listen.cla), listen.host, listen.port, task_status=task_status)

    async def run_active(
        self, stream: trio.abc.Stream | None, peer: int, *, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run a session we opened until it ends; started once established. Stream CLAs run over `stream`
        (dialled by the node); datagram CLAs (UDP) are given None and open their link themselves."""
        factory = self
        established = False

        class _Status:
            def started(self, link) -> None:
                nonlocal established
                established = True
                factory._dialled[id(link)] = peer
                task_status.started(link)

        kind = self.cla_of(peer)
        ctx = self.context(kind.name)
        try:
            if stream is None:
                host, port = self.node.config.neighbours[peer].host_port
                await kind.dial(ctx, host, port, peer_node_id=f"ipn:{peer}.0", task_status=_Status())
                return
            await kind.run_over_stream(
                ctx, stream, peer_address=f"node {peer}", peer_node_id=f"ipn:{peer}.0", task_status=_Status()
            )
        except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            if not established:
                raise ClaError(f"session with node {peer}: {exc}") from None
            log.info("session with node %s ended: %s", peer, exc)

    async def handle_inbound(self, stream: trio.abc.Stream, *, peer_address: str = "stream") -> None:
        """Run a session a neighbour opened over `stream` (we are passive) until it ends."""
        from dtn.cla.tcpcl import run_session
        from dtn.tcpcl import Role

        try:
            await run_session(
                stream,
                self.tcpcl_config(),
                Role.PASSIVE,
                self.on_bundle,
                self.on_link_up,
                self.on_link_down,
                peer_address=peer_address,
            )
        except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("inbound session %s: %s", peer_address, exc)


__all__ = ["PeerSession", "SessionFactory"]
