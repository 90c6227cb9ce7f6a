"""The link emulator: carries bytes between two nodes only while the plan (with faults) says the link is up.

One emulator per directed neighbour pair sits between a node's dialled connection and the neighbour's real
listener (`dtn replay`), or between two in-memory stream ends (`dtn simulate`): the same `pump` code runs in both.
It adds the link's one-way light time, can shape to the contact rate, and closes both sides abruptly when the
window ends, so nodes learn about link loss only the way they would in orbit: the session drops.
"""

from __future__ import annotations

import math
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import trio

from dtn.node.clock import Clock
from dtn.twin.links import LinkSchedule, Window

CHUNK_BYTES = 65536
QUEUE_CHUNKS = 256


@dataclass
class DirectionTiming:
    """When bytes sent one way on a link arrive: after the transmission (paced at `rate_bytes_per_s` when
    shaping) plus the one-way light time. Both emulators (TCP pump and in-memory link) use this one rule."""

    rate_bytes_per_s: float
    owlt_s: float
    shape: bool
    next_free_s: float = -math.inf

    def transmitted_at(self, now_s: float, n_bytes: int) -> float:
        """When the last byte of a chunk handed over at now_s has left the sender."""
        if not self.shape or not (self.rate_bytes_per_s > 0 and math.isfinite(self.rate_bytes_per_s)):
            return now_s
        self.next_free_s = max(now_s, self.next_free_s) + n_bytes / self.rate_bytes_per_s
        return self.next_free_s

    def delivered_at(self, now_s: float, n_bytes: int) -> float:
        return self.transmitted_at(now_s, n_bytes) + self.owlt_s


@dataclass
class WindowTraffic:
    """Bytes carried in one window of one link, per direction."""

    window: Window
    bytes_ab: int = 0
    bytes_ba: int = 0
    sessions: int = 0

    @property
    def capacity_ab_bytes(self) -> float:
        return (self.window.end_s - self.window.start_s) * self.window.rate_ab_bytes_per_s

    @property
    def capacity_ba_bytes(self) -> float:
        return (self.window.end_s - self.window.start_s) * self.window.rate_ba_bytes_per_s


