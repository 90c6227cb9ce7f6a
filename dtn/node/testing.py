"""Run several nodes in one Trio run, linked by in-memory streams (tests, examples, virtual time).

    async with MemoryNetwork(plan, clock=TrioClock(plan.epoch_unix_s)) as net:   # under MockClock(autojump_threshold=0)
        a = await net.start_node(1)
        await net.start_node(2)
        await a.send_from_application("ipn:2.1", b"hi")
        await net.wait_for_event("delivered") ...

Each node dials its neighbours through `MemoryNetwork.dialer(node)`: a `trio.testing.memory_stream_pair` whose
far end is served by the neighbour's `Node.handle_inbound`. `cut(a, b)` breaks every live stream between two
nodes (a link lost mid-transfer); `block(a, b)` also refuses new dials until `unblock(a, b)`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import trio
import trio.testing

from contact_plans.model import ContactPlan
from dtn.errors import ClaError
from dtn.node.clock import Clock, move_on_after
from dtn.node.config import NodeConfig
from dtn.node.node import Node
from dtn.store import BundleStore, MemoryStore


def canonical_order(records: list[dict[str, Any]], time_key: str = "t_unix_s") -> list[dict[str, Any]]:
    """The records in canonical order: by virtual time, and within one virtual instant by their JSON text.

    Trio deliberately runs the tasks that are ready at the same moment in a random order (to shake out ordering
    assumptions). Under a MockClock nothing else varies between runs, so the events of one instant are the same
    set each run but may be emitted in another order; sorting each instant's events by a total order of their
    content (not by emission order, not by seeding Trio) makes two runs' logs byte-identical. Stable and pure.
    """
    return sorted(records, key=lambda r: (r.get(time_key, 0.0), json.dumps(r, sort_keys=True, default=str)))


class VirtualClock(trio.abc.Clock):
    """Virtual time for the twin, through Trio's public `trio.abc.Clock` interface: when Trio is about to wait
    for I/O with no task runnable, time moves *exactly* to the next deadline.

    `trio.testing.MockClock(autojump_threshold=0)` does the same by adding the distance to the next deadline to a
    running offset, so virtual time drifts from the deadlines by float rounding, by a different amount in each
    run (the jumps depend on which waits happened to be armed). A deadline computed two ways (a node's contact
    end, the link emulator's) then compares one way in one run and the other way in the next. Here
    `current_time()` is always a deadline some task asked for. No wall clock is read; with no deadline at all
    (only I/O or threads pending) Trio waits for them in real time, virtual time standing still.
    """

    _IDLE_WAIT_S = 1.0

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self._now_s

    def deadline_to_sleep_time(self, deadline: float) -> float:
        # Trio asks this just before it blocks waiting for I/O: the moment to move time on.
        if deadline <= self._now_s:
            return 0.0
        if deadline == math.inf:
            return self._IDLE_WAIT_S
        self._now_s = deadline
        return 0.0


class _CuttableStream(trio.abc.Stream):
    """A stream that can be broken from outside (both directions fail at once)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.broken = False

    async def send_all(self, data) -> None:
        if self.broken:
            raise trio.BrokenResourceError("link cut")
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes=None) -> bytes:
        if self.broken:
            raise trio.BrokenResourceError("link cut")
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def cut(self) -> None:
        """Break the stream now: our pending and future calls fail, the far end sees end of stream."""
        self.broken = True
        self.inner.send_stream.close()  # memory_stream_pair gives a StapledStream of memory streams
        self.inner.receive_stream.close()


class MemoryNetwork:
    """Nodes of one plan in one process, sharing `clock`; events of all nodes collected in `events`."""

    def __init__(self, plan: ContactPlan, *, clock: Clock, configs: dict[int, NodeConfig] | None = None) -> None:
        self.plan = plan
        self.clock = clock
        self.configs = dict(configs or {})
        self.nodes: dict[int, Node] = {}
        self.stores: dict[int, BundleStore] = {}
        self.events: list[dict[str, Any]] = []
        self._event_wake = trio.Event()
        self._streams: dict[tuple[int, int], list[_CuttableStream]] = {}
        self._blocked: set[tuple[int, int]] = set()
        self._nursery: trio.Nursery | None = None

    async def __aenter__(self) -> "MemoryNetwork":
        self._cm = trio.open_nursery()
        self._nursery = await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        for node in self.nodes.values():
            node.request_stop()
        return await self._cm.__aexit__(*exc)

    def _sink(self, record: dict[str, Any]) -> None:
        self.events.append(record)
        self._event_wake.set()
        self._event_wake = trio.Event()

    def dialer(self, number: int):
        async def dial(peer: int, address: str | None) -> trio.abc.Stream:
            key = (min(number, peer), max(number, peer))
            target = self.nodes.get(peer)
            if target is None or key in self._blocked:
                raise ClaError(f"node {peer} unreachable")
            a, b = trio.testing.memory_stream_pair()
            ca, cb = _CuttableStream(a), _CuttableStream(b)
            self._streams.setdefault(key, []).extend([ca, cb])
            self._nursery.start_soon(target.handle_inbound, cb)
            return ca

        return dial

    async def start_node(self, number: int, *, store: BundleStore | None = None, **config: Any) -> Node:
        """Start node `number` (config from `configs`, else a minimal one); returns once it is ready."""
        cfg = self.configs.get(number) or NodeConfig.minimal(number, **config)
        if store is None:
            store = self.stores.get(number) or MemoryStore()
        self.stores[number] = store
        node = Node(
            cfg, clock=self.clock, store=store, dialer=self.dialer(number), plan=self.plan, event_sink=self._sink
        )
        self.nodes[number] = node
        await self._nursery.start(node.run)
        return node

    async def stop_node(self, number: int) -> None:
        node = self.nodes.pop(number)
        node.request_stop()
        await node.finished.wait()

    def cut(self, a: int, b: int) -> None:
        for stream in self._streams.pop((min(a, b), max(a, b)), []):
            stream.cut()

    def block(self, a: int, b: int) -> None:
        self._blocked.add((min(a, b), max(a, b)))
        self.cut(a, b)

    def unblock(self, a: int, b: int) -> None:
        self._blocked.discard((min(a, b), max(a, b)))

    async def wait_for(self, predicate, *, timeout_s: float = math.inf) -> dict[str, Any]:
        """Wait until an event matching `predicate(record)` has been emitted (searching past events first)."""
        with trio.fail_after(timeout_s):
            seen = 0
            while True:
                for record in self.events[seen:]:
                    if predicate(record):
                        return record
                seen = len(self.events)
                await self._event_wake.wait()

    def canonical_events(self) -> list[dict[str, Any]]:
        """`events` in canonical order (see `canonical_order`): identical across runs of the same scenario."""
        return canonical_order(self.events)

    def of(self, event: str, node: int | None = None) -> list[dict[str, Any]]:
        node_id = None if node is None else f"ipn:{node}.0"
        return [e for e in self.events if e["event"] == event and (node_id is None or e["node"] == node_id)]


async def receive_within(node: Node, endpoint: str, duration_s: float) -> dict[str, Any] | None:
    """`node.next_delivery(endpoint)` bounded by a cancel scope of `duration_s` on the node's clock; None
    when nothing arrived in time."""
    with move_on_after(node.clock, duration_s):
        return await node.next_delivery(endpoint)
    return None
