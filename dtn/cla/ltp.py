"""LTP over UDP (Trio): one `dtn.ltp.LtpEngine` on one UDP socket, a span per neighbour engine, and one
`LtpLink` per contact (each opening of a span).

    endpoint = LtpEndpoint(LtpConfig(engine_id=1), peers={2: ("127.0.0.1", 1113)}, on_bundle=...)
    port = await nursery.start(endpoint.run, "127.0.0.1", 1113)
    link = await endpoint.open_span(2, rate_bytes_per_s=1e6, owlt_s=1.3)   # the contact opened
    await link.send_bundle(bundle)
    await endpoint.close_span(2)                                            # the contact ended

Datagrams for engine N always go to the address configured for N (`peers`), never to the source address of
what arrived, so a relay or emulator in the path works (ION's udplso does the same). Each span sends at most at
its rate (a pacing clock per span: one datagram every len/rate seconds). The engine's timers run on Trio's
clock and are suspended while the span is closed.

`send_bundle` returns once the bundle is in a block handed to the engine: from then on the LTP link owns it (in
memory) until the receiver has claimed the whole red part. A block whose session is cancelled is sent again in
a new session, up to `max_block_retries` times, then dropped with a log line; see docs/ltp.md for what that
means for custody.
"""

from __future__ import annotations

import logging
import math
import socket as _stdlib_socket
from collections.abc import Callable

import trio

from dtn.errors import ClaError, DecodeError, DtnError, LocalProtocolError
from dtn.ltp import Aggregator, LtpConfig, LtpEngine, split_bundles
from dtn.ltp.engine import BlockReceived, ExportCancelled, ExportCompleted, ImportCancelled

from .base import OnBundle, OnLinkDown, OnLinkUp, call_link_down

log = logging.getLogger(__name__)

SOCKET_BUFFER_BYTES = 8 * 1024 * 1024
DELIVERY_QUEUE_BLOCKS = 64
SEND_BATCH = 64
PACING_SLACK_S = 0.004  # wake this early: sleeping is coarse, a few ms of burst are not
PACING_CREDIT_S = 0.05  # unused rate a late sender may still use (a loaded machine wakes tasks late)
RECEIVE_BATCH = 256
TIMER_POLL_S = 1.0
_TIMED_TYPES = frozenset({0x1, 0x2, 0x3, 0x8, 0xC, 0xE})  # checkpoints, reports, cancels: they start timers


class _Wake:
    def __init__(self) -> None:
        self._event = trio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self, deadline: float = math.inf) -> None:
        event = self._event
        with trio.move_on_at(deadline):
            await event.wait()


class _Span:
    """What the endpoint keeps per neighbour engine across contacts: pacing, aggregation, the open link."""

    def __init__(self, endpoint: "LtpEndpoint", peer: int) -> None:
        self.peer = peer
        self.rate_bytes_per_s = 0.0
        self.next_send_at = 0.0
        self.wake = _Wake()
        self.link: LtpLink | None = None  # the link of the contact in progress (None: closed)
        self.aggregator: Aggregator | None = None
        if endpoint.aggregation_bytes > 0:
            self.aggregator = Aggregator(
                size_limit_bytes=endpoint.aggregation_bytes, time_limit_s=endpoint.aggregation_s
            )

    @property
    def closed(self) -> bool:
        return self.link is None


class LtpLink:
    """One opening of the span to a neighbour engine (one contact), as a `dtn.cla.base.Link`. A new contact
    gives a new LtpLink, as a new TCP connection gives a new session; bundles received while no contact is open
    come with a closed LtpLink for that neighbour."""

    cla_name = "ltp"

    def __init__(self, endpoint: "LtpEndpoint", peer: int, *, open_: bool) -> None:
        self._endpoint = endpoint
        self.peer = peer
        self.peer_node_id = f"ipn:{peer}.0"
        host, port = endpoint.peers[peer]
        self.peer_address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._open = open_

    @property
    def closed(self) -> bool:
        return not self._open

    async def send_bundle(self, data: bytes) -> None:
        """Hand the bundle to LTP (in a block of its own, or aggregated): returns once the engine has it."""
        if not self._open:
            raise ClaError(f"LTP span to engine {self.peer} is closed")
        span = self._endpoint.spans[self.peer]
        if span.aggregator is None:
            await self._endpoint.submit(self, bytes(data))
            return
        for block in span.aggregator.add(bytes(data), trio.current_time()):
            await self._endpoint.submit(self, block)
        span.wake.fire()  # the flusher re-reads the aggregation deadline

    async def close(self, reason: int | None = None) -> None:
        if self._open:
            await self._endpoint.close_span(self.peer)


