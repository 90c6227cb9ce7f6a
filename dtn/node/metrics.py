"""Prometheus metrics of one node, fed from its event log, served over HTTP by a small Trio handler.

Each node has its own `CollectorRegistry` (the digital twin runs many nodes in one process). The exposition
text comes from prometheus-client's `generate_latest`; the HTTP side is a minimal GET handler on a Trio
listener, so no thread is started and the node stays cancellable.
"""

from __future__ import annotations

from typing import Any, Callable

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

_MAX_REQUEST_BYTES = 8192


class NodeMetrics:
    """Counters per event kind plus gauges read from the node on each scrape."""

    def __init__(self, node_id: str, gauges: Callable[[], dict[str, float]]) -> None:
        self.registry = CollectorRegistry()
        self._gauges_source = gauges
        self.events = Counter("dtn_events", "Node events by kind (see docs/node.md)", ["event"], registry=self.registry)
        self.deleted = Counter(
            "dtn_bundles_deleted", "Bundles deleted, by RFC 9171 reason", ["reason"], registry=self.registry
        )
        self.bytes_forwarded = Counter(
            "dtn_forwarded_bytes", "Encoded bundle bytes acknowledged by neighbours", registry=self.registry
        )
        self._gauges = {
            name: Gauge(f"dtn_{name}", help_text, registry=self.registry)
            for name, help_text in (
                ("store_bundles", "Bundles in the store"),
                ("store_bytes", "Bytes in the store"),
                ("sessions_up", "Established CLA sessions"),
                ("pending_delivery", "Bundles waiting for a local application"),
            )
        }

    def on_event(self, record: dict[str, Any]) -> None:
        event = record["event"]
        self.events.labels(event=event).inc()
        if event == "deleted":
            self.deleted.labels(reason=str(record.get("reason", "unknown"))).inc()
        elif event == "forwarded":
            self.bytes_forwarded.inc(record.get("size_bytes", 0))

    def render(self) -> bytes:
        for name, value in self._gauges_source().items():
            gauge = self._gauges.get(name)
            if gauge is not None:
                gauge.set(value)
        return generate_latest(self.registry)

    async def serve(self, host: str, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.abc.Stream) -> None:
        try:
            with trio.move_on_after(5):
                request = b""
                while b"\r\n\r\n" not in request and len(request) < _MAX_REQUEST_BYTES:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        return
                    request += chunk
                line = request.split(b"\r\n", 1)[0].split()
                if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] in (b"/metrics", b"/"):
                    body = self.render()
                    head = f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
                else:
                    body = b"not found\n"
                    head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                await stream.send_all(head.encode() + body)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()
