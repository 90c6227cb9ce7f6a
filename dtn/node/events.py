"""The structured event log: one JSON object per line.

Every line has `t_unix_s` (the node's Clock, so virtual time under MockClock), `node` (its node ID) and `event`,
then event fields in a fixed order: `bundle` (the store key), `src`, `dst`, `size_bytes`, `next_hop`, `reason`,
`contact`, ... No wall-clock or random field is ever written, so a run under MockClock is reproducible line for
line. Events:

| event            | when                                                                  |
|------------------|-----------------------------------------------------------------------|
| `started`        | the node is ready (listeners bound, pending bundles reloaded)          |
| `stopped`        | graceful stop finished                                                |
| `received`       | a bundle arrived from a neighbour (`from` = neighbour node number)   |
| `created`        | a local application handed a bundle to the node                       |
| `stored`         | the bundle is durable in the store                                    |
| `routed`         | routing chose a next hop (`next_hop`, `contact`, `arrival_s`)         |
| `no_route`       | routing found no route; the bundle waits (or is deleted)              |
| `fragmented`     | proactive fragmentation (`fragments`, `max_bytes`)                    |
| `forwarded`      | the neighbour acknowledged the whole bundle (`next_hop`)              |
| `forward_failed` | a transfer failed (session dropped); the bundle goes back to routing  |
| `delivered`      | the application acknowledged the bundle (`endpoint`)                  |
| `reassembled`    | all fragments of an ADU arrived                                       |
| `deleted`        | the bundle was deleted (`reason`: RFC 9171 §6.1.1 reason code name)   |
| `status_report`  | a status report about one of our bundles arrived                       |
| `contact_up`     | a session with a neighbour is established (`peer`, `contact`)        |
| `contact_down`   | it ended (`peer`, `reason`)                                            |
| `duplicate`      | a bundle already held (or delivered) arrived again and was dropped    |
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import deque
from typing import Any, Callable, Protocol

from dtn.fsmode import open_private

# Field order on every line; unknown fields follow in the order given.
_ORDER = (
    "t_unix_s",
    "node",
    "event",
    "bundle",
    "src",
    "dst",
    "size_bytes",
    "next_hop",
    "reason",
    "contact",
)

EventSink = Callable[[dict[str, Any]], None]


class _HasUnix(Protocol):
    def unix_s(self) -> float: ...


class EventLog:
    """Emits events to a JSON-lines file and/or in-process sinks; keeps the last `keep` events in memory."""

    def __init__(
        self,
        node: str,
        clock: _HasUnix,
        *,
        path: str | pathlib.Path | None = None,
        sinks: list[EventSink] | None = None,
        keep: int = 1000,
    ) -> None:
        self.node = node
        self._clock = clock
        self._sinks = list(sinks or [])
        self._file = None
        if path is not None:  # 0600: events name bundles, peers and endpoints (docs/security.md)
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            self._file = open(fd, "a", encoding="utf-8", buffering=1)
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self.counts: dict[str, int] = {}

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"t_unix_s": round(self._clock.unix_s(), 6), "node": self.node, "event": event}
        for name in _ORDER[3:]:
            if name in fields and fields[name] is not None:
                record[name] = fields.pop(name)
        for name, value in fields.items():
            if value is not None:
                record[name] = value
        self.counts[event] = self.counts.get(event, 0) + 1
        self.recent.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        for sink in self._sinks:
            sink(record)
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: str | pathlib.Path) -> list[dict[str, Any]]:
    """Every event of a JSON-lines log file (a torn last line, from a killed process, is skipped)."""
    out = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
