"""The UDP convergence layer of ION and HDTN: one bundle per datagram, no handshake, no acknowledgement.

A bundle larger than `max_bundle_bytes` (at most 65507 bytes, the largest UDP payload over IPv4) is refused
with a `ClaError` naming both sizes: it is never truncated and never left to IP fragmentation beyond that
limit. UDP is unreliable: a datagram the network or a full receive buffer drops is lost, as with ION and HDTN
(the bundle layer's custody or retransmission is out of scope here). `rate_bytes_per_s` paces our sending.

`serve_udp` binds one socket and hands every datagram to the node as one bundle (a receive-only link: no node
ID travels); `UdpLink` / `dial_udp` send to one neighbour's address.
"""

from __future__ import annotations

import logging
import socket as _stdsocket

import trio

from dtn.errors import ClaError, DtnError

from .base import OnBundle, OnLinkDown, OnLinkUp, call_link_down

log = logging.getLogger(__name__)

UDP_MAX_PAYLOAD_BYTES = 65507  # 65535 - 8 (UDP header) - 20 (IPv4 header)
DEFAULT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


def _family(host: str) -> int:
    return trio.socket.AF_INET6 if ":" in host else trio.socket.AF_INET


class UdpLink:
    """Datagrams to one neighbour as a `dtn.cla.base.Link` (also the receive-only link of a listener)."""

    cla_name = "udp"
    tls = None

    def __init__(
        self,
        sock,
        *,
        peer_address: str,
        peer_node_id: str | None = None,
        max_bundle_bytes: int = UDP_MAX_PAYLOAD_BYTES,
        rate_bytes_per_s: float = 0.0,
    ) -> None:
        self.peer_address = peer_address
        self.peer_node_id = peer_node_id
        self.max_bundle_bytes = max_bundle_bytes
        self.rate_bytes_per_s = rate_bytes_per_s
        self.down_reason: str | None = None
        self._sock = sock
        self._lock = trio.Lock()
        self._closed_event = trio.Event()
        self._next_send_at = 0.0

    @property
    def closed(self) -> bool:
        return self._closed_event.is_set()

    async def send_bundle(self, data: bytes) -> None:
        if self.closed:
            raise ClaError(f"UDP link to {self.peer_address} is closed")
        if len(data) > self.max_bundle_bytes:
            raise ClaError(
                f"bundle of {len(data)} bytes exceeds the UDP convergence layer limit of "
                f"{self.max_bundle_bytes} bytes (one bundle per datagram)"
            )
        async with self._lock:
            if self.rate_bytes_per_s > 0:
                await trio.sleep_until(max(self._next_send_at, trio.current_time()))
                self._next_send_at = max(self._next_send_at, trio.current_time()) + len(data) / self.rate_bytes_per_s
            try:
                sent = await self._sock.send(data)
            except OSError as exc:  # e.g. ECONNREFUSED: an ICMP port unreachable came back for an earlier datagram
                self.down_reason = f"send failed: {exc.strerror or exc}"
                self._closed_event.set()
                raise ClaError(f"UDP send to {self.peer_address} failed: {exc.strerror or exc}") from exc
            if sent != len(data):
                raise ClaError(f"UDP send to {self.peer_address} wrote {sent} of {len(data)} bytes")

    async def close(self, reason: int | None = None) -> None:
        self._closed_event.set()

    async def wait_closed(self) -> None:
        await self._closed_event.wait()


async def dial_udp(
    host: str,
    port: int,
    *,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    peer_node_id: str | None = None,
    max_bundle_bytes: int = UDP_MAX_PAYLOAD_BYTES,
    rate_bytes_per_s: float = 0.0,
    task_status: trio.TaskStatus[UdpLink] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open a UDP "link" to `host:port` (a connected datagram socket); `task_status.started(link)`, then run
    until `link.close()` or a send error."""
    sock = trio.socket.socket(_family(host), trio.socket.SOCK_DGRAM)
    try:
        try:
            await sock.connect((host, port))
        except OSError as exc:
            raise ClaError(f"cannot address UDP {host}:{port}: {exc.strerror or exc}") from exc
        link = UdpLink(
            sock,
            peer_address=f"{host}:{port}",
            peer_node_id=peer_node_id,
            max_bundle_bytes=min(max_bundle_bytes, UDP_MAX_PAYLOAD_BYTES),
            rate_bytes_per_s=rate_bytes_per_s,
        )
        task_status.started(link)
        try:
            if on_link_up is not None:
                await on_link_up(link)
            await link.wait_closed()
        finally:
            link._closed_event.set()
            await call_link_down(on_link_down, link, link.down_reason)
    finally:
        sock.close()


async def serve_udp(
    on_bundle: OnBundle,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_bundle_bytes: int = UDP_MAX_PAYLOAD_BYTES,
    receive_buffer_bytes: int = DEFAULT_RECEIVE_BUFFER_BYTES,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Receive datagrams on `host:port` until cancelled, each one bundle; `task_status.started(port)`. A
    datagram longer than `max_bundle_bytes` is dropped and logged; so is one the node refuses."""
    sock = trio.socket.socket(_family(host), trio.socket.SOCK_DGRAM)
    with sock:
        try:
            sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_RCVBUF, receive_buffer_bytes)
        except OSError:
            pass  # the kernel caps it; the default still works
        try:
            await sock.bind((host, port))
        except OSError as exc:
            raise ClaError(f"cannot listen on UDP {host}:{port}: {exc.strerror or exc}") from exc
        bound_port = sock.getsockname()[1]
        link = UdpLink(sock, peer_address=f"UDP listener {host}:{bound_port}", max_bundle_bytes=max_bundle_bytes)
        task_status.started(bound_port)
        limit = min(max_bundle_bytes, UDP_MAX_PAYLOAD_BYTES)
        while True:
            data, address = await sock.recvfrom(limit + 1)
            if len(data) > limit:
                log.warning("UDP datagram from %s longer than %d bytes: dropped", address, limit)
                continue
            try:
                await on_bundle(data, link)
            except DtnError as exc:  # UDP cannot refuse: the bundle is dropped
                log.info("UDP bundle from %s dropped: %s", address, exc)


__all__ = ["UDP_MAX_PAYLOAD_BYTES", "UdpLink", "dial_udp", "serve_udp"]