class LtpEndpoint:
    """An LTP engine bound to one UDP socket, with a span (an `LtpLink`) per configured peer engine."""

    def __init__(
        self,
        config: LtpConfig,
        *,
        peers: dict[int, tuple[str, int]],
        on_bundle: OnBundle,
        on_link_up: OnLinkUp | None = None,
        on_link_down: OnLinkDown | None = None,
        default_rate_bytes_per_s: float = 0.0,
        default_owlt_s: float = 0.0,
        aggregation_bytes: int = 0,
        aggregation_s: float = 0.1,
        max_block_retries: int = 5,
    ) -> None:
        self.config = config
        self.engine = LtpEngine(config)
        self.peers = dict(peers)
        self.on_bundle = on_bundle
        self.on_link_up = on_link_up
        self.on_link_down = on_link_down
        self.default_rate_bytes_per_s = default_rate_bytes_per_s
        self.aggregation_bytes = aggregation_bytes
        self.aggregation_s = aggregation_s
        self.max_block_retries = max_block_retries
        self.spans: dict[int, _Span] = {}
        for peer in self.peers:
            self.engine.add_span(peer, owlt_s=default_owlt_s)
            self.spans[peer] = _Span(self, peer)
        self._blocks: dict[int, tuple[int, bytes, int]] = {}  # session -> (peer, block, tries)
        self._timer_wake = _Wake()
        self._capacity = _Wake()
        self._socket: _stdlib_socket.socket | None = None
        self._nursery: trio.Nursery | None = None
        self._deliveries_in, self._deliveries_out = trio.open_memory_channel(DELIVERY_QUEUE_BLOCKS)
        self.stats = {
            "blocks_sent": 0,
            "blocks_completed": 0,
            "blocks_resent": 0,
            "blocks_dropped": 0,
            "blocks_received": 0,
            "bundles_received": 0,
            "datagrams_malformed": 0,
        }

    # -- lifecycle -----------------------------------------------------------------------------------------------
    async def run(
        self, host: str = "127.0.0.1", port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind the UDP socket, report the bound port, and run until cancelled."""
        # A plain non-blocking socket driven by trio.lowlevel.wait_readable/wait_writable: the loops drain or fill
        # it in batches instead of one scheduling round trip per datagram (a datagram is ~1.4 kB).
        family = _stdlib_socket.AF_INET6 if ":" in host else _stdlib_socket.AF_INET
        sock = _stdlib_socket.socket(family, _stdlib_socket.SOCK_DGRAM)
        sock.setblocking(False)
        for option in (_stdlib_socket.SO_RCVBUF, _stdlib_socket.SO_SNDBUF):
            try:
                sock.setsockopt(_stdlib_socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)
            except OSError:
                pass  # the kernel caps it; a smaller buffer only means more loss under bursts
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ClaError(f"cannot bind LTP UDP socket {host}:{port}: {exc.strerror or exc}") from exc
        self._socket = sock
        bound = sock.getsockname()[1]
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._receive_loop)
                nursery.start_soon(self._timer_loop)
                nursery.start_soon(self._delivery_loop)
                for span in self.spans.values():
                    nursery.start_soon(self._send_loop, span)
                    if span.aggregator is not None:
                        nursery.start_soon(self._flush_loop, span)
                task_status.started(bound)
        finally:
            self._socket = None
            sock.close()

    async def open_span(
        self,
        peer: int,
        *,
        rate_bytes_per_s: float | None = None,
        owlt_s: float | None = None,
        opened: Callable[[LtpLink], None] | None = None,
    ) -> LtpLink:
        """The contact with `peer` began: transmit (at `rate_bytes_per_s`, 0 = unlimited) and run its timers.
        Returns the contact's link (the one already open if it is); `opened(link)` runs before `on_link_up`."""
        span = self._span(peer)
        if self._socket is None:
            raise ClaError("the LTP endpoint is not running")
        rate = self.default_rate_bytes_per_s if rate_bytes_per_s is None else rate_bytes_per_s
        span.rate_bytes_per_s = max(0.0, rate)
        self.engine.set_span_up(peer, True, trio.current_time(), owlt_s=owlt_s)
        span.next_send_at = trio.current_time()
        span.wake.fire()
        self._timer_wake.fire()
        if span.link is not None:
            return span.link
        link = span.link = LtpLink(self, peer, open_=True)
        if opened is not None:
            opened(link)
        if self.on_link_up is not None:
            await self.on_link_up(link)
        return link

    async def close_span(self, peer: int) -> None:
        """The contact ended: stop transmitting, suspend the span's timers (queued data waits for the next)."""
        span = self._span(peer)
        link = span.link
        if link is None:
            return
        await self.flush(span)
        link._open = False
        span.link = None
        self.engine.set_span_up(peer, False, trio.current_time())
        span.wake.fire()
        self._capacity.fire()  # a sender waiting for a free session gives up: its link is closed
        await call_link_down(self.on_link_down, link, None)

    def link_for(self, peer: int) -> LtpLink:
        """The open link to `peer`, or a closed one (what received bundles are attributed to)."""
        span = self._span(peer)
        return span.link if span.link is not None else LtpLink(self, peer, open_=False)

    def _span(self, peer: int) -> _Span:
        span = self.spans.get(peer)
        if span is None:
            raise ClaError(f"no LTP span configured for engine {peer}")
        return span

    async def flush(self, span: _Span) -> None:
        """Send the partly filled aggregate block now."""
        if span.aggregator is not None and span.link is not None:
            block = span.aggregator.flush()
            if block is not None:
                await self._submit_block(span.peer, block, 0)

    # -- sending -------------------------------------------------------------------------------------------------
    async def submit(self, link: LtpLink, block: bytes) -> None:
        """Hand one block to the engine for `link`'s peer, waiting while the export session limit is reached.
        Raises `ClaError` if the link closes meanwhile."""
        while not self.engine.can_send():
            if link.closed:
                raise ClaError(f"LTP span to engine {link.peer} closed while waiting for a free session")
            await self._capacity.wait()
        await self._submit_block(link.peer, block, 0)

    async def _submit_block(self, peer: int, block: bytes, tries: int) -> None:
        while not self.engine.can_send():
            await self._capacity.wait()
        try:
            number = self.engine.send_block(peer, block, trio.current_time())
        except LocalProtocolError as exc:
            raise ClaError(f"LTP: {exc}") from None
        self._blocks[number] = (peer, block, tries)
        self.stats["blocks_sent"] += 1
        self.spans[peer].wake.fire()

    async def _send_loop(self, link: _Span) -> None:
        sock = self._socket
        engine = self.engine
        peer = link.peer
        while True:
            if link.closed or not engine.has_pending(peer):
                await link.wake.wait()
                continue
            rate = link.rate_bytes_per_s
            now = trio.current_time()
            if rate and link.next_send_at > now + PACING_SLACK_S:
                await trio.sleep_until(link.next_send_at - PACING_SLACK_S)
                now = trio.current_time()
            timed = False
            address = self.peers[peer]
            for _ in range(SEND_BATCH):  # then yield, so receiving and timers keep up
                datagram = engine.next_segment(peer, now)
                if datagram is None:
                    break
                timed = timed or datagram[0] & 0x0F in _TIMED_TYPES
                await self._sendto(sock, datagram, address)
                if rate:  # a token bucket: on average `rate`; a late wake-up may catch up PACING_CREDIT_S of it
                    link.next_send_at = max(link.next_send_at, now - PACING_CREDIT_S) + len(datagram) / rate
                    if link.next_send_at > now + PACING_SLACK_S:
                        break
            if timed:
                self._timer_wake.fire()  # a timer started: the timer task must look at the new deadline
            if engine.has_events():  # pulling the last green segment finishes a session
                await self._process_events()
            await trio.lowlevel.checkpoint()

    @staticmethod
    async def _sendto(sock, datagram: bytes, address) -> None:
        while True:
            try:
                sock.sendto(datagram, address)
                return
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
            except OSError as exc:  # e.g. ICMP port unreachable: LTP retransmits on its own timers
                log.debug("LTP sendto %s: %s", address, exc)
                return

    async def _flush_loop(self, span: _Span) -> None:
        while True:
            deadline = span.aggregator.deadline_s() if span.aggregator else None
            if deadline is None:
                await span.wake.wait()
                continue
            if trio.current_time() < deadline:
                await span.wake.wait(deadline)
                continue
            await self.flush(span)
            if span.link is None and span.aggregator.deadline_s() is not None:
                await span.wake.wait()  # closed with bundles pending: they go when the span reopens

    # -- receiving and timers --------------------------------------------------------------------------------------
    async def _receive_loop(self) -> None:
        sock = self._socket
        engine = self.engine
        while True:
            await trio.lowlevel.wait_readable(sock)
            now = trio.current_time()
            for _ in range(RECEIVE_BATCH):
                try:
                    datagram, _source = sock.recvfrom(65536)  # the source is never used to reply
                except BlockingIOError:
                    break
                except OSError as exc:  # ICMP errors from earlier sends surface here on some systems
                    log.debug("LTP recvfrom: %s", exc)
                    continue
                try:
                    engine.receive_datagram(datagram, now)
                except DecodeError as exc:
                    self.stats["datagrams_malformed"] += 1
                    log.debug("LTP: malformed datagram ignored: %s", exc)
            await self._process_events()
            for span in self.spans.values():
                if not span.closed and engine.has_pending(span.peer):
                    span.wake.fire()

    async def _timer_loop(self) -> None:
        # Receiving only removes timers or sets inactivity deadlines far ahead, so only sending (which starts
        # checkpoint, report and cancel timers) wakes this task; it also looks again at least every second.
        while True:
            deadline = self.engine.next_deadline_s()
            now = trio.current_time()
            await self._timer_wake.wait(min(now + TIMER_POLL_S, math.inf if deadline is None else deadline))
            now = trio.current_time()
            deadline = self.engine.next_deadline_s()
            if deadline is not None and deadline <= now:
                self.engine.handle_timers(now)
                await self._process_events()
                for span in self.spans.values():
                    span.wake.fire()

    async def _process_events(self) -> None:
        for event in self.engine.events():
            if isinstance(event, BlockReceived):
                self.stats["blocks_received"] += 1
                await self._deliveries_in.send(event)
            elif isinstance(event, ExportCompleted):
                self._blocks.pop(event.session_number, None)
                self.stats["blocks_completed"] += 1
                self._capacity.fire()
            elif isinstance(event, ExportCancelled):
                entry = self._blocks.pop(event.session_number, None)
                self._capacity.fire()
                if entry is None:
                    continue
                peer, block, tries = entry
                log.info(
                    "LTP session %s to engine %s cancelled (reason %s, by %s)",
                    event.session_number,
                    peer,
                    event.reason,
                    "peer" if event.by_peer else "us",
                )
                if tries < self.max_block_retries:
                    self.stats["blocks_resent"] += 1
                    self._nursery.start_soon(self._submit_block, peer, block, tries + 1)
                else:
                    self.stats["blocks_dropped"] += 1
                    log.warning(
                        "LTP block of %d bytes to engine %s dropped after %d sessions", len(block), peer, tries + 1
                    )
            elif isinstance(event, ImportCancelled):
                log.info(
                    "LTP import session %s from engine %s cancelled (reason %s, by %s)",
                    event.session_number,
                    event.peer,
                    event.reason,
                    "peer" if event.by_peer else "us",
                )

    async def _delivery_loop(self) -> None:
        async for event in self._deliveries_out:
            link = self.link_for(event.peer)
            try:
                bundles = split_bundles(event.data)
            except DecodeError as exc:
                log.info("LTP block from engine %s is not a sequence of bundles: %s", event.peer, exc)
                continue
            for bundle in bundles:
                self.stats["bundles_received"] += 1
                try:
                    await self.on_bundle(bundle, link)
                except DtnError as exc:  # LTP cannot refuse after the fact: the bundle is dropped
                    log.info("LTP bundle from engine %s dropped: %s", event.peer, exc)
