"""The LTP engine (RFC 5326 §6), sans-IO: datagrams and time in, datagrams and events out.

    engine = LtpEngine(LtpConfig(engine_id=1))
    engine.add_span(2, owlt_s=1.3)
    engine.set_span_up(2, True, now_s)               # the contact opened: transmit, run timers
    number = engine.send_block(2, block, now_s)       # red by default; red_bytes < len(block) adds a green part
    while (datagram := engine.next_segment(2, now_s)) is not None:   # pull when the link may carry one more
        udp.sendto(datagram, address_of[2])
    engine.receive_datagram(datagram, now_s)          # any order, duplicates, from any configured span
    for event in engine.events(): ...                 # BlockReceived, GreenReceived, ExportCompleted, ...
    engine.handle_timers(now_s)                       # at engine.next_deadline_s()

Sessions: an *export* session sends one block (we are the session originator); an *import* session receives
one (the peer is). Engine IDs are ipn node numbers. Timers (checkpoint, report, cancel retransmission) run for
2 x OWLT + `timer_margin_s` from the moment the segment is pulled for transmission, and are suspended while the
span is down (RFC 5326 §6.2: they resume with what was left when the link comes back). Nothing grows without
bound: sessions, claims, queued control segments and the memory of closed sessions all have limits
(`LtpConfig`), and a session that cannot finish is cancelled with a reason code reported as an event.

Why one module of ~840 lines: export and import sessions are driven by one dispatch on the segment type and share
the engine's span table, its timer heap, its control-segment queue and its limits; segments, ranges, settings and
aggregation already live in their own modules. Splitting the two session kinds out is the next cut if this grows.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Union

from dtn.errors import DecodeError, LocalProtocolError

from .ranges import Ranges
from .segments import (
    CancelReason,
    Claim,
    DataContent,
    ReportContent,
    SegmentType,
    data_segment_type,
    decode_segment,
    encode_cancel,
    encode_cancel_ack,
    encode_data,
    encode_report,
    encode_report_ack,
    sdnv_len,
)

BUNDLE_PROTOCOL_CLIENT_ID = 1  # LTP client service ID of the Bundle Protocol (SANA registry)
MAX_OPEN_REPORTS = 256  # unacknowledged reports per import session; checkpoints beyond it are not answered


@dataclass(frozen=True, slots=True)
class LtpConfig:
    """Engine settings. Sizes in bytes, times in seconds of link-up time."""

    engine_id: int
    mtu_bytes: int = 1400  # largest segment (one UDP payload)
    max_export_sessions: int = 64  # blocks in flight, all spans together
    max_import_sessions: int = 1024
    max_block_bytes: int = 256 * 1024 * 1024
    max_import_bytes: int = 1024 * 1024 * 1024  # red data held by all import sessions together
    max_retransmissions: int = 20  # per checkpoint, report or cancel segment
    max_retransmission_cycles: int = 200  # report-driven retransmission rounds per export session
    timer_margin_s: float = 0.5  # added to 2 x OWLT (queueing, processing)
    inactivity_s: float = 120.0  # an import session that hears nothing this long is cancelled
    max_claims_per_report: int = 64
    closed_memory: int = 4096  # closed sessions remembered (late checkpoints, retransmitted reports)
    max_queued_control: int = 16384  # control segments waiting per span

    def __post_init__(self) -> None:
        if not 0 < self.engine_id < 2**64:
            raise LocalProtocolError("engine_id must be in 1..2**64-1")
        if self.mtu_bytes < 64:
            raise LocalProtocolError("mtu_bytes must be at least 64")


# -- events ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BlockReceived:
    """The whole red part of an import session arrived (delivered once per session)."""

    peer: int
    session_number: int
    client_service_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class GreenReceived:
    """One green segment (best effort: never retransmitted, may be lost or duplicated below us)."""

    peer: int
    session_number: int
    client_service_id: int
    offset: int
    data: bytes
    end_of_block: bool


@dataclass(frozen=True, slots=True)
class ExportCompleted:
    """Every byte of the red part was claimed by the receiver, and every green segment was sent."""

    peer: int
    session_number: int


@dataclass(frozen=True, slots=True)
class ExportCancelled:
    peer: int
    session_number: int
    reason: int
    by_peer: bool


@dataclass(frozen=True, slots=True)
class ImportCancelled:
    peer: int
    session_number: int
    reason: int
    by_peer: bool


Event = Union[BlockReceived, GreenReceived, ExportCompleted, ExportCancelled, ImportCancelled]


# -- state -----------------------------------------------------------------------------------------------------
class _Timed:
    """A segment under a retransmission timer: `deadline_s` is None until it is pulled for transmission."""

    __slots__ = ("deadline_s", "tries")

    def __init__(self) -> None:
        self.deadline_s: float | None = None
        self.tries = 0


class _Checkpoint(_Timed):
    __slots__ = ("serial", "offset", "length", "report_serial", "eorp", "queued")

    def __init__(self, serial: int, offset: int, length: int, report_serial: int, eorp: bool) -> None:
        super().__init__()
        self.serial, self.offset, self.length = serial, offset, length
        self.report_serial, self.eorp = report_serial, eorp
        self.queued = True


class _Report(_Timed):
    __slots__ = ("serial", "content", "queued")

    def __init__(self, serial: int, content: ReportContent) -> None:
        super().__init__()
        self.serial, self.content = serial, content
        self.queued = True


class _Cancel(_Timed):
    __slots__ = ("reason",)

    def __init__(self, reason: int) -> None:
        super().__init__()
        self.reason = reason


class _Export:
    __slots__ = (
        "number",
        "peer",
        "data",
        "red_len",
        "csid",
        "claimed",
        "checkpoints",
        "next_cp",
        "handled_rs",
        "cycles",
        "cancel",
        "green_unsent",
        "payload_bytes",
    )

    def __init__(self, number: int, peer: int, data: bytes, red_len: int, csid: int, next_cp: int) -> None:
        self.number, self.peer, self.data, self.red_len, self.csid = number, peer, data, red_len, csid
        self.claimed = Ranges()
        self.checkpoints: dict[int, _Checkpoint] = {}
        self.next_cp = next_cp
        self.handled_rs: set[tuple[int, int, int]] = set()  # (checkpoint serial, lower, upper) answered
        self.cycles = 0
        self.cancel: _Cancel | None = None
        self.green_unsent = 0
        self.payload_bytes = 0

    @property
    def red_done(self) -> bool:
        return self.claimed.covers(0, self.red_len)


class _Import:
    __slots__ = (
        "peer",
        "number",
        "csid",
        "parts",
        "held_bytes",
        "got",
        "red_len",
        "green_start",
        "delivered",
        "reports",
        "scopes",
        "next_rs",
        "cancel",
        "eob",
        "idle",
        "red_seen",
    )

    def __init__(self, peer: int, number: int, csid: int, next_rs: int) -> None:
        self.peer, self.number, self.csid = peer, number, csid
        # Received red data as (offset, bytes) pieces, assembled once complete: memory follows what arrived,
        # not the highest offset a (hostile) segment names.
        self.parts: list[tuple[int, bytes]] = []
        self.held_bytes = 0
        self.got = Ranges()
        self.red_len: int | None = None
        self.green_start: int | None = None
        self.delivered = False
        self.reports: dict[int, _Report] = {}
        self.scopes: dict[int, tuple[int, int]] = {}  # report serial -> (lower, upper), for retransmission CPs
        self.next_rs = next_rs
        self.cancel: _Cancel | None = None
        self.eob = False
        self.idle = _Timed()  # the inactivity timer (a deadline shifted like the others while the span is down)
        self.red_seen = False

    @property
    def red_complete(self) -> bool:
        return self.red_len is not None and self.got.covers(0, self.red_len)


class _Span:
    __slots__ = ("peer", "owlt_s", "up", "down_since_s", "control", "data", "exports", "imports")

    def __init__(self, peer: int, owlt_s: float) -> None:
        self.peer = peer
        self.owlt_s = owlt_s
        self.up = False
        self.down_since_s: float | None = None
        self.control: deque = deque()  # bytes, or ("rs"|"cs"|"cr", key, serial) to encode when pulled
        self.data: deque = deque()  # (session number, offset, length, checkpoint serial or None, green, eob)
        self.exports: set[int] = set()
        self.imports: set[int] = set()


# -- the engine ------------------------------------------------------------------------------------------------
class LtpEngine:
    """One LTP engine. Not thread-safe; the caller owns the clock (`now_s` arguments, any monotonic origin)."""

    def __init__(self, config: LtpConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.engine_id = config.engine_id
        self._rng = rng or random.Random()
        self._spans: dict[int, _Span] = {}
        self._exports: dict[int, _Export] = {}
        self._imports: dict[tuple[int, int], _Import] = {}
        self._closed_exports: OrderedDict[int, int] = OrderedDict()  # number -> peer
        self._closed_imports: OrderedDict[tuple[int, int], int | None] = OrderedDict()  # key -> red_len | None
        self._next_session = self._rng.randrange(1, 2**31)
        self._events: list[Event] = []
        self._import_bytes = 0  # red data held by all import sessions
        self.stats: dict[str, int] = {
            "segments_sent": 0,
            "segments_received": 0,
            "data_retransmitted_bytes": 0,
            "malformed": 0,
            "unknown_span": 0,
            "checkpoint_retransmissions": 0,
            "report_retransmissions": 0,
        }

    # -- spans -------------------------------------------------------------------------------------------------
    def add_span(self, peer: int, *, owlt_s: float = 0.0) -> None:
        """Declare a remote engine we exchange segments with (down until `set_span_up`)."""
        if peer == self.engine_id or not 0 < peer < 2**64:
            raise LocalProtocolError(f"invalid peer engine ID {peer}")
        if peer not in self._spans:
            self._spans[peer] = _Span(peer, owlt_s)
        else:
            self._spans[peer].owlt_s = owlt_s

    def spans(self) -> list[int]:
        return list(self._spans)

    def span_is_up(self, peer: int) -> bool:
        return self._span(peer).up

    def set_span_up(self, peer: int, up: bool, now_s: float, *, owlt_s: float | None = None) -> None:
        """Open or close the span's link. While it is down nothing is transmitted and its sessions' timers are
        suspended; when it comes back they resume with the time they had left (RFC 5326 §6.2)."""
        span = self._span(peer)
        if owlt_s is not None:
            span.owlt_s = owlt_s
        if up == span.up:
            return
        span.up = up
        if not up:
            span.down_since_s = now_s
            return
        if span.down_since_s is not None:
            delta = max(0.0, now_s - span.down_since_s)
            for timed in self._timers_of(span):
                if timed.deadline_s is not None:
                    timed.deadline_s += delta
        span.down_since_s = None

    def _span(self, peer: int) -> _Span:
        span = self._spans.get(peer)
        if span is None:
            raise LocalProtocolError(f"no span to engine {peer}")
        return span

    def _timers_of(self, span: _Span):
        for number in span.exports:
            ex = self._exports[number]
            yield from ex.checkpoints.values()
            if ex.cancel is not None:
                yield ex.cancel
        for number in span.imports:
            im = self._imports[(span.peer, number)]
            yield from im.reports.values()
            if im.cancel is not None:
                yield im.cancel
            yield im.idle

    def _interval_s(self, span: _Span) -> float:
        return 2 * span.owlt_s + self.config.timer_margin_s

    # -- sending blocks ----------------------------------------------------------------------------------------
    def export_sessions(self) -> int:
        return len(self._exports)

    def can_send(self) -> bool:
        return len(self._exports) < self.config.max_export_sessions

    def send_block(
        self,
        peer: int,
        data: bytes,
        now_s: float,
        *,
        red_bytes: int | None = None,
        client_service_id: int = BUNDLE_PROTOCOL_CLIENT_ID,
    ) -> int:
        """Start an export session for `data` (its first `red_bytes` red, the rest green). Returns the session
        number. Raises `LocalProtocolError` at the session limit (see `can_send`) or for an empty block."""
        span = self._span(peer)
        red_len = len(data) if red_bytes is None else red_bytes
        if not data or not 0 <= red_len <= len(data):
            raise LocalProtocolError("a block needs at least one byte and 0 <= red_bytes <= its length")
        if len(data) > self.config.max_block_bytes:
            raise LocalProtocolError(f"block of {len(data)} bytes above max_block_bytes")
        if not self.can_send():
            raise LocalProtocolError("export session limit reached")
        number = self._next_session
        self._next_session = self._next_session + 1 if self._next_session < 2**63 else 1
        ex = _Export(number, peer, bytes(data), red_len, client_service_id, self._rng.randrange(1, 2**14))
        # Header: control byte, two session SDNVs, count byte; content: client ID, offset, length, serials.
        overhead = (
            2
            + sdnv_len(self.engine_id)
            + sdnv_len(number)
            + sdnv_len(client_service_id)
            + 2 * sdnv_len(len(data))
            + 2 * 10
        )
        ex.payload_bytes = max(1, self.config.mtu_bytes - overhead)
        self._exports[number] = ex
        span.exports.add(number)
        step = ex.payload_bytes
        for start in range(0, red_len, step):
            end = min(red_len, start + step)
            if end == red_len:
                cp = _Checkpoint(ex.next_cp, start, end - start, 0, eorp=True)
                ex.checkpoints[cp.serial] = cp
                ex.next_cp += 1
                span.data.append((number, start, end - start, cp.serial, False, red_len == len(data)))
            else:
                span.data.append((number, start, end - start, None, False, False))
        for start in range(red_len, len(data), step):
            end = min(len(data), start + step)
            span.data.append((number, start, end - start, None, True, end == len(data)))
            ex.green_unsent += 1
        return number

    def cancel_export(self, number: int, now_s: float, reason: int = CancelReason.USR_CNCLD) -> None:
        ex = self._exports.get(number)
        if ex is not None and ex.cancel is None:
            self._cancel_export(ex, reason)

    # -- pulling segments to transmit ----------------------------------------------------------------------------
    def has_pending(self, peer: int) -> bool:
        span = self._span(peer)
        return bool(span.control or span.data)

    def queued_segments(self, peer: int) -> int:
        span = self._span(peer)
        return len(span.control) + len(span.data)

    def next_segment(self, peer: int, now_s: float) -> bytes | None:
        """The next datagram for `peer`, or None (nothing queued, or the span is down). Control segments go
        before data. A checkpoint's, report's or cancel's timer starts now."""
        span = self._span(peer)
        if not span.up:
            return None
        while span.control:
            out = self._pull_control(span, span.control.popleft(), now_s)
            if out is not None:
                self.stats["segments_sent"] += 1
                return out
        while span.data:
            out = self._pull_data(span, span.data.popleft(), now_s)
            if out is not None:
                self.stats["segments_sent"] += 1
                return out
        return None

    def _pull_control(self, span: _Span, item, now_s: float) -> bytes | None:
        if isinstance(item, bytes):
            return item
        kind, key, serial = item
        if kind == "rs":
            im = self._imports.get(key)
            rs = im.reports.get(serial) if im is not None and im.cancel is None else None
            if rs is None:
                return None
            rs.queued = False
            rs.deadline_s = now_s + self._interval_s(span)
            return encode_report(key[0], key[1], rs.content)
        if kind == "cs":
            ex = self._exports.get(key)
            if ex is None or ex.cancel is None:
                return None
            ex.cancel.deadline_s = now_s + self._interval_s(span)
            return encode_cancel(SegmentType.CANCEL_FROM_SENDER, self.engine_id, key, ex.cancel.reason)
        im = self._imports.get(key)  # "cr"
        if im is None or im.cancel is None:
            return None
        im.cancel.deadline_s = now_s + self._interval_s(span)
        return encode_cancel(SegmentType.CANCEL_FROM_RECEIVER, key[0], key[1], im.cancel.reason)

    def _pull_data(self, span: _Span, item, now_s: float) -> bytes | None:
        number, offset, length, cp_serial, green, eob = item
        ex = self._exports.get(number)
        if ex is None or ex.cancel is not None:
            return None
        cp = None
        if cp_serial is not None:
            cp = ex.checkpoints.get(cp_serial)
            if cp is None:  # answered meanwhile: a plain red segment would be redundant too
                return None
            cp.queued = False
            cp.deadline_s = now_s + self._interval_s(span)
        type_code = data_segment_type(red=not green, checkpoint=cp is not None, eorp=bool(cp and cp.eorp), eob=eob)
        out = encode_data(
            type_code,
            self.engine_id,
            number,
            ex.csid,
            offset,
            memoryview(ex.data)[offset : offset + length],
            cp.serial if cp else None,
            cp.report_serial if cp else None,
        )
        if green:
            ex.green_unsent -= 1
            if ex.green_unsent == 0 and ex.red_done:
                self._complete_export(ex)
        return out

    # -- timers ------------------------------------------------------------------------------------------------
    def next_deadline_s(self) -> float | None:
        best: float | None = None
        for span in self._spans.values():
            if not span.up:
                continue
            for timed in self._timers_of(span):
                d = timed.deadline_s
                if d is not None and (best is None or d < best):
                    best = d
        return best

    def handle_timers(self, now_s: float) -> None:
        for span in self._spans.values():
            if not span.up:
                continue
            for number in list(span.exports):
                ex = self._exports[number]
                if ex.cancel is not None:
                    self._cancel_timer(span, ex.cancel, ("cs", number, 0), now_s, lambda ex=ex: self._close_export(ex))
                    continue
                for cp in list(ex.checkpoints.values()):
                    if cp.deadline_s is not None and cp.deadline_s <= now_s:
                        if cp.tries >= self.config.max_retransmissions:
                            self._cancel_export(ex, CancelReason.RLEXC)
                            break
                        cp.tries += 1
                        cp.deadline_s = None
                        cp.queued = True
                        self.stats["checkpoint_retransmissions"] += 1
                        span.data.appendleft(
                            (number, cp.offset, cp.length, cp.serial, False, cp.eorp and ex.red_len == len(ex.data))
                        )
            for number in list(span.imports):
                key = (span.peer, number)
                im = self._imports[key]
                if im.cancel is not None:
                    self._cancel_timer(span, im.cancel, ("cr", key, 0), now_s, lambda im=im: self._close_import(im))
                    continue
                if im.idle.deadline_s is not None and im.idle.deadline_s <= now_s:
                    if im.delivered or not self._may_have_red(im):
                        self._close_import(im)  # nothing red is missing: green-only or finished
                    else:
                        self._cancel_import(im, CancelReason.SYS_CNCLD)
                    continue
                for rs in list(im.reports.values()):
                    if rs.deadline_s is not None and rs.deadline_s <= now_s:
                        if rs.tries >= self.config.max_retransmissions:
                            self._cancel_import(im, CancelReason.RLEXC)
                            break
                        rs.tries += 1
                        rs.deadline_s = None
                        rs.queued = True
                        self.stats["report_retransmissions"] += 1
                        self._queue_control(span, ("rs", key, rs.serial))

    def _cancel_timer(self, span: _Span, cancel: _Cancel, item, now_s: float, close) -> None:
        if cancel.deadline_s is None or cancel.deadline_s > now_s:
            return
        if cancel.tries >= self.config.max_retransmissions:
            close()  # the peer never acknowledged: give up (the cancellation was already reported)
            return
        cancel.tries += 1
        cancel.deadline_s = None
        self._queue_control(span, item)

    # -- receiving ---------------------------------------------------------------------------------------------
    def has_events(self) -> bool:
        return bool(self._events)

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def receive_datagram(self, datagram: bytes, now_s: float) -> None:
        """Process one received datagram. A malformed one raises `DecodeError` (and changes nothing); one from
        an engine we have no span with is ignored (counted in `stats["unknown_span"]`)."""
        try:
            seg = decode_segment(datagram)
        except (DecodeError, ValueError) as exc:
            self.stats["malformed"] += 1
            if isinstance(exc, DecodeError):
                raise
            raise DecodeError(str(exc), offset=0) from None
        self.stats["segments_received"] += 1
        t = seg.type
        if t in (SegmentType.REPORT, SegmentType.CANCEL_ACK_TO_SENDER, SegmentType.CANCEL_FROM_RECEIVER):
            if seg.engine_id != self.engine_id:
                self.stats["unknown_span"] += 1
                return
            self._sender_side(seg, now_s)
            return
        span = self._spans.get(seg.engine_id)
        if span is None:
            self.stats["unknown_span"] += 1
            return
        if seg.is_data:
            self._on_data(span, seg, now_s)
        elif t == SegmentType.REPORT_ACK:
            im = self._imports.get((span.peer, seg.session_number))
            if im is not None:
                self._touch(im, span, now_s)
                rs = im.reports.pop(int(seg.content), None)  # type: ignore[arg-type]
                if rs is not None:
                    self._maybe_close_import(im)
        elif t == SegmentType.CANCEL_FROM_SENDER:
            self._queue_control(
                span, encode_cancel_ack(SegmentType.CANCEL_ACK_TO_SENDER, span.peer, seg.session_number)
            )
            im = self._imports.get((span.peer, seg.session_number))
            if im is not None:
                if im.cancel is None:
                    self._events.append(ImportCancelled(span.peer, im.number, int(seg.content), True))  # type: ignore[arg-type]
                self._close_import(im, cancelled=True)
        elif t == SegmentType.CANCEL_ACK_TO_RECEIVER:
            im = self._imports.get((span.peer, seg.session_number))
            if im is not None and im.cancel is not None:
                self._close_import(im, cancelled=True)

    def _sender_side(self, seg, now_s: float) -> None:
        number = seg.session_number
        ex = self._exports.get(number)
        peer = ex.peer if ex is not None else self._closed_exports.get(number)
        if peer is None:
            self.stats["unknown_span"] += 1
            return
        span = self._spans[peer]
        t = seg.type
        if t == SegmentType.REPORT:
            rs: ReportContent = seg.content
            self._queue_control(span, encode_report_ack(self.engine_id, number, rs.report_serial))
            if ex is None or ex.cancel is not None:
                return
            self._on_report(ex, span, rs)
        elif t == SegmentType.CANCEL_FROM_RECEIVER:
            self._queue_control(span, encode_cancel_ack(SegmentType.CANCEL_ACK_TO_RECEIVER, self.engine_id, number))
            if ex is not None:
                if ex.cancel is None:
                    self._events.append(ExportCancelled(peer, number, int(seg.content), True))
                self._close_export(ex)
        elif t == SegmentType.CANCEL_ACK_TO_SENDER:
            if ex is not None and ex.cancel is not None:
                self._close_export(ex)

    def _on_report(self, ex: _Export, span: _Span, rs: ReportContent) -> None:
        ex.checkpoints.pop(rs.checkpoint_serial, None)  # answered: its timer stops
        for claim in rs.claims:
            start = rs.lower_bound + claim.offset
            ex.claimed.add(start, min(start + claim.length, ex.red_len))
        if ex.red_done:
            ex.checkpoints.clear()
            if ex.green_unsent == 0:
                self._complete_export(ex)
            return
        scope = (rs.checkpoint_serial, rs.lower_bound, rs.upper_bound)
        if scope in ex.handled_rs:
            # The same report again (retransmitted), or a second answer to a checkpoint we retransmitted
            # because its report was late: its gaps were already resent, and resending them again would only
            # chase data that is still in flight.
            return
        ex.handled_rs.add(scope)
        gaps = ex.claimed.missing(rs.lower_bound, min(rs.upper_bound, ex.red_len))
        if not gaps:
            return
        ex.cycles += 1
        if ex.cycles > self.config.max_retransmission_cycles:
            self._cancel_export(ex, CancelReason.RXMTCYCEXC)
            return
        pieces = []
        for start, end in gaps:
            for s in range(start, end, ex.payload_bytes):
                pieces.append((s, min(end, s + ex.payload_bytes)))
        new_cp = _Checkpoint(
            ex.next_cp, pieces[-1][0], pieces[-1][1] - pieces[-1][0], rs.report_serial, eorp=pieces[-1][1] == ex.red_len
        )
        ex.next_cp += 1
        ex.checkpoints[new_cp.serial] = new_cp
        items = [(ex.number, s, e - s, None, False, False) for s, e in pieces[:-1]]
        items.append(
            (ex.number, new_cp.offset, new_cp.length, new_cp.serial, False, new_cp.eorp and ex.red_len == len(ex.data))
        )
        self.stats["data_retransmitted_bytes"] += sum(e - s for s, e in pieces)
        # Retransmissions go before the data of younger sessions: they hold a session (and its memory) open.
        span.data.extendleft(reversed(items))

    def _on_data(self, span: _Span, seg, now_s: float) -> None:
        key = (span.peer, seg.session_number)
        c: DataContent = seg.content
        im = self._imports.get(key)
        if im is None:
            if key in self._closed_imports:
                red_len = self._closed_imports[key]
                if seg.is_checkpoint and red_len is not None:  # a late checkpoint: everything was received
                    content = ReportContent(
                        self._rng.randrange(1, 2**14), c.checkpoint_serial or 0, red_len, 0, (Claim(0, red_len),)
                    )
                    self._queue_control(span, encode_report(span.peer, seg.session_number, content))
                return
            if len(self._imports) >= self.config.max_import_sessions:
                self._remember_import(key, None)
                self._events.append(ImportCancelled(span.peer, seg.session_number, CancelReason.SYS_CNCLD, False))
                self._queue_control(
                    span,
                    encode_cancel(
                        SegmentType.CANCEL_FROM_RECEIVER, span.peer, seg.session_number, CancelReason.SYS_CNCLD
                    ),
                )
                return
            im = _Import(span.peer, seg.session_number, c.client_service_id, self._rng.randrange(1, 2**14))
            self._imports[key] = im
            span.imports.add(seg.session_number)
        if im.cancel is not None:
            return
        self._touch(im, span, now_s)
        end = c.offset + len(c.data)
        if end > self.config.max_block_bytes:
            self._cancel_import(im, CancelReason.SYS_CNCLD)
            return
        if seg.is_red:
            im.red_seen = True
            if (im.green_start is not None and end > im.green_start) or (im.red_len is not None and end > im.red_len):
                self._cancel_import(im, CancelReason.MISCOLORED)
                return
            if seg.is_eorp:
                if (im.red_len is not None and im.red_len != end) or im.got.within(end, 2**64):
                    self._cancel_import(im, CancelReason.MISCOLORED)
                    return
                im.red_len = end
            if seg.is_eob:
                im.eob = True
            if not im.delivered and c.data and not im.got.covers(c.offset, end):
                if self._import_bytes + len(c.data) > self.config.max_import_bytes:
                    self._cancel_import(im, CancelReason.SYS_CNCLD)
                    return
                im.parts.append((c.offset, bytes(c.data)))
                im.held_bytes += len(c.data)
                self._import_bytes += len(c.data)
                im.got.add(c.offset, end)
            if im.red_complete and not im.delivered:
                im.delivered = True
                block = bytearray(im.red_len)
                for offset, piece in im.parts:
                    block[offset : offset + len(piece)] = piece
                self._release(im)
                data = bytes(block)
                self._events.append(BlockReceived(span.peer, im.number, im.csid, data))
            if seg.is_checkpoint and len(im.reports) < MAX_OPEN_REPORTS:
                self._report(im, span, c, end)
            return
        # green
        if im.red_len is not None and c.offset < im.red_len:
            self._cancel_import(im, CancelReason.MISCOLORED)
            return
        if im.green_start is None or c.offset < im.green_start:
            im.green_start = c.offset
        if seg.is_eob:
            im.eob = True
        self._events.append(GreenReceived(span.peer, im.number, im.csid, c.offset, bytes(c.data), seg.is_eob))
        self._maybe_close_import(im)

    def _report(self, im: _Import, span: _Span, c: DataContent, cp_end: int) -> None:
        """Answer a checkpoint with report segments covering its scope (split to bound their size)."""
        lower, upper = im.scopes.get(c.report_serial or 0, (0, cp_end))
        if im.delivered:
            lower, upper = 0, im.red_len  # type: ignore[assignment]
        held = [(0, im.red_len)] if im.delivered else im.got.within(lower, upper)
        k = self.config.max_claims_per_report
        groups = [held[i : i + k] for i in range(0, len(held), k)] or [[]]
        for i, group in enumerate(groups):
            lo = lower if i == 0 else group[0][0]
            hi = upper if i == len(groups) - 1 else groups[i + 1][0][0]
            serial = im.next_rs
            im.next_rs += 1
            content = ReportContent(
                serial, c.checkpoint_serial or 0, hi, lo, tuple(Claim(s - lo, e - s) for s, e in group)
            )
            im.reports[serial] = _Report(serial, content)
            im.scopes[serial] = (lo, hi)
            if len(im.scopes) > 4 * MAX_OPEN_REPORTS:
                del im.scopes[next(iter(im.scopes))]
            self._queue_control(span, ("rs", (im.peer, im.number), serial))

    def _touch(self, im: _Import, span: _Span, now_s: float) -> None:
        im.idle.deadline_s = now_s + max(self.config.inactivity_s, 2 * self._interval_s(span))

    # -- session ends ------------------------------------------------------------------------------------------
    def _queue_control(self, span: _Span, item) -> None:
        if isinstance(item, bytes) and len(span.control) >= self.config.max_queued_control:
            # A flood of segments that each want a one-shot answer (RA, CAS, CAR, late reports): drop the answer,
            # the peer asks again. Timed items are never dropped: there are at most a few per open session.
            return
        span.control.append(item)

    def _complete_export(self, ex: _Export) -> None:
        self._events.append(ExportCompleted(ex.peer, ex.number))
        self._close_export(ex)

    def _cancel_export(self, ex: _Export, reason: int) -> None:
        ex.cancel = _Cancel(reason)
        ex.checkpoints.clear()
        ex.data = b""
        self._events.append(ExportCancelled(ex.peer, ex.number, int(reason), False))
        self._queue_control(self._spans[ex.peer], ("cs", ex.number, 0))

    def _close_export(self, ex: _Export) -> None:
        if self._exports.pop(ex.number, None) is None:
            return
        self._spans[ex.peer].exports.discard(ex.number)
        self._closed_exports[ex.number] = ex.peer
        while len(self._closed_exports) > self.config.closed_memory:
            self._closed_exports.popitem(last=False)

    def _cancel_import(self, im: _Import, reason: int) -> None:
        im.cancel = _Cancel(reason)
        im.reports.clear()
        self._release(im)
        im.idle.deadline_s = None
        self._events.append(ImportCancelled(im.peer, im.number, int(reason), False))
        self._queue_control(self._spans[im.peer], ("cr", (im.peer, im.number), 0))

    def _release(self, im: _Import) -> None:
        self._import_bytes -= im.held_bytes
        im.parts, im.held_bytes = [], 0

    def _maybe_close_import(self, im: _Import) -> None:
        """Close once nothing is left to say: the red part delivered (or none seen) and every report
        acknowledged, and the end of the block seen (else the inactivity timer closes it quietly)."""
        if im.cancel is not None or im.reports or not im.eob:
            return
        if im.delivered or not self._may_have_red(im):
            self._close_import(im)

    @staticmethod
    def _may_have_red(im: _Import) -> bool:
        """Green data starts where red data ends: green seen above offset 0 means red data may be missing."""
        return im.red_seen or bool(im.green_start)

    def _close_import(self, im: _Import, *, cancelled: bool = False) -> None:
        key = (im.peer, im.number)
        if self._imports.pop(key, None) is None:
            return
        self._release(im)
        self._spans[im.peer].imports.discard(im.number)
        self._remember_import(key, None if cancelled or im.cancel is not None or not im.delivered else im.red_len)

    def _remember_import(self, key: tuple[int, int], red_len: int | None) -> None:
        self._closed_imports[key] = red_len
        self._closed_imports.move_to_end(key)
        while len(self._closed_imports) > self.config.closed_memory:
            self._closed_imports.popitem(last=False)

    # -- introspection (tests, status) -------------------------------------------------------------------------
    def import_bytes(self) -> int:
        """Red data currently held by import sessions (bounded by `max_import_bytes`)."""
        return self._import_bytes

    def session_counts(self) -> tuple[int, int]:
        """(open export sessions, open import sessions)."""
        return len(self._exports), len(self._imports)
