"""TCPCLv3 (RFC 7242) over Trio streams: a thin pump between a `trio.abc.Stream` and a `dtn.tcpclv3.Session`.

One reader task feeds the machine and hands each received bundle to the node, sending the final ACK_SEGMENT
only after `on_bundle` returned (the bundle is durable); one timer task wakes the machine for keepalives and
timeouts. Writes go through one lock, so bytes leave in the order the machine produced them.

    port = await nursery.start(serve_tcpclv3, TcpclV3Config("ipn:2.0"), on_bundle)
    link = await connect_tcpclv3(TcpclV3Config("ipn:1.0"), "127.0.0.1", port, on_bundle, nursery=nursery)
    await link.send_bundle(data)   # acks on: returns once fully acknowledged; off: once written
"""

from __future__ import annotations

import functools
import logging

import trio

from dtn.errors import ClaError, DtnError, StoreError
from dtn.tcpclv3 import (
    RefuseReason,
    Session,
    SessionEnded,
    SessionEstablished,
    TcpclV3Config,
    TransferAcked,
    TransferReceived,
    TransferRefused,
)

from .base import OnBundle, OnLinkDown, OnLinkUp, call_link_down
from .stream_util import peer_address_of
from .stream_util import set_nodelay as _set_nodelay

log = logging.getLogger(__name__)

RECEIVE_SIZE_BYTES = 256 * 1024
TIMER_POLL_S = 1.0


class _Waiter:
    __slots__ = ("event", "error")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.error: str | None = None


class TcpclV3Link:
    """One TCPCLv3 session as a `dtn.cla.base.Link`; create it with `run_tcpclv3_session`, `connect_tcpclv3`
    or `serve_tcpclv3`. `peer_node_id` is the EID from the peer's contact header."""

    cla_name = "tcpclv3"
    tls = None

    def __init__(
        self, stream: trio.abc.Stream, config: TcpclV3Config, on_bundle: OnBundle, *, peer_address: str = ""
    ) -> None:
        self.config = config
        self.session = Session(config, now_s=trio.current_time())
        self.peer_node_id: str | None = None
        self.peer_address = peer_address
        self.keepalive_s = 0
        self.down_reason: str | None = None
        self._stream = stream
        self._on_bundle = on_bundle
        self._write_lock = trio.Lock()
        self._bundle_lock = trio.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._ended = trio.Event()
        self._timer_changed = trio.Event()
        self._early: list[TransferReceived] = []

    @property
    def closed(self) -> bool:
        return self._ended.is_set()

    def __repr__(self) -> str:
        return f"<TcpclV3Link {self.peer_node_id or '?'} at {self.peer_address}>"

    async def send_bundle(self, data: bytes) -> None:
        async with self._bundle_lock:
            if self._ended.is_set() or not self.session.established:
                raise ClaError(f"TCPCLv3 session with {self.peer_address} is closed")
            waiter = None
            async with self._write_lock:
                tid, wire = self.session.send_bundle(data, now_s=trio.current_time())
                if self.session.acks:
                    waiter = self._waiters[tid] = _Waiter()
                await self._send(wire)
            self._poke_timer()
            if waiter is None:
                return
            await waiter.event.wait()
            if waiter.error is not None:
                raise ClaError(f"TCPCLv3 bundle to {self.peer_address}: {waiter.error}")

    async def close(self, reason: int | None = None) -> None:
        """SHUTDOWN (with `reason`, a ShutdownReason, if given) and wait until the session is over."""
        if not self._ended.is_set():
            async with self._write_lock:
                await self._send(self.session.close(reason, now_s=trio.current_time()))
            self._after_machine()
            self._poke_timer()
            with trio.move_on_after(self.config.shutdown_timeout_s + 1):
                await self._ended.wait()
        self._end("closed")
        await trio.aclose_forcefully(self._stream)

    # -- internals -----------------------------------------------------------------------------------------------
    async def _send(self, data: bytes) -> None:
        if not data:
            return
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._end(f"connection lost: {exc}")

    async def _flush(self) -> None:
        async with self._write_lock:
            await self._send(self.session.data_to_send())

    def _end(self, why: str) -> None:
        if self.down_reason is None and why != "closed":
            self.down_reason = why
        for waiter in self._waiters.values():
            waiter.error = waiter.error or why
            waiter.event.set()
        self._waiters.clear()
        self._ended.set()
        self._poke_timer()

    def _poke_timer(self) -> None:
        self._timer_changed.set()

    def _after_machine(self) -> list[TransferReceived]:
        """Apply the machine's events; return the received bundles for the reader to deliver."""
        received = []
        for event in self.session.events():
            if isinstance(event, TransferReceived):
                received.append(event)
            elif isinstance(event, TransferAcked):
                waiter = self._waiters.pop(event.transfer_id, None)
                if waiter is not None:
                    waiter.event.set()
            elif isinstance(event, TransferRefused):
                waiter = self._waiters.pop(event.transfer_id, None)
                if waiter is not None:
                    waiter.error = f"refused by the peer (REFUSE_BUNDLE reason {_reason_name(event.reason)})"
                    waiter.event.set()
            elif isinstance(event, SessionEstablished):
                self.peer_node_id = event.peer_eid
                self.keepalive_s = event.keepalive_s
            elif isinstance(event, SessionEnded):
                if event.error:
                    log.info("TCPCLv3 %s: %s", self.peer_address, event.error)
                self._end(event.error or ("clean shutdown" if event.clean else "session ended"))
        return received

    async def _handshake(self) -> None:
        async with self._write_lock:
            await self._send(self.session.start(now_s=trio.current_time()))
        with trio.move_on_after(self.config.contact_timeout_s):
            while self.peer_node_id is None and not self.session.closed:
                data = await self._receive()
                self.session.receive_data(data, now_s=trio.current_time())
                await self._flush()
                self._early += self._after_machine()  # a bundle may follow the contact header in one read
        if self.peer_node_id is None:
            why = self.down_reason or "no contact header from the peer in time"
            raise ClaError(f"TCPCLv3 session with {self.peer_address} not established: {why}")

    async def _receive(self) -> bytes:
        try:
            return await self._stream.receive_some(RECEIVE_SIZE_BYTES)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def _reader(self) -> None:
        early, self._early = self._early, []
        for event in early:
            await self._deliver(event)
        await self._flush()
        while not self._ended.is_set():
            data = await self._receive()
            self.session.receive_data(data, now_s=trio.current_time())
            await self._flush()
            for event in self._after_machine():
                await self._deliver(event)
            self._poke_timer()
            if not data:
                self._end("connection closed by the peer")

    async def _deliver(self, event: TransferReceived) -> None:
        now = trio.current_time
        try:
            await self._on_bundle(event.data, self)
        except StoreError as exc:
            log.info("TCPCLv3 %s: bundle refused: %s", self.peer_address, exc)
            wire = self.session.refuse_transfer(event.transfer_id, RefuseReason.NO_RESOURCES, now_s=now())
        except DtnError as exc:
            log.info("TCPCLv3 %s: bundle refused: %s", self.peer_address, exc)
            wire = self.session.refuse_transfer(event.transfer_id, RefuseReason.UNKNOWN, now_s=now())
        else:
            wire = self.session.accept_transfer(event.transfer_id, now_s=now())
        async with self._write_lock:
            await self._send(wire)
        self._after_machine()

    async def _timer(self) -> None:
        while not self._ended.is_set():
            self._timer_changed = trio.Event()
            deadline = self.session.timer_deadline_s()
            now = trio.current_time()
            wake = now + TIMER_POLL_S if deadline is None else min(deadline, now + TIMER_POLL_S)
            with trio.move_on_at(wake):
                await self._timer_changed.wait()
            if trio.current_time() >= (deadline if deadline is not None else float("inf")):
                self.session.handle_timer(trio.current_time())
                await self._flush()  # before the events: an ended session's stream is closed at once
                self._after_machine()

    async def _run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._timer)
            nursery.start_soon(self._close_stream_when_ended)
            await self._reader()
            nursery.cancel_scope.cancel()

    async def _close_stream_when_ended(self) -> None:
        await self._ended.wait()  # wakes the reader if it waits for bytes that will never come
        await trio.aclose_forcefully(self._stream)