@dataclass
class LinkEmulator:
    """Link emulation for every pair of a plan, on one clock.

    `clock.unix_s() - plan_epoch_unix_s` is the plan time. `shape_rate` paces each direction at the contact rate;
    `owlt` delays each chunk by the window's one-way light time.
    """

    schedule: LinkSchedule
    clock: Clock
    plan_epoch_unix_s: float
    shape_rate: bool = False
    owlt: bool = True
    on_event: Callable[[dict], None] | None = None
    traffic: dict[tuple[int, int, float], WindowTraffic] = field(default_factory=dict)
    count_until: float = math.inf
    """Trio time from which sent bytes are no longer counted in `traffic` (the twin sets its end instant: what
    the shutdown sends is not part of the run's record)."""

    def plan_now_s(self) -> float:
        return self.clock.unix_s() - self.plan_epoch_unix_s

    async def sleep_until_plan(self, t_s: float) -> None:
        await self.clock.sleep_until(self.clock.now_s() + (t_s - self.plan_now_s()))

    def _traffic(self, window: Window) -> WindowTraffic:
        key = (window.a, window.b, window.start_s)
        record = self.traffic.get(key)
        if record is None:
            record = self.traffic[key] = WindowTraffic(window)
        return record

    async def pump(self, a: int, b: int, from_a: trio.abc.Stream, to_b: trio.abc.Stream) -> None:
        """Carry bytes a<->b while the link is up; `from_a` is the stream whose peer is node a. Closes both."""
        window = self.schedule.window_at(a, b, self.plan_now_s())
        try:
            if window is None:
                return
            record = self._traffic(window)
            record.sessions += 1
            if self.on_event:
                self.on_event({"event": "link_session", "a": a, "b": b, "window_start_s": window.start_s})
            a_is_low = a == window.a
            rate_from_a = window.rate_ab_bytes_per_s if a_is_low else window.rate_ba_bytes_per_s
            rate_from_b = window.rate_ba_bytes_per_s if a_is_low else window.rate_ab_bytes_per_s

            def count_from_a(n: int) -> None:
                if a_is_low:
                    record.bytes_ab += n
                else:
                    record.bytes_ba += n

            def count_from_b(n: int) -> None:
                if a_is_low:
                    record.bytes_ba += n
                else:
                    record.bytes_ab += n

            async with trio.open_nursery() as nursery:
                nursery.cancel_scope.deadline = self.clock_deadline(window.end_s)
                done = [0]

                async def one_way(src, dst, rate, count) -> None:
                    await self._carry(src, dst, rate, window.owlt_s, count)
                    done[0] += 1
                    if done[0] == 2:
                        nursery.cancel_scope.cancel()

                nursery.start_soon(one_way, from_a, to_b, rate_from_a, count_from_a)
                nursery.start_soon(one_way, to_b, from_a, rate_from_b, count_from_b)
        finally:
            with trio.CancelScope(shield=True):
                for stream in (from_a, to_b):
                    await _abort(stream)

    def clock_deadline(self, plan_t_s: float) -> float:
        """The Trio deadline at which plan time reaches plan_t_s."""
        at_unix = getattr(self.clock, "trio_time_at_unix", None)
        if at_unix is not None:  # from the fixed mapping: the same float in every run (not from "now")
            return at_unix(plan_t_s + self.plan_epoch_unix_s)
        to_trio = getattr(self.clock, "trio_time_at", None)
        clock_t_s = self.clock.now_s() + (plan_t_s - self.plan_now_s())
        if to_trio is None:  # a Clock without a Trio mapping runs at Trio's speed
            return trio.current_time() + (clock_t_s - self.clock.now_s())
        return to_trio(clock_t_s)

    async def _carry(self, src: trio.abc.Stream, dst: trio.abc.Stream, rate: float, owlt_s: float, count) -> None:
        send_ch, recv_ch = trio.open_memory_channel(QUEUE_CHUNKS)
        timing = DirectionTiming(rate, owlt_s if self.owlt else 0.0, self.shape_rate)

        async def reader() -> None:
            async with send_ch:
                while True:
                    try:
                        chunk = await src.receive_some(CHUNK_BYTES)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return
                    if not chunk:
                        return
                    sent_s = timing.transmitted_at(self.plan_now_s(), len(chunk))
                    if sent_s > self.plan_now_s():  # shaping: read no faster than the link sends
                        await self.sleep_until_plan(sent_s)
                    await send_ch.send((sent_s + timing.owlt_s, chunk))

        async def writer() -> None:
            async with recv_ch:
                async for deliver_s, chunk in recv_ch:
                    if deliver_s > self.plan_now_s():
                        await self.sleep_until_plan(deliver_s)
                    try:
                        await dst.send_all(chunk)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return
                    count(len(chunk))
                try:
                    if hasattr(dst, "send_eof"):
                        await dst.send_eof()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            nursery.start_soon(writer)

    # -- in-memory links (the digital twin) ------------------------------------------------------------------
    def open_memory_link(
        self, a: int, b: int, nursery: trio.Nursery | None = None
    ) -> tuple["EmulatedStream", "EmulatedStream"] | None:
        """Two connected stream ends for nodes a and b over the a-b link as it is now, or None if it is down.

        No task per link: each end queues what it sends with its delivery time (DirectionTiming) and the
        other end's receive_some waits for it; when the window ends both ends see the link vanish (end of
        stream on receive, BrokenResourceError on send). With a `nursery`, one small task wakes idle readers
        at the window end, so an idle read needs no timeout of its own."""
        window = self.schedule.window_at(a, b, self.plan_now_s())
        if window is None:
            return None
        record = self._traffic(window)
        record.sessions += 1
        a_is_low = a == window.a
        rate_from_a = window.rate_ab_bytes_per_s if a_is_low else window.rate_ba_bytes_per_s
        rate_from_b = window.rate_ba_bytes_per_s if a_is_low else window.rate_ab_bytes_per_s
        owlt_s = window.owlt_s if self.owlt else 0.0
        # The link vanishes just after its end instant (the next float): what the nodes do *at* the planned end
        # (close their sessions) then always happens first, whatever order Trio runs that instant's tasks in.
        # Bytes sent at the end instant are accepted but never delivered (they would arrive after the end).
        end_deadline = math.nextafter(self.clock_deadline(window.end_s), math.inf)
        from_a = _Direction(
            DirectionTiming(rate_from_a, owlt_s, self.shape_rate), record, "bytes_ab" if a_is_low else "bytes_ba"
        )
        from_b = _Direction(
            DirectionTiming(rate_from_b, owlt_s, self.shape_rate), record, "bytes_ba" if a_is_low else "bytes_ab"
        )
        watched = nursery is not None
        if watched:
            nursery.start_soon(_wake_at_end, end_deadline, (from_a, from_b))
        return (
            EmulatedStream(self, from_a, from_b, end_deadline, watched),
            EmulatedStream(self, from_b, from_a, end_deadline, watched),
        )

    # -- TCP (real processes) --------------------------------------------------------------------------------
    async def serve_tcp(
        self,
        a: int,
        b: int,
        target: tuple[str, int] | Callable[[], tuple[str, int] | None],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status=trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen for node a's connections meant for node b; forward to b's listener at `target` (an address, or a
        callable giving the current one, None while b is down) while the link is up."""

        async def handle(stream: trio.SocketStream) -> None:
            _nodelay(stream)
            if not self.schedule.is_up(a, b, self.plan_now_s()):
                await _abort(stream)
                return
            address = target() if callable(target) else target
            if address is None:  # b is not running (killed, restarting): like a station that does not answer
                await _abort(stream)
                return
            try:
                upstream = await trio.open_tcp_stream(*address)
            except OSError:
                await _abort(stream)
                return
            _nodelay(upstream)
            await self.pump(a, b, stream, upstream)

        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(handle, listeners)


def _nodelay(stream) -> None:
    try:
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


async def _abort(stream: trio.abc.Stream) -> None:
    """Close a stream at once (no graceful TLS/TCP goodbye): the link is gone."""
    try:
        await trio.aclose_forcefully(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


class _Direction:
    """Chunks in flight one way, each readable from its delivery time (on Trio's clock).

    One direction is one byte stream: chunks are delivered in exactly the order `send_all` was called, whichever
    task called it (a TCPCL session's handshake task sends SESS_INIT, then its writer task the first transfer at
    the same virtual instant; reordering them by task would put a segment before SESS_INIT and the peer would
    drop the session). Chunks handed over at one virtual instant are kept in `pending` and given their delivery
    times (their places in the link's serialization) once that instant is over. Determinism comes from the
    senders: a stream adapter writes through one writer task (dtn.cla), so the bytes on a link do not depend
    on the order in which Trio runs the tasks ready at one instant (docs/replay.md, determinism).
    """

    __slots__ = ("timing", "queue", "eof", "waiter", "record", "field", "pending", "pending_at", "pending_plan_s")

    def __init__(self, timing: DirectionTiming, record: WindowTraffic, field: str) -> None:
        self.timing = timing
        self.queue: deque[tuple[float, bytes]] = deque()
        self.eof = False
        self.waiter: trio.Event | None = None
        self.record = record
        self.field = field
        self.pending: list[bytes] = []
        self.pending_at = -math.inf  # the Trio time at which the pending chunks were handed over
        self.pending_plan_s = 0.0  # the same instant in plan time

    def add(self, now: float, plan_now_s: float, chunk: bytes) -> None:
        if self.pending and self.pending_at != now:
            self.settle()
        if not self.pending:
            self.pending_at, self.pending_plan_s = now, plan_now_s
        self.pending.append(chunk)

    def settle(self) -> None:
        """Queue the pending chunks with their delivery times, in the order they were sent."""
        at, plan_s = self.pending_at, self.pending_plan_s
        for chunk in self.pending:
            self.queue.append((at + (self.timing.delivered_at(plan_s, len(chunk)) - plan_s), chunk))
        self.pending.clear()

    def earliest_pending_delivery(self) -> float:
        """A lower bound of when a pending chunk can arrive (never before the pending instant ends, unless the
        link has neither latency nor shaping)."""
        timing = self.timing
        shortest = min(len(chunk) for chunk in self.pending)
        transmit_s = 0.0
        if timing.shape and timing.rate_bytes_per_s > 0 and math.isfinite(timing.rate_bytes_per_s):
            transmit_s = shortest / timing.rate_bytes_per_s
        return self.pending_at + timing.owlt_s + transmit_s

    def wake(self) -> None:
        if self.waiter is not None:
            self.waiter.set()
            self.waiter = None


class EmulatedStream(trio.abc.HalfCloseableStream):
    """One end of an in-memory emulated link (see LinkEmulator.open_memory_link)."""

    def __init__(
        self,
        emulator: LinkEmulator,
        outgoing: _Direction,
        incoming: _Direction,
        end_deadline: float,
        watched: bool = False,
    ):
        self._emulator = emulator
        self._out = outgoing
        self._in = incoming
        self._end_deadline = end_deadline
        self._watched = watched  # a task wakes readers at the window end (see _wake_at_end)
        self._closed = False

    def _link_gone(self) -> bool:
        return trio.current_time() >= self._end_deadline

    async def send_all(self, data) -> None:
        """Queue bytes at once: a link never blocks its sender, it only delays delivery."""
        await trio.lowlevel.checkpoint()
        if self._closed:
            raise trio.ClosedResourceError("stream closed")
        if self._out.eof or self._link_gone():
            raise trio.BrokenResourceError("link down")
        if not data:
            return
        chunk = bytes(data)
        out = self._out
        # Delivery times are on Trio's clock (comparing Trio times avoids re-deriving plan time, of Unix-second
        # magnitude, on every wake-up); they are assigned when this instant is over (see _Direction).
        now = trio.current_time()
        out.add(now, self._emulator.plan_now_s(), chunk)
        if now < self._emulator.count_until:
            setattr(out.record, out.field, getattr(out.record, out.field) + len(chunk))
        out.wake()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()
        self._out.eof = True
        self._out.wake()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        incoming = self._in
        while True:
            if self._closed:
                raise trio.ClosedResourceError("stream closed")
            if self._link_gone():
                return b""  # the link vanished: what was in flight is lost with it
            now = trio.current_time()
            if incoming.pending and incoming.pending_at < now:
                incoming.settle()
            if incoming.queue:
                deliver_at, chunk = incoming.queue[0]
                if deliver_at <= now:
                    if max_bytes is not None and len(chunk) > max_bytes:
                        incoming.queue[0] = (deliver_at, chunk[max_bytes:])
                        return chunk[:max_bytes]
                    incoming.queue.popleft()
                    return chunk
                deadline = min(self._end_deadline, deliver_at)
            elif incoming.pending:
                earliest = incoming.earliest_pending_delivery()
                if earliest <= now:  # a link without latency or shaping: nothing to order, deliver now
                    incoming.settle()
                    continue
                deadline = min(self._end_deadline, earliest)
            elif incoming.eof:
                return b""
            else:
                deadline = math.inf if self._watched else self._end_deadline
            incoming.waiter = event = trio.Event()
            if deadline == math.inf:
                await event.wait()
                continue
            with trio.move_on_at(deadline):
                await event.wait()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._out.eof = True
            self._out.wake()
            self._in.wake()
        await trio.lowlevel.checkpoint()


async def _wake_at_end(end_deadline: float, directions: tuple[_Direction, ...]) -> None:
    """At the window end, wake whoever waits on the link so they see it is gone."""
    await trio.sleep_until(end_deadline)
    for direction in directions:
        direction.wake()
