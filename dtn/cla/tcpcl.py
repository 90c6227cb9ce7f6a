"""TCPCLv4 over Trio streams: a thin pump between a `trio.abc.Stream` and a `dtn.tcpcl.Session`.

No protocol logic lives here. One reader task feeds received bytes to the machine, one writer task writes
whatever the machine produced (a message is never split across writes; queued messages are coalesced into
one write), one timer task wakes the machine at `timer_deadline_s()` using Trio's clock (so `MockClock`
drives it), and one delivery task hands received bundles to the node and acknowledges each only after the
node's `on_bundle` returned. TLS (RFC 9174 §4.4) is `trio.SSLStream` over the same stream when both contact
headers set CAN_TLS.

    port = await nursery.start(serve_tcpcl, config, on_bundle)
    link = await connect_tcpcl(config, "127.0.0.1", port, on_bundle, nursery=nursery)
    await link.send_bundle(data)          # returns once the peer acknowledged the whole transfer
"""

from __future__ import annotations

import functools
import logging
import math

import trio

from dtn.errors import ClaError, DtnError, LocalProtocolError, RemoteProtocolError, StoreError
from dtn.tcpcl import (
    Role,
    Session,
    SessionEnded,
    SessionEstablished,
    SessTermReason,
    State,
    TcpclConfig,
    TransferAcked,
    TransferReceived,
    TransferRefused,
    XferRefuseReason,
)

from .base import Link, OnBundle, OnLinkDown, OnLinkUp, call_link_down
from .stream_util import (
    COALESCE_MAX_BYTES,
    PrefixedStream,
    coalesce,
    peer_address_of,
    send_message_parts,
    set_nodelay,
)

from .tls import node_ids_from_certificate

_set_nodelay = set_nodelay  # the name mtcp, stcp and tcpclv3 import from here

log = logging.getLogger(__name__)

RECEIVE_SIZE_BYTES = 256 * 1024
HIGH_WATER_BYTES = 4 * 1024 * 1024
"""Queued outgoing bytes above which senders (and the reader, whose acks queue up) wait for the writer."""
LINGER_S = 1.0
"""After a protocol error, how long we keep reading (and discarding) so the peer sees our SESS_TERM."""


class _Waiter:
    __slots__ = ("event", "error")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.error: str | None = None


