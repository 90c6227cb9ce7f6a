"""`dtn replay`: a contact plan played by real `dtn node run` processes on the wall clock.

The controller (this module) writes one config per node into the run directory, scales the plan by `speed`
(plan seconds / speed = wall seconds; rates x speed, OWLT / speed, lifetimes / speed), starts one OS process per
node, and puts a link emulator (`dtn.twin.runner.linkemu`) between every pair of neighbours: the lower-numbered node of
a pair dials the emulator's loopback port, the emulator connects to the other node's real TCPCLv4 listener and
carries bytes only while the scaled schedule (plan + faults) says the link is up. Applications are driven
through the agent API. Faults reach the nodes only as links that drop or never come up, and as SIGKILL/restart.

At the end every process is stopped (SIGTERM, then SIGKILL), also on Ctrl-C or error, and the event logs are
mapped back to plan time so `dtn report` reads a replay like a simulation.
"""

from __future__ import annotations

import json
import pathlib
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Callable

import trio

from contact_plans.formats import save_plan
from contact_plans.model import Contact, ContactPlan
from dtn.client import Client
from dtn.errors import ClientError, DtnError, ScenarioError
from dtn.node.clock import TrioClock
from dtn.twin.runner.linkemu import LinkEmulator
from dtn.twin.runner.process import NodeProcess
from dtn.twin.runner.simulate import endpoints_by_node, predicted_arrival
from dtn.twin.replaylag import LagMeter
from dtn.twin.links import LinkSchedule
from dtn.twin.workload import Fault, Workload


@dataclass
class ReplayOptions:
    speed: float = 600.0
    start_s: float = 0.0
    duration_s: float | None = None
    shape_rate: bool = False
    lead_in_s: float | None = None  # wall seconds between launching and plan start (default: grows with nodes)
    drain_s: float = 2.0  # wall seconds after the end before nodes are stopped
    progress_callback: Callable[[float, float], None] | None = None


def scale_plan(plan: ContactPlan, *, start_s: float, speed: float, epoch_unix_s: float) -> ContactPlan:
    """The plan as the nodes see it: time zero at `epoch_unix_s` (wall), `speed` times faster."""
    import datetime as dt

    contacts = [
        Contact(
            c.from_node,
            c.to_node,
            (c.start_s - start_s) / speed,
            (c.end_s - start_s) / speed,
            c.rate_bytes_per_s * speed,
            c.owlt_s / speed,
            c.confidence,
        )
        for c in plan.contacts
    ]
    epoch = dt.datetime.fromtimestamp(epoch_unix_s, tz=dt.timezone.utc)
    return ContactPlan(epoch=epoch, nodes=plan.nodes, contacts=contacts, name=plan.name)


def scale_faults(faults: list[Fault], *, start_s: float, speed: float) -> list[Fault]:
    def t(x: float | None) -> float | None:
        return None if x is None else (x - start_s) / speed

    return [
        replace(
            f,
            at_s=t(f.at_s),
            from_s=t(f.from_s),
            to_s=t(f.to_s),
            restart_after_s=None if f.restart_after_s is None else f.restart_after_s / speed,
        )
        for f in faults
    ]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


