"""The convergence layer interface the node codes against, for every CLA (TCPCLv4, MTCP, later UDP or LTP).

A `Link` is one established session to a neighbour. The node hands every CLA the same three callbacks:

- `on_bundle(data, link)`: a bundle arrived. A reliable CLA (TCPCLv4) acknowledges it to the peer only after
  this returns, so the node must have stored the bundle durably by then. Raising `dtn.errors.StoreError`
  refuses it (TCPCLv4: XFER_REFUSE with NO_RESOURCES); any other `DtnError` refuses it as NOT_ACCEPTABLE.
- `on_link_up(link)`: the session is established (peer node ID known when the CLA has one).
- `on_link_down(link, reason)`: the session is over; `reason` is a short text (None for a clean close).

A CLA offers `serve(...)` (listen, one Link per accepted connection) and `connect(...)` (one Link).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import trio


@runtime_checkable
class Link(Protocol):
    """One established session to a neighbour."""

    cla_name: str
    """"tcpcl" or "mtcp" (the CLA's short name)."""
    peer_node_id: str | None
    """The neighbour's node ID, e.g. "ipn:2.0" (None when the CLA does not exchange one, as MTCP)."""
    peer_address: str
    """"host:port" of the neighbour, or a description of the stream."""

    @property
    def closed(self) -> bool: ...

    async def send_bundle(self, data: bytes) -> None:
        """Send one bundle. Returns when the peer acknowledged the whole transfer (TCPCLv4) or when the bytes
        are written (MTCP); raises `ClaError` if the peer refused it or the session dropped before that."""

    async def close(self, reason: int | None = None) -> None:
        """End the session (TCPCLv4: SESS_TERM with `reason`, default UNKNOWN) and wait until it is over."""


OnBundle = Callable[[bytes, Link], Awaitable[None]]
OnLinkUp = Callable[[Link], Awaitable[None]]
OnLinkDown = Callable[[Link, "str | None"], Awaitable[None]]


class ConvergenceLayer(Protocol):
    """What the node needs from a CLA; `dtn.cla.TcpclConvergenceLayer` and `MtcpConvergenceLayer` are two."""

    name: str

    async def serve(
        self,
        on_bundle: OnBundle,
        on_link_up: OnLinkUp | None = None,
        on_link_down: OnLinkDown | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen; `task_status.started(port)` reports the bound port. Runs until cancelled."""

    async def connect(
        self,
        host: str,
        port: int,
        on_bundle: OnBundle,
        *,
        nursery: trio.Nursery,
        on_link_up: OnLinkUp | None = None,
        on_link_down: OnLinkDown | None = None,
    ) -> Link:
        """Open one session; its tasks run in `nursery`. Raises `ClaError` if it cannot be established."""


async def call_link_down(on_link_down: OnLinkDown | None, link: Link, reason: str | None) -> None:
    """Run the node's down callback even while the link's task is being cancelled (bounded to 5 s)."""
    if on_link_down is None:
        return
    with trio.CancelScope(shield=True):
        with trio.move_on_after(5):
            await on_link_down(link, reason)