class TcpclLink:
    """One TCPCLv4 session as a `dtn.cla.base.Link`. Create it with `run_session`, `open_link_over_stream`,
    `connect_tcpcl` or `serve_tcpcl`, never directly."""

    cla_name = "tcpcl"

    def __init__(
        self,
        stream: trio.abc.Stream,
        config: TcpclConfig,
        role: Role,
        on_bundle: OnBundle,
        *,
        peer_address: str = "",
        server_hostname: str | None = None,
    ) -> None:
        if config.can_tls:
            ctx = config.ssl_context_client if role is Role.ACTIVE else config.ssl_context_server
            if ctx is None:
                side = "ssl_context_client" if role is Role.ACTIVE else "ssl_context_server"
                raise ClaError(f"can_tls is set but {side} is missing")
        self.config = config
        self.role = Role(role)
        self.session = Session(config, self.role, now_s=trio.current_time())
        self.peer_node_id: str | None = None
        self.peer_address = peer_address
        self.tls = False
        self.keepalive_s = 0
        self.down_reason: str | None = None
        self._stream = stream
        self._server_hostname = server_hostname
        self._on_bundle = on_bundle
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._space_lot = trio.lowlevel.ParkingLot()
        self._timer_lot = trio.lowlevel.ParkingLot()
        self._timer_at = math.inf
        self._send_lock = trio.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._deliver_send, self._deliver_recv = trio.open_memory_channel[TransferReceived](math.inf)
        self._established = False
        self._ended = False
        self._error = False
        self._done = trio.Event()
        self._eof = trio.Event()
        self._ended_event = trio.Event()
        self._writer_done = trio.Event()

    # ------------------------------------------------------------------------------------- Link interface
    @property
    def closed(self) -> bool:
        return self._ended

    async def send_bundle(self, data: bytes) -> None:
        """Send one bundle as one transfer; returns when the peer's final XFER_ACK arrived (RFC 9174 §5.2.3)."""
        if self._ended or self.session.state is not State.ESTABLISHED:
            raise ClaError(f"TCPCL session to {self._name()} is not open")
        # Segments of two transfers must not interleave (RFC 9174 §5.2). trio.Lock.acquire() yields while
        # holding the lock, which would let only one small bundle through per scheduler pass; so take the lock
        # without a checkpoint when it is free and only wait for it when another transfer is mid-flight.
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()
        try:
            if self._ended:
                raise ClaError(f"TCPCL session to {self._name()} ended")
            try:
                tid = self.session.begin_transfer(data, now_s=trio.current_time())
            except LocalProtocolError as exc:
                raise ClaError(f"cannot send to {self._name()}: {exc}") from exc
            waiter = self._waiters[tid] = _Waiter()
            try:
                while (parts := self.session.next_segment_parts(tid, now_s=trio.current_time())) is not None:
                    self._queue_parts(parts)
                    await self._wait_for_space()
            except BaseException:
                # Cancelled mid-transfer: TCPCL cannot abandon a transfer half sent, so the session ends.
                if self.session.sending:
                    self._queue(self.session.close(SessTermReason.UNKNOWN, now_s=trio.current_time()))
                    self._after_machine()
                raise
            self._after_machine()
        finally:
            self._send_lock.release()
        await waiter.event.wait()
        if waiter.error is not None:
            raise ClaError(waiter.error)

    async def close(self, reason: int | None = None) -> None:
        """Send SESS_TERM (RFC 9174 §6.1) and wait until the session is over (reply or term timeout)."""
        if not self._ended:
            code = SessTermReason.UNKNOWN if reason is None else reason
            self._queue(self.session.close(code, now_s=trio.current_time()))
            self._after_machine()
        await self._done.wait()

    def __repr__(self) -> str:
        return f"<TcpclLink {self.role.name.lower()} peer={self.peer_node_id} {self.peer_address} state={self.session.state.value}>"

    # ------------------------------------------------------------------------------------------- internals
    def _name(self) -> str:
        return self.peer_node_id or self.peer_address or "peer"

    def _queue(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self._out_bytes += len(data)
            self._writer_lot.unpark_all()

    def _queue_parts(self, parts: tuple[bytes, memoryview]) -> None:
        """A segment as (header, data view): small ones are joined now, big ones written with one writev."""
        header, data = parts
        if len(data) < COALESCE_MAX_BYTES:
            self._queue(header + data)
        else:
            self._out.append(parts)
            self._out_bytes += len(header) + len(data)
            self._writer_lot.unpark_all()

    async def _wait_for_space(self) -> None:
        while self._out_bytes > HIGH_WATER_BYTES and not self._ended:
            await self._space_lot.park()

    def _after_machine(self) -> None:
        """Flush the machine's bytes to the writer and act on its events."""
        session = self.session
        if not session.has_output:
            return  # e.g. a chunk of segment data: nothing to send, no event, no earlier deadline
        self._queue(session.data_to_send())
        for event in session.events():
            if isinstance(event, TransferReceived):
                self._deliver_send.send_nowait(event)
            elif isinstance(event, TransferAcked):
                waiter = self._waiters.pop(event.transfer_id, None)
                if waiter is not None:
                    waiter.event.set()
            elif isinstance(event, TransferRefused):
                waiter = self._waiters.pop(event.transfer_id, None)
                if waiter is not None:
                    waiter.error = f"{self._name()} refused the bundle ({_name_of(event.reason)})"
                    waiter.event.set()
            elif isinstance(event, SessionEstablished):
                self._established = True
                self.peer_node_id = event.peer_node_id
                self.tls = event.tls
                self.keepalive_s = event.keepalive_s
            elif isinstance(event, SessionEnded):
                self._on_ended(event)
        deadline = session.timer_deadline_s()
        if deadline is not None and deadline < self._timer_at:
            self._timer_lot.unpark_all()

    def _on_ended(self, event: SessionEnded) -> None:
        if self._ended:
            return
        self._ended = True
        if self.down_reason is None:
            if not event.clean:
                self.down_reason = f"session ended ({_name_of(event.reason)})"
            elif event.reason not in (None, SessTermReason.UNKNOWN):
                self.down_reason = f"session terminated ({_name_of(event.reason)})"
        self._fail_waiters(self.down_reason or "session closed")
        # Every task ends by itself now (the reader at EOF): only a task still blocked is cancelled below, so
        # the order in which a session's tasks finish never depends on the order cancellation reaches them.
        self._deliver_send.close()
        self._writer_lot.unpark_all()
        self._timer_lot.unpark_all()
        self._ended_event.set()

    def _fail_waiters(self, why: str) -> None:
        for waiter in self._waiters.values():
            waiter.error = f"TCPCL session to {self._name()} ended before the transfer was acknowledged: {why}"
            waiter.event.set()
        self._waiters.clear()
        self._space_lot.unpark_all()

    def _feed(self, data: bytes) -> None:
        try:
            self.session.receive_data(data, now_s=trio.current_time())
        except RemoteProtocolError as exc:
            self._error = True
            self.down_reason = f"protocol error: {exc} ({_name_of(exc.reason_code)})"
            # A TLS session whose peer fails authentication (or a peer refusing TLS we require) is a security
            # event: warning level, so it reaches stderr by default (docs/security.md).
            level = logging.WARNING if (self.session.tls or "TLS" in str(exc)) else logging.INFO
            log.log(level, "TCPCL %s (%s): %s", self._name(), self.peer_address or "?", self.down_reason)
        self._after_machine()

    # --------------------------------------------------------------------------------------- handshake
    async def _handshake(self) -> None:
        """Contact headers, optional TLS, SESS_INIT (RFC 9174 §4), run before the session's tasks start."""
        session = self.session
        deadline = session.timer_deadline_s()
        with trio.move_on_at(deadline) as scope:
            self._queue(session.start(now_s=trio.current_time()))
            await self._flush_direct()
            while not self._established and not self._ended:
                if session.state is State.TLS:
                    await self._start_tls()
                    await self._flush_direct()
                    continue
                try:
                    data = await self._stream.receive_some(RECEIVE_SIZE_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                self._feed(data)
                await self._flush_direct()
        if scope.cancelled_caught and not self._established:
            session.handle_timer(max(trio.current_time(), deadline))
            self._after_machine()
            with trio.move_on_after(LINGER_S):
                await self._flush_direct()
            raise ClaError(
                f"TCPCL session with {self._name()} not established within {self.config.session_init_timeout_s} s"
            )
        if not self._established or self._ended:
            with trio.move_on_after(LINGER_S):
                await self._flush_direct()
                if self._error:
                    await self._linger()
            raise ClaError(f"TCPCL session with {self._name()} failed: {self.down_reason or 'connection closed'}")

    async def _flush_direct(self) -> None:
        while self._out:
            chunks, self._out = self._out, []
            data = b"".join(chunks)
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._out_bytes = 0
                raise ClaError(f"connection to {self._name()} lost: {exc}") from exc
            self._out_bytes -= len(data)

    async def _start_tls(self) -> None:
        trailing = self.session.take_trailing_data()
        transport = PrefixedStream(self._stream, trailing) if trailing else self._stream
        if self.role is Role.ACTIVE:
            ssl_stream = trio.SSLStream(
                transport, self.config.ssl_context_client, server_hostname=self._server_hostname
            )
        else:
            ssl_stream = trio.SSLStream(transport, self.config.ssl_context_server, server_side=True)
        try:
            await ssl_stream.do_handshake()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            cause = exc.__cause__ or exc
            self._ended = True
            self.down_reason = f"TLS handshake failed: {cause}"
            log.warning("TCPCL TLS handshake with %s (%s) failed: %s", self._name(), self.peer_address or "?", cause)
            raise ClaError(f"TCPCL TLS handshake with {self._name()} failed: {cause}") from exc
        self._stream = ssl_stream
        if ssl_stream.version() != "TLSv1.3":
            # RFC 9174 §4.4: TLS 1.3 or later.
            log.warning("TCPCL peer %s negotiated %s, TLS 1.3 is required", self._name(), ssl_stream.version())
            raise ClaError(f"TCPCL peer {self._name()} negotiated {ssl_stream.version()}, TLS 1.3 is required")
        der = ssl_stream.getpeercert(binary_form=True)
        node_ids = node_ids_from_certificate(der) if der else None
        if not der and self.role is Role.PASSIVE:
            log.warning(
                "TCPCL TLS peer %s presented no client certificate: accepted (tls.accept_no_client_cert); "
                "its node ID comes only from its SESS_INIT",
                self._name(),
            )
        self._queue(self.session.tls_established(node_ids, now_s=trio.current_time()))
        self._after_machine()

    async def _linger(self) -> None:
        """Keep reading (the machine discards it) so the peer reads our SESS_TERM before we close."""
        try:
            while await self._stream.receive_some(RECEIVE_SIZE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    # ------------------------------------------------------------------------------------------- tasks
    async def _reader(self) -> None:
        """Received chunks go to `Session.receive_data` (any stream: TCP, TLS, in-memory)."""
        try:
            while not self._ended:
                if self._out_bytes > HIGH_WATER_BYTES:
                    await self._wait_for_space()  # the peer is not reading our acks: stop reading its data
                try:
                    data = await self._stream.receive_some(RECEIVE_SIZE_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self.down_reason = self.down_reason or f"connection lost: {exc}"
                    data = b""
                self._feed(data)
                if not data:
                    break
            if self._error:
                await self._linger()
        finally:
            self._eof.set()

    async def _writer(self) -> None:
        stream = self._stream
        try:
            while True:
                while not self._out:
                    if self._ended:
                        return
                    await self._writer_lot.park()
                chunks, self._out = self._out, []
                for data in coalesce(chunks):
                    if type(data) is tuple:
                        size = await send_message_parts(stream, data)
                    else:
                        await stream.send_all(data)
                        size = len(data)
                    self._out_bytes -= size
                    self._space_lot.unpark_all()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.down_reason = self.down_reason or f"connection lost: {exc}"
            self.session.receive_data(b"")
            self._after_machine()
        finally:
            self._out.clear()
            self._out_bytes = 0
            self._space_lot.unpark_all()
            self._writer_done.set()

    async def _timer(self) -> None:
        session = self.session
        while not self._ended:
            deadline = session.timer_deadline_s()
            self._timer_at = math.inf if deadline is None else deadline
            with trio.move_on_at(self._timer_at):
                await self._timer_lot.park()
            now = trio.current_time()
            if deadline is not None and now >= deadline:
                session.handle_timer(now)
                self._after_machine()

    async def _deliverer(self) -> None:
        async for first in self._deliver_recv:
            batch = [first]
            while True:  # take every bundle already waiting: one scheduler pass, not one per bundle
                try:
                    batch.append(self._deliver_recv.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            for event in batch:
                await self._deliver(event)

    async def _deliver(self, event: TransferReceived) -> None:
        """Hand one bundle to the node; acknowledge it only once `on_bundle` returned (it is durable)."""
        tid = event.transfer_id
        try:
            await self._on_bundle(event.data, self)
        except StoreError as exc:
            log.info("TCPCL %s: refusing transfer %d: %s", self._name(), tid, exc)
            self._queue(self.session.refuse_transfer(tid, XferRefuseReason.NO_RESOURCES, now_s=trio.current_time()))
        except DtnError as exc:
            log.info("TCPCL %s: refusing transfer %d: %s", self._name(), tid, exc)
            self._queue(self.session.refuse_transfer(tid, XferRefuseReason.NOT_ACCEPTABLE, now_s=trio.current_time()))
        else:
            self._queue(self.session.accept_transfer(tid, now_s=trio.current_time()))
        self._after_machine()

    async def _run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._reader)
            nursery.start_soon(self._timer)
            nursery.start_soon(self._deliverer)
            nursery.start_soon(self._writer)
            await self._ended_event.wait()
            # Let the writer flush the last bytes (SESS_TERM), but never wait forever for a peer that does not
            # read; after a protocol error keep reading a moment so the peer sees why.
            with trio.move_on_after(self.config.term_timeout_s):
                await self._writer_done.wait()
            if self._error:
                with trio.move_on_after(LINGER_S):
                    await self._eof.wait()
            nursery.cancel_scope.cancel()

    async def _shutdown(self) -> None:
        self._ended = True
        self._fail_waiters(self.down_reason or "session closed")
        self._deliver_send.close()
        if self._error or self.down_reason:
            await trio.aclose_forcefully(self._stream)
        else:
            with trio.move_on_after(1):
                await self._stream.aclose()
            await trio.aclose_forcefully(self._stream)
        self._done.set()


def _name_of(code) -> str:
    return getattr(code, "name", str(code))


async def run_session(
    stream: trio.abc.Stream,
    config: TcpclConfig,
    role: Role,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    peer_address: str = "",
    server_hostname: str | None = None,
    task_status: trio.TaskStatus[TcpclLink] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one TCPCLv4 session over any `trio.abc.Stream` (TCP, TLS-capable, or in-memory) until it ends.

    `task_status.started(link)` once SESS_INIT is exchanged. Raises `ClaError` when the session cannot be
    established (bad peer, TLS or node ID failure, timeout); once established it returns when the session ends.
    """
    link = TcpclLink(stream, config, role, on_bundle, peer_address=peer_address, server_hostname=server_hostname)
    try:
        await link._handshake()
    except BaseException:
        await link._shutdown()
        raise
    task_status.started(link)
    try:
        if on_link_up is not None:
            await on_link_up(link)
        await link._run()
    finally:
        await link._shutdown()
        await call_link_down(on_link_down, link, link.down_reason)


async def open_link_over_stream(
    stream: trio.abc.Stream,
    config: TcpclConfig,
    role: Role,
    on_bundle: OnBundle,
    *,
    nursery: trio.Nursery,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    peer_address: str = "",
    server_hostname: str | None = None,
) -> TcpclLink:
    """Establish a session over `stream` with its tasks in `nursery`; returns the Link (for in-memory twins)."""
    return await nursery.start(
        functools.partial(
            run_session,
            stream,
            config,
            role,
            on_bundle,
            on_link_up,
            on_link_down,
            peer_address=peer_address,
            server_hostname=server_hostname,
        )
    )


async def connect_tcpcl(
    config: TcpclConfig,
    host: str,
    port: int,
    on_bundle: OnBundle,
    *,
    nursery: trio.Nursery,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    server_hostname: str | None = None,
) -> TcpclLink:
    """Connect to a TCPCLv4 listener (we are the active entity); returns once the session is established."""
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ClaError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    set_nodelay(stream)
    return await open_link_over_stream(
        stream,
        config,
        Role.ACTIVE,
        on_bundle,
        nursery=nursery,
        on_link_up=on_link_up,
        on_link_down=on_link_down,
        peer_address=f"{host}:{port}",
        server_hostname=server_hostname or host,
    )


async def serve_tcpcl(
    config: TcpclConfig,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_sessions: int = 256,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen for TCPCLv4 sessions (we are the passive entity) until cancelled; `task_status.started(port)`.

    A failing session (hostile peer, TLS failure) is logged and closed; the listener keeps serving. Past
    `max_sessions` concurrent sessions a new peer gets SESS_TERM(BUSY) right after the contact headers.
    """
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise ClaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_port = listeners[0].socket.getsockname()[1]
    active = 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal active
        set_nodelay(stream)
        address = peer_address_of(stream)
        if active >= max_sessions:
            await _refuse_busy(stream, config)
            return
        active += 1
        try:
            await run_session(stream, config, Role.PASSIVE, on_bundle, on_link_up, on_link_down, peer_address=address)
        except (ClaError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("TCPCL session from %s: %s", address, exc)
        except Exception:  # a bug in one session (or a node callback) must not stop the listener
            log.exception("TCPCL session from %s crashed", address)
        finally:
            active -= 1

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        task_status.started(bound_port)


async def _refuse_busy(stream: trio.abc.Stream, config: TcpclConfig) -> None:
    """RFC 9174 §6.1 BUSY: answer the contact header with ours and SESS_TERM(BUSY), then close."""
    session = Session(config, Role.PASSIVE, now_s=trio.current_time())
    session.close(SessTermReason.BUSY)
    with trio.move_on_after(min(config.session_init_timeout_s, 5.0)):
        try:
            while not session.closed:
                data = await stream.receive_some(1024)
                session.receive_data(data, now_s=trio.current_time())
                await stream.send_all(session.data_to_send())
        except (DtnError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    await trio.aclose_forcefully(stream)


__all__ = ["TcpclLink", "run_session", "open_link_over_stream", "connect_tcpcl", "serve_tcpcl", "Link"]
