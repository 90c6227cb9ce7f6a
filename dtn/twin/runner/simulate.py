"""The digital twin: every node of a plan in one process, in virtual time.

All nodes run the real node code (`dtn.node.Node`) under Trio's `MockClock(autojump_threshold=0)`: whenever every
task is waiting, virtual time jumps to the next deadline, so a day of a constellation runs in seconds. Nodes talk
real TCPCLv4 bytes over in-memory streams through the same link emulation (`dtn.twin.runner.linkemu`) that `dtn replay`
puts between real processes, with the same per-link schedule and faults (`dtn.twin`).

Deterministic by design (docs/replay.md): every timestamp is virtual and nothing reads the wall clock; the events of
one virtual instant are written in a canonical order (`dtn.node.testing.canonical_order`), not in the order Trio
happened to run the tasks; the log covers [start, end): the end instant and the shutdown write nothing. So the
same inputs and seed give byte-identical output files. Trio's own scheduler is never seeded or touched.
"""

from __future__ import annotations

import json
import pathlib
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import trio
import trio.testing

from contact_plans.model import ContactPlan
from dtn.errors import DtnError
from dtn.node.clock import TrioClock
from dtn.node.config import BundleDefaults, NeighbourConfig, NodeConfig, RoutingConfig
from dtn.twin.runner.linkemu import LinkEmulator
from dtn.node.node import Node
from dtn.node.testing import VirtualClock, canonical_order
from dtn.store import BundleStore, MemoryStore, open_store
from dtn.twin.links import LinkSchedule
from dtn.twin.workload import SendEvent, Workload


@dataclass
class SimulationOptions:
    start_s: float = 0.0
    duration_s: float | None = None  # default: to the plan's last contact end
    store: str = "memory"  # memory | sqlite
    seed: int = 0
    shape_rate: bool = True
    fragment: bool = True
    progress: bool = False
    progress_callback: Callable[[float, float], None] | None = None
    archive: Any = None  # a dtn.archive.workload.ArchiveWorkload: run the archive service and its workload


@dataclass
class SimulationRun:
    """What a run leaves behind (also written to the run directory)."""

    out_dir: pathlib.Path
    events: list[dict] = field(default_factory=list)
    sends: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def endpoints_by_node(workload: Workload) -> dict[int, set[str]]:
    """The application endpoints the traffic sends to, per destination node."""
    out: dict[int, set[str]] = {}
    for flow in workload.flows:
        for dst in flow.destinations:
            out.setdefault(dst, set()).add(f"ipn:{dst}.{flow.service}")
    return out


def predicted_arrival(router, send: SendEvent) -> float | None:
    """CGR's best arrival (plan seconds) for this send on the unloaded plan, or None when there is no route."""
    try:
        route = router.best_route(send.source, send.destination, send.t_s, send.size_bytes)
    except DtnError:  # a node without contacts is unknown to the router: no route
        return None
    return None if route is None else round(route.arrival_s, 6)


