"""Two LTP engines joined by the emulator's link model, in virtual time (no sockets, no trio)."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from dtn.ltp import LtpConfig, LtpEngine
from dtn.ltp.engine import BlockReceived, ExportCancelled, ExportCompleted, GreenReceived, ImportCancelled
from dtn.ltp.segments import decode_segment
from dtn.twin.udp_emulator import Impairments, LinkModel


@dataclass
class Outcome:
    sent: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # session -> (block, red bytes)
    delivered: dict[int, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    green: dict[int, list[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(list))
    completed: set[int] = field(default_factory=set)
    export_cancelled: dict[int, list[ExportCancelled]] = field(default_factory=lambda: defaultdict(list))
    import_cancelled: dict[int, list[ImportCancelled]] = field(default_factory=lambda: defaultdict(list))
    seen_by_receiver: set[int] = field(default_factory=set)
    green_transmissions: Counter = field(default_factory=Counter)  # (session, offset) -> times sent
    max_queued: int = 0
    max_imports: int = 0
    end_s: float = 0.0
    quiet: bool = False
    counts: tuple = ()
    import_bytes_left: int = 0


def run_pair(
    blocks: list[tuple[bytes, int]],
    *,
    forward: Impairments,
    backward: Impairments,
    seed: int = 0,
    down: list[tuple[float, float]] = (),
    config: dict | None = None,
    owlt_s: float | None = None,
    rate_segments_per_s: float = 2000.0,
    limit_s: float = 20000.0,
) -> tuple[Outcome, LtpEngine, LtpEngine]:
    """Send `blocks` (data, red bytes) from engine 1 to engine 2 and run until nothing is left to do."""
    cfg = dict(mtu_bytes=300, inactivity_s=60.0, timer_margin_s=0.2, max_retransmissions=8)
    cfg.update(config or {})
    a = LtpEngine(LtpConfig(engine_id=1, **cfg))
    b = LtpEngine(LtpConfig(engine_id=2, **cfg))
    owlt = forward.owlt_s if owlt_s is None else owlt_s
    a.add_span(2, owlt_s=owlt)
    b.add_span(1, owlt_s=owlt)
    links = {1: LinkModel(forward, seed=seed), 2: LinkModel(backward, seed=seed + 1)}
    out = Outcome()
    now = 0.0
    a.set_span_up(2, True, now)
    b.set_span_up(1, True, now)
    for data, red in blocks:
        number = a.send_block(2, data, now, red_bytes=red)
        out.sent[number] = (data, red)
    flights: list[tuple[float, int, int, bytes]] = []
    seq = 0
    gap_s = 1.0 / rate_segments_per_s
    next_tx = {1: 0.0, 2: 0.0}
    windows = sorted(down)

    def link_up(t: float) -> bool:
        return not any(s <= t < e for s, e in windows)

    was_up = True
    while now < limit_s:
        up = link_up(now)
        if up != was_up:
            a.set_span_up(2, up, now)
            b.set_span_up(1, up, now)
            was_up = up
        # transmit one segment per engine per slot
        for engine, peer, src in ((a, 2, 1), (b, 1, 2)):
            if next_tx[src] <= now:
                datagram = engine.next_segment(peer, now)
                if datagram is not None:
                    next_tx[src] = now + gap_s
                    if src == 1:
                        seg = decode_segment(datagram)
                        if seg.is_data and not seg.is_red:
                            out.green_transmissions[(seg.session_number, seg.content.offset)] += 1
                    for t in links[src].transmit(now) if up else []:
                        seq += 1
                        heapq.heappush(flights, (t, seq, peer, datagram))
        while flights and flights[0][0] <= now:
            _, _, dst, datagram = heapq.heappop(flights)
            if dst == 2:
                seg = decode_segment(datagram)
                if seg.is_data:
                    out.seen_by_receiver.add(seg.session_number)
                b.receive_datagram(datagram, now)
            else:
                a.receive_datagram(datagram, now)
        for engine in (a, b):
            d = engine.next_deadline_s()
            if d is not None and d <= now:
                engine.handle_timers(now)
        for e in a.events():
            if isinstance(e, ExportCompleted):
                out.completed.add(e.session_number)
            elif isinstance(e, ExportCancelled):
                out.export_cancelled[e.session_number].append(e)
        for e in b.events():
            if isinstance(e, BlockReceived):
                out.delivered[e.session_number].append(e.data)
            elif isinstance(e, GreenReceived):
                out.green[e.session_number].append((e.offset, e.data))
            elif isinstance(e, ImportCancelled):
                out.import_cancelled[e.session_number].append(e)
        out.max_queued = max(out.max_queued, a.queued_segments(2), b.queued_segments(1))
        out.max_imports = max(out.max_imports, b.session_counts()[1])
        # next instant something can happen
        pending = a.has_pending(2) or b.has_pending(1)
        candidates = [
            t for t in (flights[0][0] if flights else None, a.next_deadline_s(), b.next_deadline_s()) if t is not None
        ]
        if pending and up:
            candidates.append(min(next_tx.values()) if min(next_tx.values()) > now else now + gap_s)
        for s, e in windows:
            for edge in (s, e):
                if edge > now:
                    candidates.append(edge)
        if not candidates:
            out.quiet = True
            break
        now = max(min(candidates), now + 1e-6)
    out.end_s = now
    out.counts = (a.session_counts(), b.session_counts())
    out.import_bytes_left = b.import_bytes()
    return out, a, b