def _reason_name(code: int) -> str:
    try:
        return RefuseReason(code).name
    except ValueError:
        return str(code)


async def run_tcpclv3_session(
    stream: trio.abc.Stream,
    config: TcpclV3Config,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    peer_address: str = "",
    task_status: trio.TaskStatus[TcpclV3Link] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one TCPCLv3 session over any stream until it ends; `task_status.started(link)` once both contact
    headers are exchanged. Raises `ClaError` if it cannot be established."""
    link = TcpclV3Link(stream, config, on_bundle, peer_address=peer_address)
    try:
        await link._handshake()
    except BaseException:
        link._end("handshake failed")
        await trio.aclose_forcefully(stream)
        raise
    task_status.started(link)
    try:
        if on_link_up is not None:
            await on_link_up(link)
        await link._run()
    finally:
        link._end("closed")
        await trio.aclose_forcefully(stream)
        await call_link_down(on_link_down, link, link.down_reason)


async def connect_tcpclv3(
    config: TcpclV3Config,
    host: str,
    port: int,
    on_bundle: OnBundle,
    *,
    nursery: trio.Nursery,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
) -> TcpclV3Link:
    """Connect to a TCPCLv3 listener (ION, uD3TN, DTNME, HDTN, or `serve_tcpclv3`)."""
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ClaError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    _set_nodelay(stream)
    return await nursery.start(
        functools.partial(
            run_tcpclv3_session, stream, config, on_bundle, on_link_up, on_link_down, peer_address=f"{host}:{port}"
        )
    )


async def serve_tcpclv3(
    config: TcpclV3Config,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_sessions: int = 256,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen for TCPCLv3 sessions until cancelled; past `max_sessions` a peer gets SHUTDOWN(BUSY)."""
    from dtn.tcpclv3 import ShutdownReason

    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise ClaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_port = listeners[0].socket.getsockname()[1]
    active = 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal active
        _set_nodelay(stream)
        address = peer_address_of(stream)
        if active >= max_sessions:
            session = Session(config, now_s=trio.current_time())
            with trio.move_on_after(1.0):
                try:
                    await stream.send_all(session.start() + session.close(ShutdownReason.BUSY))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
            await trio.aclose_forcefully(stream)
            return
        active += 1
        try:
            await run_tcpclv3_session(stream, config, on_bundle, on_link_up, on_link_down, peer_address=address)
        except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("TCPCLv3 session from %s: %s", address, exc)
        except Exception:  # one broken session must not stop the listener
            log.exception("TCPCLv3 session from %s crashed", address)
        finally:
            active -= 1

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        task_status.started(bound_port)


__all__ = ["TcpclV3Link", "run_tcpclv3_session", "connect_tcpclv3", "serve_tcpclv3"]