class DigitalTwin:
    """Runs a plan and a workload in virtual time; `await twin.run()` inside `trio.run(..., clock=MockClock)`."""

    def __init__(self, plan: ContactPlan, workload: Workload, out_dir: pathlib.Path, options: SimulationOptions):
        self.plan = plan
        self.workload = workload
        self.out_dir = pathlib.Path(out_dir)
        self.options = options
        self.schedule = LinkSchedule(plan, workload.faults)
        self.end_s = options.start_s + (
            options.duration_s if options.duration_s is not None else max(0.0, plan.end_s - options.start_s)
        )
        self.nodes: dict[int, Node] = {}
        self.stores: dict[int, BundleStore] = {}
        self.scopes: dict[int, trio.CancelScope] = {}
        self.events: list[dict] = []
        self.sends: list[dict] = []
        self.endpoints = endpoints_by_node(workload)
        self.neighbours: dict[int, set[int]] = {n.number: set() for n in plan.nodes}
        for a, b in self.schedule.pairs():
            self.neighbours.setdefault(a, set()).add(b)
            self.neighbours.setdefault(b, set()).add(a)
        self._nursery: trio.Nursery | None = None
        self._log_closed = False  # set at the end instant: what the end instant and the shutdown emit is not logged
        self.clock: TrioClock | None = None
        self.emulator: LinkEmulator | None = None
        self.archive = None  # the archive workload driver (docs/archive.md), when options.archive is set
        if options.archive is not None:
            from dtn.twin.runner.archive import ArchiveTwinDriver

            self.archive = ArchiveTwinDriver(self, options.archive)

    # -- plumbing ------------------------------------------------------------------------------------------------
    def plan_now_s(self) -> float:
        return self.clock.unix_s() - self.plan.epoch_unix_s

    def _sink(self, record: dict) -> None:
        if not self._log_closed:
            self.events.append(record)

    def _config(self, number: int) -> NodeConfig:
        # No keepalives in the twin: the link emulator closes sessions when links drop, and keepalive traffic on
        # every long-lived ISL session would dominate the run time. Dial retries back off to a minute.
        routing = RoutingConfig(rate_limit=False, fragment=self.options.fragment, keepalive_s=0, retry_max_s=60.0)
        return NodeConfig.minimal(
            number,
            endpoints=tuple(sorted(self.endpoints.get(number, ()))),
            neighbours={p: NeighbourConfig(node=p, address=None) for p in sorted(self.neighbours.get(number, ()))},
            routing=routing,
            bundles=BundleDefaults(crc_type=2),  # CRC-32C (hardware): the same protection, cheaper per hop
            archive=self.archive.config_for(number) if self.archive else None,
        )

    def _store(self, number: int) -> BundleStore:
        store = self.stores.get(number)
        if store is None:
            if self.options.store == "sqlite":
                (self.out_dir / "stores").mkdir(parents=True, exist_ok=True)
                store = open_store(self.out_dir / "stores" / f"node{number}.db")
            else:
                store = MemoryStore()
            self.stores[number] = store
        return store

    def _dialer(self, number: int):
        async def dial(peer: int, address: str | None) -> trio.abc.Stream:
            # Nodes start one after the other at the same virtual instant: a node dialling at the start must
            # not find its peer missing only because Trio ran it before the peer was started (determinism).
            await self._all_started.wait()
            target = self.nodes.get(peer)
            if target is None or not self.schedule.is_up(number, peer, self.plan_now_s()):
                raise ConnectionRefusedError(f"link {number}-{peer} is down")
            ends = self.emulator.open_memory_link(number, peer, self._nursery)
            if ends is None:
                raise ConnectionRefusedError(f"link {number}-{peer} is down")
            near, far = ends
            self._nursery.start_soon(self._serve_inbound, peer, far)
            return near

        return dial

    async def _serve_inbound(self, peer: int, stream: trio.abc.Stream) -> None:
        node = self.nodes.get(peer)
        scope = self.scopes.get(peer)
        if node is None or scope is None or scope.cancel_called:
            await trio.aclose_forcefully(stream)
            return
        try:
            await node.handle_inbound(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _run_node(self, number: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            self.scopes[number] = scope
            async with trio.open_nursery() as nursery:
                node = Node(
                    self._config(number),
                    clock=self.clock,
                    store=self._store(number),
                    dialer=self._dialer(number),
                    plan=self.plan,
                    event_sink=self._sink,
                    archive_db=self.archive.db_for(number) if self.archive else None,
                )
                self.nodes[number] = node
                await nursery.start(node.run)
                for endpoint in sorted(self.endpoints.get(number, ())):
                    nursery.start_soon(self._application, node, endpoint)
                task_status.started()

    async def _application(self, node: Node, endpoint: str) -> None:
        """A receiving application: takes every bundle delivered to `endpoint` and acknowledges it."""
        while True:
            item = await node.next_delivery(endpoint)
            if item is not None:
                await node.acknowledge_delivery(item["bundle"])

    # -- faults that need process control ------------------------------------------------------------------------
    async def _kill_and_restart(self, number: int, at_s: float, restart_after_s: float | None) -> None:
        await self._sleep_until_plan(at_s)
        scope = self.scopes.get(number)
        if scope is None:
            return
        self._sink(self._marker("killed", number))
        scope.cancel()
        self.nodes.pop(number, None)
        if restart_after_s is None:
            return
        await self._sleep_until_plan(at_s + restart_after_s)
        self._sink(self._marker("restarting", number))
        await self._nursery.start(self._run_node, number)

    def _marker(self, event: str, number: int) -> dict:
        return {"t_unix_s": round(self.clock.unix_s(), 6), "node": f"ipn:{number}.0", "event": event}

    async def _sleep_until_plan(self, t_s: float) -> None:
        await self.clock.sleep_until(t_s - self.options.start_s)

    # -- traffic -------------------------------------------------------------------------------------------------
    async def _traffic(self) -> None:
        from dtn.node.bundles import make_router

        oracle = make_router(self.plan)  # predictions on the unloaded plan (a copy: no node's bookings)
        payload_cache: dict[int, bytes] = {}
        for send in self.workload.sends():
            if send.t_s < self.options.start_s or send.t_s >= self.end_s:
                continue
            await self._sleep_until_plan(send.t_s)
            node = self.nodes.get(send.source)
            record = {
                "t_s": round(self.plan_now_s(), 6),
                "flow": send.flow,
                "index": send.index,
                "src": send.source,
                "dst": send.destination,
                "size_bytes": send.size_bytes,
                "predicted_arrival_s": predicted_arrival(oracle, send),
            }
            if node is None:
                record.update(bundle=None, error="source node is down")
                if not self._log_closed:
                    self.sends.append(record)
                continue
            payload = payload_cache.get(send.size_bytes)
            if payload is None:
                payload = payload_cache[send.size_bytes] = bytes(send.size_bytes)
            try:
                result = await node.send_from_application(
                    f"ipn:{send.destination}.{send.service}", payload, lifetime_s=send.lifetime_s
                )
            except DtnError as exc:  # a refused bundle (e.g. storage full) is a result, not a crash
                record.update(bundle=None, error=str(exc)[:200])
            else:
                record["bundle"] = result["bundle"]
            if not self._log_closed:
                self.sends.append(record)

    async def _progress(self) -> None:
        total = self.end_s - self.options.start_s
        step = max(1.0, total / 200)
        while True:
            done = self.plan_now_s() - self.options.start_s
            if self.options.progress_callback:
                self.options.progress_callback(min(done, total), total)
            await self._sleep_until_plan(self.plan_now_s() + step)

    # -- the run -------------------------------------------------------------------------------------------------
    async def run(self) -> SimulationRun:
        self.clock = TrioClock(unix_at_zero_s=self.plan.epoch_unix_s + self.options.start_s)
        self._all_started = trio.Event()
        self.emulator = LinkEmulator(
            self.schedule, self.clock, self.plan.epoch_unix_s, shape_rate=self.options.shape_rate
        )
        self.emulator.count_until = self.emulator.clock_deadline(self.end_s)  # the record covers [start, end)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for node in sorted(self.plan.nodes, key=lambda n: n.number):
                await nursery.start(self._run_node, node.number)
            self._all_started.set()
            for fault in self.workload.faults:
                if fault.kind == "kill_node":
                    nursery.start_soon(self._kill_and_restart, fault.node, fault.at_s, fault.restart_after_s)
            nursery.start_soon(self._traffic)
            if self.archive is not None:
                nursery.start_soon(self.archive.run)
            if self.options.progress_callback:
                nursery.start_soon(self._progress)
            await self._sleep_until_plan(self.end_s)
            # Tasks ready at the end instant run before or after this one in Trio's (random) order: so nothing of
            # the end instant is logged, nor anything the cancellation below makes the nodes emit.
            self._log_closed = True
            self.events = [e for e in self.events if e["t_unix_s"] < round(self.clock.unix_s(), 6)]
            if self.options.progress_callback:
                self.options.progress_callback(self.end_s - self.options.start_s, self.end_s - self.options.start_s)
            nursery.cancel_scope.cancel()
        for store in self.stores.values():
            store.close()
        return self._write()

    def _write(self) -> SimulationRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        links = []
        for (a, b, start_s), rec in sorted(self.emulator.traffic.items()):
            w = rec.window
            links.append(
                {
                    "a": a,
                    "b": b,
                    "start_s": w.start_s,
                    "end_s": w.end_s,
                    "bytes_ab": rec.bytes_ab,
                    "bytes_ba": rec.bytes_ba,
                    "capacity_ab_bytes": round(rec.capacity_ab_bytes),
                    "capacity_ba_bytes": round(rec.capacity_ba_bytes),
                    "sessions": rec.sessions,
                }
            )
        meta = {
            "scenario": self.plan.name or "plan",
            "mode": "simulate",
            "plan_epoch_unix_s": self.plan.epoch_unix_s,
            "start_s": self.options.start_s,
            "end_s": self.end_s,
            "seed": self.options.seed,
            "store": self.options.store,
            "nodes": {str(n.number): n.name or f"ipn:{n.number}.0" for n in self.plan.nodes},
        }
        self.events = canonical_order(self.events)
        self.sends = canonical_order(self.sends, time_key="t_s")
        _write_jsonl(self.out_dir / "events.jsonl", self.events)
        _write_jsonl(self.out_dir / "sends.jsonl", self.sends)
        _write_jsonl(self.out_dir / "links.jsonl", links)
        if self.archive is not None:
            from dtn.archive.workload import summarize

            _write_jsonl(self.out_dir / "archive.jsonl", self.archive.finish())
            meta["archive"] = {
                "mode": self.options.archive.mode,
                "acks": self.archive.acks(),
                **summarize([r for r in self.archive.records if r["kind"] == "get"]),
            }
        (self.out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
        return SimulationRun(self.out_dir, self.events, self.sends, links, meta)


def _write_jsonl(path: pathlib.Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")


def simulate(
    plan: ContactPlan, workload: Workload, out_dir: str | pathlib.Path, options: SimulationOptions | None = None
) -> SimulationRun:
    """Run the digital twin to completion (blocking); returns the run, also written to `out_dir`."""
    options = options or SimulationOptions()
    twin = DigitalTwin(plan, workload, pathlib.Path(out_dir), options)
    # Python's global `random` is seeded for code that draws from it during the run (and restored after); Trio's
    # scheduler is not touched: ordering is made canonical by the twin itself (see the module docstring).
    random_state = random.getstate()
    random.seed(options.seed)
    try:
        return trio.run(twin.run, clock=VirtualClock())
    finally:
        random.setstate(random_state)