class Replay:
    def __init__(self, plan: ContactPlan, workload: Workload, out_dir: pathlib.Path, options: ReplayOptions) -> None:
        if not options.speed > 0:
            raise ScenarioError("speed must be positive")
        self.plan = plan
        self.workload = workload
        self.out_dir = pathlib.Path(out_dir)
        self.options = options
        self.end_s = options.start_s + (
            options.duration_s if options.duration_s is not None else max(0.0, plan.end_s - options.start_s)
        )
        self.endpoints = endpoints_by_node(workload)
        self.procs: dict[int, NodeProcess] = {}
        self.configs: dict[int, pathlib.Path] = {}
        self.sends: list[dict] = []
        self.markers: list[dict] = []
        self.pids: list[int] = []  # every node process started (restarts included), for the record
        self.sock_dir = pathlib.Path(tempfile.mkdtemp(prefix="dtn-replay-"))
        self.t0_wall = 0.0
        self.lag = LagMeter(options.speed)  # how late the scheduled actions run (docs/replay.md)
        self.emulator: LinkEmulator | None = None

    # -- time ----------------------------------------------------------------------------------------------------
    def plan_now_s(self) -> float:
        return self.options.start_s + (time.time() - self.t0_wall) * self.options.speed

    async def sleep_until_plan(self, t_s: float) -> None:
        wall = self.t0_wall + (t_s - self.options.start_s) / self.options.speed
        await trio.sleep(max(0.0, wall - time.time()))
        self.lag.record(time.time() - wall)

    def to_plan_s(self, t_unix_s: float) -> float:
        return self.options.start_s + (t_unix_s - self.t0_wall) * self.options.speed

    # -- setup ---------------------------------------------------------------------------------------------------
    def _write_configs(self, scaled: ContactPlan, pair_ports: dict[tuple[int, int], int]) -> None:
        """Configs for every node: neighbours reached through the emulator port of each pair (low, high); each
        node's own listener binds a free port (read from its ready line)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "stores").mkdir(exist_ok=True)
        for old in self.out_dir.glob("events-*.jsonl"):
            old.unlink()
        save_plan(scaled, self.out_dir / "plan-scaled.json", "json")
        neighbours: dict[int, dict[int, str]] = {n.number: {} for n in self.plan.nodes}
        for (a, b), port in pair_ports.items():
            neighbours[a][b] = f"127.0.0.1:{port}"  # a < b: a dials through the emulator
            neighbours[b][a] = None
        for node in self.plan.nodes:
            n = node.number
            lines = [
                f"# {node.name or n}: written by dtn replay",
                "[node]",
                f'id = "ipn:{n}.0"',
                "endpoints = [" + ", ".join(f'"{e}"' for e in sorted(self.endpoints.get(n, ()))) + "]",
                "[store]",
                f'path = "{(self.out_dir / "stores" / f"node{n}.db").resolve()}"',
                "[plan]",
                f'file = "{(self.out_dir / "plan-scaled.json").resolve()}"',
                "[[listen]]",
                'cla = "tcpcl"',
                'host = "127.0.0.1"',
                "port = 0",
                "[agent]",
                f'socket = "{self.sock_dir / f"n{n}.sock"}"',
                "[routing]",
                "retry_min_s = 0.05",
                "retry_max_s = 0.5",
                f"rate_limit = {'true' if self.options.shape_rate else 'false'}",
                "[log]",
                f'events = "{(self.out_dir / f"events-{n}.jsonl").resolve()}"',
            ]
            for peer, address in sorted(neighbours[n].items()):
                lines.append(f"[neighbours.{peer}]")
                if address is not None:
                    lines.append(f'address = "{address}"')
                    lines.append('dial = "always"')
                else:
                    lines.append('dial = "never"')
            path = self.out_dir / f"node{n}.toml"
            path.write_text("\n".join(lines) + "\n")
            self.configs[n] = path

    async def _start_node(self, n: int) -> None:
        log = self.out_dir / f"node{n}.log"
        proc = await trio.to_thread.run_sync(lambda: NodeProcess.start(self.configs[n], log_path=log, timeout_s=120))
        self.procs[n] = proc
        self.pids.append(proc.pid)
        # Written as processes start, so an operator (or a test) can check that none outlives the replay,
        # also when it is interrupted before meta.json is written.
        (self.out_dir / "pids.json").write_text(json.dumps(self.pids))

    # -- drivers -------------------------------------------------------------------------------------------------
    async def _client(self, n: int) -> Client:
        proc = self.procs.get(n)
        if proc is None or not proc.alive():
            raise ClientError(f"node {n} is down")
        return await Client.connect(proc.agent, timeout_s=5, token_file=proc.ready.get("agent_token_file"))

    async def _traffic(self) -> None:
        from routing import Router

        oracle = Router(self.plan)
        clients: dict[int, Client] = {}
        scaled_lifetime = 1.0 / self.options.speed
        try:
            for send in self.workload.sends():
                if send.t_s < self.options.start_s or send.t_s >= self.end_s:
                    continue
                await self.sleep_until_plan(send.t_s)
                record = {
                    "t_s": round(send.t_s, 6),
                    "flow": send.flow,
                    "index": send.index,
                    "src": send.source,
                    "dst": send.destination,
                    "size_bytes": send.size_bytes,
                    "predicted_arrival_s": predicted_arrival(oracle, send),
                }
                for attempt in range(2):
                    try:
                        client = clients.get(send.source)
                        if client is None:
                            client = clients[send.source] = await self._client(send.source)
                        result = await client.send(
                            f"ipn:{send.destination}.{send.service}",
                            bytes(send.size_bytes),
                            lifetime_s=max(0.001, send.lifetime_s * scaled_lifetime),
                        )
                        record["bundle"] = result.bundle
                        break
                    except (DtnError, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        stale = clients.pop(send.source, None)
                        if stale is not None:
                            with trio.CancelScope(shield=True):
                                await _quiet_close(stale)
                        record.update(bundle=None, error=str(exc)[:200])
                self.sends.append(record)
        finally:
            for client in clients.values():
                with trio.CancelScope(shield=True):
                    await _quiet_close(client)

    async def _application(self, n: int, endpoint: str) -> None:
        """Receive and acknowledge every bundle for `endpoint`; reconnect when the node restarts."""
        while True:
            try:
                client = await self._client(n)
            except (DtnError, OSError):
                await trio.sleep(0.2)
                continue
            try:
                async with client:
                    await client.register(endpoint)
                    while True:
                        delivery = await client.receive(endpoint, timeout_s=5.0)
                        if delivery is not None:
                            await client.ack(delivery)
            except (DtnError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await trio.sleep(0.2)

    async def _kill_and_restart(self, fault: Fault) -> None:
        await self.sleep_until_plan(fault.at_s)
        proc = self.procs.pop(fault.node, None)
        if proc is None:
            return
        self.markers.append({"t_unix_s": time.time(), "node": f"ipn:{fault.node}.0", "event": "killed"})
        proc.kill()
        if fault.restart_after_s is None:
            return
        await self.sleep_until_plan(fault.at_s + fault.restart_after_s)
        self.markers.append({"t_unix_s": time.time(), "node": f"ipn:{fault.node}.0", "event": "restarting"})
        await self._start_node(fault.node)

    # -- the run -------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        _raise_fd_limit()
        n_nodes = len(self.plan.nodes)
        lead_in_s = self.options.lead_in_s if self.options.lead_in_s is not None else 3.0 + 0.6 * n_nodes
        self.t0_wall = time.time() + lead_in_s
        scaled = scale_plan(
            self.plan, start_s=self.options.start_s, speed=self.options.speed, epoch_unix_s=self.t0_wall
        )
        faults = scale_faults(self.workload.faults, start_s=self.options.start_s, speed=self.options.speed)
        schedule = LinkSchedule(scaled, faults)
        clock = TrioClock()  # wall clock; emulator plan time = unix - scaled epoch
        self.emulator = LinkEmulator(schedule, clock, self.t0_wall, shape_rate=self.options.shape_rate)
        try:
            async with trio.open_nursery() as nursery:
                pair_ports = {}
                for a, b in schedule.pairs():
                    pair_ports[(a, b)] = await nursery.start(self._serve_pair, a, b)
                self._write_configs(scaled, pair_ports)
                async with trio.open_nursery() as starters:
                    for node in self.plan.nodes:
                        starters.start_soon(self._start_node, node.number)
                late_s = time.time() - self.t0_wall
                if late_s > 0:
                    self.markers.append(
                        {"t_unix_s": time.time(), "node": "replay", "event": "late_start", "late_s": round(late_s, 3)}
                    )
                for n, endpoints in sorted(self.endpoints.items()):
                    for endpoint in sorted(endpoints):
                        nursery.start_soon(self._application, n, endpoint)
                for fault in self.workload.faults:
                    if fault.kind == "kill_node":
                        nursery.start_soon(self._kill_and_restart, fault)
                nursery.start_soon(self._traffic)
                if self.options.progress_callback:
                    nursery.start_soon(self._progress)
                await self.sleep_until_plan(self.end_s)
                await trio.sleep(self.options.drain_s)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._stop_all)
            shutil.rmtree(self.sock_dir, ignore_errors=True)
        self._write()

    async def _serve_pair(self, a: int, b: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        await self.emulator.serve_tcp(a, b, lambda: self._listen_address(b), port=0, task_status=task_status)

    def _listen_address(self, n: int) -> tuple[str, int] | None:
        proc = self.procs.get(n)
        if proc is None or not proc.alive():
            return None
        return ("127.0.0.1", proc.port())

    async def _progress(self) -> None:
        total = self.end_s - self.options.start_s
        while True:
            self.options.progress_callback(min(total, max(0.0, self.plan_now_s() - self.options.start_s)), total)
            await trio.sleep(0.25)

    def _stop_all(self) -> None:
        for proc in list(self.procs.values()):
            if proc.alive():
                proc.popen.terminate()
        deadline = time.time() + 15
        for proc in list(self.procs.values()):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
            proc._close_pipes()

    def _write(self) -> None:
        """Map every timestamp back to plan time (unscaled) and write the run directory like `dtn simulate`."""
        epoch = self.plan.epoch_unix_s
        events = []
        for path in sorted(self.out_dir.glob("events-*.jsonl")):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # the torn last line of a killed node
                    events.append(record)
        events.extend(self.markers)
        for record in events:
            record["t_unix_s"] = round(epoch + self.to_plan_s(record["t_unix_s"]), 6)
        events.sort(key=lambda r: r["t_unix_s"])
        with open(self.out_dir / "events.jsonl", "w", encoding="utf-8") as fh:
            for record in events:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        for path in self.out_dir.glob("events-*.jsonl"):
            path.rename(path.with_name("node-" + path.name))
        with open(self.out_dir / "sends.jsonl", "w", encoding="utf-8") as fh:
            for record in self.sends:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        speed, start = self.options.speed, self.options.start_s
        with open(self.out_dir / "links.jsonl", "w", encoding="utf-8") as fh:
            for (a, b, _), rec in sorted(self.emulator.traffic.items()):
                w = rec.window
                fh.write(
                    json.dumps(
                        {
                            "a": a,
                            "b": b,
                            "start_s": start + w.start_s * speed,
                            "end_s": start + w.end_s * speed,
                            "bytes_ab": rec.bytes_ab,
                            "bytes_ba": rec.bytes_ba,
                            "capacity_ab_bytes": round(rec.capacity_ab_bytes),
                            "capacity_ba_bytes": round(rec.capacity_ba_bytes),
                            "sessions": rec.sessions,
                        }
                    )
                    + "\n"
                )
        meta = {
            "scenario": self.plan.name or "plan",
            "mode": "replay",
            "plan_epoch_unix_s": epoch,
            "start_s": start,
            "end_s": self.end_s,
            "speed": speed,
            "pids": self.pids,
            "nodes": {str(n.number): n.name or f"ipn:{n.number}.0" for n in self.plan.nodes},
            "lag": self.lag.summary(),
        }
        (self.out_dir / "meta.json").write_text(json.dumps(meta, indent=2))


async def _quiet_close(client: Client) -> None:
    try:
        await client.aclose()
    except (DtnError, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def replay(
    plan: ContactPlan, workload: Workload, out_dir: str | pathlib.Path, options: ReplayOptions | None = None
) -> pathlib.Path:
    """Run the replay to the end (blocking); returns the run directory."""
    runner = Replay(plan, workload, pathlib.Path(out_dir), options or ReplayOptions())
    trio.run(runner.run)
    return runner.out_dir
