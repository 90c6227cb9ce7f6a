"""The compute service of a node (Trio): jobs arrive as bundles at ipn:N.65, run in worker processes, and their
results go back as bundles (docs/compute.md).

    [compute]
    concurrency = 2
    [compute.functions]
    band_stats = "dtn.compute.examples:band_stats"

Both roles live here: the node that runs jobs (table `jobs`) and the node that submits them (table `submitted`).
Durability follows the archive's rule: a request is committed to SQLite before its bundle is acknowledged; a job
found `queued` or `running` after a restart runs again; a result is committed before its reply is sent, and a
reply not yet marked sent is sent again after a restart. The submitter keeps the first result per job ID and
drops any later copy (event `compute_duplicate`), so a result is delivered once per job ID.

Why ~690 lines: both roles share one endpoint, one SQLite file and one reply path; the pure parts (messages, cost
model, placement, config) are in `dtn.compute` and the worker process in `computeworker`. Splitting the runner and
the submitter into two modules is the next cut (not done this session).
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sqlite3
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import cbor2
import trio

from dtn.compute.config import ComputeConfig
from dtn.compute.messages import JobReply, JobRequest, decode_message, encode_message
from dtn.compute.placement import CostModel, Offer, choose_placement
from dtn.errors import ConfigError, DecodeError, DtnError, StoreError
from dtn.fsmode import tighten_sqlite, touch_private
from dtn.node import bundles as bp
from dtn.node.wakeup import Wakeup

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node.compute")

FINAL = ("done", "failed", "expired", "refused")
REQUEST_OVERHEAD_BYTES = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, source INTEGER, request BLOB NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
    result BLOB, object_id TEXT, received_unix_s REAL, started_unix_s REAL, finished_unix_s REAL,
    runs INTEGER NOT NULL DEFAULT 0, reply_sent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS submitted (
    job_id TEXT PRIMARY KEY, node INTEGER NOT NULL, fallback INTEGER, function TEXT NOT NULL, request BLOB NOT NULL,
    state TEXT NOT NULL, reason TEXT NOT NULL, result BLOB, object_id TEXT, ran_at INTEGER, times TEXT,
    submitted_unix_s REAL, predicted_unix_s REAL, updated_unix_s REAL);
"""


class ComputeDB:
    """The compute service's SQLite file (WAL, synchronous=FULL, one transaction per change)."""

    def __init__(self, path: Any = None) -> None:
        try:
            if path is not None:
                touch_private(path)
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path), isolation_level=None, check_same_thread=False
            )
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                tighten_sqlite(path)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open compute database {path}: {exc}") from None
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else dict(row)

    def jobs(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM jobs ORDER BY received_unix_s, job_id").fetchall()
        return [dict(r) for r in rows if states is None or r["state"] in states]

    def add_job(self, job_id: str, source: int | None, request: bytes, state: str, reason: str, now: float) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO jobs (job_id, source, request, state, reason, received_unix_s) VALUES (?,?,?,?,?,?)",
            (job_id, source, request, state, reason, now),
        )

    def update_job(self, job_id: str, **fields: Any) -> None:
        keys = ", ".join(f"{k}=?" for k in fields)
        self._db.execute(f"UPDATE jobs SET {keys} WHERE job_id=?", (*fields.values(), job_id))

    def submitted(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM submitted WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else _sub(dict(row))

    def submitted_request(self, job_id: str) -> bytes:
        return self._db.execute("SELECT request FROM submitted WHERE job_id=?", (job_id,)).fetchone()["request"]

    def all_submitted(self) -> list[dict[str, Any]]:
        return [_sub(dict(r)) for r in self._db.execute("SELECT * FROM submitted ORDER BY submitted_unix_s, job_id")]

    def add_submitted(
        self,
        job_id: str,
        node: int,
        fallback: int | None,
        function: str,
        request: bytes,
        now: float,
        predicted: float | None,
    ) -> None:
        self._db.execute(
            "INSERT INTO submitted (job_id, node, fallback, function, request, state, reason, "
            "submitted_unix_s, predicted_unix_s, updated_unix_s) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (job_id, node, fallback, function, request, "sent", "", now, predicted, now),
        )

    def update_submitted(self, job_id: str, **fields: Any) -> None:
        keys = ", ".join(f"{k}=?" for k in fields)
        self._db.execute(f"UPDATE submitted SET {keys} WHERE job_id=?", (*fields.values(), job_id))


def _sub(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("request", None)
    row["times"] = json.loads(row["times"]) if row.get("times") else {}
    return row


class ComputeService:
    """One node's compute service. `await service.run()` under the node's nursery (the node does this)."""

    def __init__(self, node: "Node", config: ComputeConfig, *, db: ComputeDB | None = None) -> None:
        self.node = node
        self.config = config
        self.number = node.node_number
        self.endpoint = f"ipn:{self.number}.{config.service}"
        self._given_db = db
        self.db: ComputeDB | None = db
        self.costs = {name: CostModel(s_per_mib=config.cost_s_per_mib.get(name, 1.0)) for name in config.functions}
        self._changed = Wakeup()
        self._queued = Wakeup()
        self._running: set[str] = set()
        self._spares: list[Any] = []  # warm worker processes (see _add_spare)
        self._spawning = 0
        self._nursery: trio.Nursery | None = None
        self.counts: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        if self.db is None:
            path = self.config.path
            if path is None and self.node.config.store.path is not None:
                path = f"{self.node.config.store.path}.compute"
            self.db = ComputeDB(path)
        try:
            self.node.registered.add(self.endpoint)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for job in self.db.jobs(("running",)):  # interrupted by a crash: run again
                    self.db.update_job(job["job_id"], state="queued")
                    self._emit("compute_rerun", job=job["job_id"])
                for job in self.db.jobs(FINAL):
                    if not job["reply_sent"]:
                        nursery.start_soon(self._send_final, job["job_id"])
                nursery.start_soon(self._scheduler)
                if self.config.functions:
                    nursery.start_soon(self._add_spare)
                task_status.started()
                await self._receive_loop()
        finally:
            self._nursery = None
            self._kill_spares()
            if self._given_db is None and self.db is not None:
                self.db.close()
                self.db = None

    def _emit(self, event: str, **fields: Any) -> None:
        self.counts[event] = self.counts.get(event, 0) + 1
        self.node.events.emit(event, **fields)

    async def _receive_loop(self) -> None:
        while True:
            item = await self.node.next_delivery(self.endpoint)
            try:
                await self.handle(decode_message(item["payload"]), _sender(item["source"]))
            except DecodeError as exc:
                self._emit("compute_rejected", detail=str(exc)[:200], src=item["source"])
            await self.node.acknowledge_delivery(item["bundle"])

    async def _send(self, node: int, msg: Any) -> None:
        if node == self.number:
            await self.handle(msg, self.number)
            return
        try:
            await self.node.send_from_application(
                f"ipn:{node}.{self.config.service}",
                encode_message(msg),
                source=self.endpoint,
                lifetime_s=self.config.lifetime_s,
            )
        except DtnError as exc:
            self._emit("compute_send_failed", detail=str(exc)[:200], dst=node)

    async def handle(self, msg: Any, source: int | None) -> None:
        if isinstance(msg, JobRequest):
            await self._on_request(msg, source)
        else:
            await self._on_reply(msg, source)

    # -- the node that runs jobs -------------------------------------------------------------------------------
    def _refusal(self, req: JobRequest, source: int | None) -> str:
        allowed = self.config.allowed_sources
        if allowed is not None and source not in allowed and source != self.number:
            return f"source node {source} may not submit jobs here"
        if req.function not in self.config.functions:
            return f"unknown function {req.function!r} (this node offers: {', '.join(sorted(self.config.functions))})"
        if req.deadline_unix_s <= self.node.clock.unix_s():
            return "deadline passed before the job arrived"
        for kind, value in req.inputs:
            if kind == "object" and self._object(value) is None:
                return f"input object {value} is not held at node {self.number}"
        return ""

    def _object(self, object_id: str) -> bytes | None:
        archive = getattr(self.node, "archive", None)
        if archive is None or archive.db is None:
            return None
        obj = archive.db.object(object_id)
        if obj is None or not obj["complete"]:
            return None
        chunks = archive.db.chunks(object_id)
        return b"".join(chunks[i] for i in range(obj["manifest"].chunk_count))

    async def _on_request(self, req: JobRequest, source: int | None) -> None:
        existing = self.db.job(req.job_id)
        reply_to = req.reply_node or source
        if existing is not None:  # a duplicate request: never run twice; repeat the final answer
            if existing["state"] in FINAL:
                await self._send_final(req.job_id)
            return
        now = self.node.clock.unix_s()
        reason = self._refusal(req, source)
        state = "refused" if reason else "queued"
        self.db.add_job(req.job_id, source, encode_message(req), state, reason, now)
        self._emit(
            "compute_refused" if reason else "compute_accepted",
            job=req.job_id,
            function=req.function,
            src=source,
            reason=reason or None,
        )
        if reason:
            await self._send_final(req.job_id)
            return
        if reply_to:
            await self._send(
                reply_to, JobReply(req.job_id, "accepted", "", node=self.number, times={"received_unix_s": now})
            )
        self._queued.fire()

    async def _scheduler(self) -> None:
        while True:
            for job in self.db.jobs(("queued",)):
                if len(self._running) >= self.config.concurrency:
                    break
                if job["job_id"] not in self._running:
                    self._running.add(job["job_id"])
                    self._nursery.start_soon(self._run_job, job["job_id"])
            await self._queued.wait(math.inf)

    async def _run_job(self, job_id: str) -> None:
        try:
            await self._run_job_inner(job_id)
        finally:
            self._running.discard(job_id)
            self._queued.fire()

    async def _run_job_inner(self, job_id: str) -> None:
        job = self.db.job(job_id)
        req = decode_message(job["request"])
        now = self.node.clock.unix_s()
        if req.deadline_unix_s <= now:
            return await self._finish(job_id, "expired", "deadline passed before the job started")
        inputs = []
        for kind, value in req.inputs:
            data = value if kind == "inline" else self._object(value)
            if data is None:
                return await self._finish(job_id, "failed", f"input object {value} is no longer held here")
            inputs.append(data)
        self.db.update_job(job_id, state="running", started_unix_s=now, runs=job["runs"] + 1)
        self._emit("compute_started", job=job_id, function=req.function)
        spec = self.config.functions[req.function]
        t0 = trio.current_time()
        wall_s = max(0.0, req.deadline_unix_s - now)
        state, reason, result = "expired", "deadline passed while the job was running", None
        with trio.move_on_after(wall_s):
            state, reason, result = await self._worker(spec, inputs, req.params)
        elapsed_s = trio.current_time() - t0
        if state == "done":
            self.costs[req.function].observe(sum(map(len, inputs)), self.config.speed, elapsed_s)
        object_id = None
        if state == "done" and req.result_mode == "archive":
            archive = getattr(self.node, "archive", None)
            if archive is None or archive.db is None:
                state, reason, result = "failed", "result_mode archive needs an [archive] table at this node", None
            else:
                meta = {
                    "compute.function": req.function,
                    "compute.node": str(self.number),
                    "compute.job": job_id,
                    "compute.finished_unix_s": f"{self.node.clock.unix_s():.3f}",
                    "compute.inputs": ",".join(v if k == "object" else "inline" for k, v in req.inputs)[:1000],
                }
                put = await archive.put(result, f"compute/{job_id}", metadata=meta)
                object_id, result = put["object_id"], None
        await self._finish(job_id, state, reason, result=result, object_id=object_id)

    async def _worker(self, spec: str, inputs: list[bytes], params: dict[str, Any]) -> tuple[str, str, bytes | None]:
        cfg = self.config
        job = cbor2.dumps(
            {
                "spec": spec,
                "inputs": inputs,
                "params": params,
                "cpu_s": cfg.cpu_s,
                "memory_bytes": cfg.memory_bytes,
                "output_bytes": cfg.output_bytes,
            }
        )
        limit = cfg.output_bytes + 64
        proc = self._spares.pop() if self._spares else await self._spawn()
        if self._nursery is not None:
            self._nursery.start_soon(self._add_spare)
        out = bytearray()
        try:
            async with trio.open_nursery() as nursery:

                async def feed() -> None:
                    try:
                        await proc.stdin.send_all(job)
                    except trio.BrokenResourceError:
                        pass
                    await proc.stdin.aclose()

                nursery.start_soon(feed)
                while True:
                    chunk = await proc.stdout.receive_some(65536)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > limit:
                        proc.kill()
                        nursery.cancel_scope.cancel()
                        return "failed", f"output exceeds the limit of {cfg.output_bytes} bytes", None
            code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                with trio.CancelScope(shield=True):
                    await proc.wait()
            await proc.stdout.aclose()
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and not out:
            return "failed", f"CPU-time limit of {cfg.cpu_s:g} s exceeded", None
        try:
            answer = cbor2.loads(bytes(out))
            kind, value = answer
        except Exception:  # a worker that died without answering
            return "failed", f"worker process ended with status {code} without an answer", None
        if kind == 0 and code == 0 and isinstance(value, bytes):
            return "done", "", value
        return "failed", str(value)[:1000], None

    async def _spawn(self) -> Any:
        modules = sorted({spec.split(":", 1)[0] for spec in self.config.functions.values()})
        return await trio.lowlevel.open_process(
            [sys.executable, "-m", "dtn.node.computeworker", *modules], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    async def _add_spare(self) -> None:
        """Keep up to `concurrency` warm workers (started, registered modules imported, waiting for a job);
        each runs one job only, so every job starts in a fresh process with fresh limits."""
        if len(self._spares) + self._spawning >= self.config.concurrency:
            return
        self._spawning += 1
        try:
            self._spares.append(await self._spawn())
        finally:
            self._spawning -= 1

    def _kill_spares(self) -> None:
        for proc in self._spares:
            if proc.returncode is None:
                proc.kill()
        self._spares.clear()

    async def _finish(
        self, job_id: str, state: str, reason: str, *, result: bytes | None = None, object_id: str | None = None
    ) -> None:
        self.db.update_job(
            job_id,
            state=state,
            reason=reason,
            result=result,
            object_id=object_id,
            finished_unix_s=self.node.clock.unix_s(),
        )
        self._emit(f"compute_{state}", job=job_id, reason=reason or None)
        await self._send_final(job_id)

    async def _send_final(self, job_id: str) -> None:
        job = self.db.job(job_id)
        req = decode_message(job["request"])
        reply_to = req.reply_node or job["source"]
        times = {
            k: float(job[k]) for k in ("received_unix_s", "started_unix_s", "finished_unix_s") if job[k] is not None
        }
        if reply_to:
            await self._send(
                reply_to,
                JobReply(job_id, job["state"], job["reason"], job["result"], job["object_id"], self.number, times),
            )
        self.db.update_job(job_id, reply_sent=1)

    # -- the node that submits jobs ----------------------------------------------------------------------------
    async def _on_reply(self, rep: JobReply, source: int | None) -> None:
        sub = self.db.submitted(rep.job_id)
        if sub is None:
            self._emit("compute_unexpected_reply", job=rep.job_id, src=source)
            return
        if source not in (sub["node"], sub["fallback"], self.number) or rep.node != source:
            self._emit("compute_unexpected_reply", job=rep.job_id, src=source)  # not from where the job was sent
            return
        if sub["state"] in FINAL:
            self._emit("compute_duplicate", job=rep.job_id, src=source)
            return
        now = self.node.clock.unix_s()
        if rep.state == "refused" and sub["fallback"] and rep.node != sub["fallback"]:
            self._emit(
                "compute_fallback", job=rep.job_id, refused_by=rep.node, reason=rep.reason, fallback=sub["fallback"]
            )
            self.db.update_submitted(
                rep.job_id,
                node=sub["fallback"],
                fallback=None,
                state="sent",
                reason=f"refused by {rep.node}: {rep.reason}",
                updated_unix_s=now,
            )
            await self._send(sub["fallback"], decode_message(self.db.submitted_request(rep.job_id)))
            return
        self.db.update_submitted(
            rep.job_id,
            state=rep.state,
            reason=rep.reason,
            result=rep.result,
            object_id=rep.object_id,
            ran_at=rep.node,
            times=json.dumps(rep.times),
            updated_unix_s=now,
        )
        if rep.state in FINAL:
            self._emit(
                "compute_result",
                job=rep.job_id,
                state=rep.state,
                node=rep.node,
                predicted_unix_s=sub["predicted_unix_s"],
                actual_unix_s=now,
            )
        self._changed.fire()

    def _arrival(self, source: int, dest: int, at_s: float, size_bytes: int) -> float | None:
        if source == dest:
            return at_s
        if self.node.plan is None:
            return None
        route = bp.best_route(self.node.router, source, dest, at_s, max(1, size_bytes))
        return None if route is None else route.arrival_s

    def place(
        self, function: str, inputs: tuple[tuple[str, Any], ...], candidates: list[tuple[int, float]], result_bytes: int
    ) -> list[Any]:
        """Candidates (node, speed) ranked by predicted completion (plan s); inputs must be held there (the
        archive's replicas of each object input, as this node's catalogue knows them)."""
        now = self.node.plan_now_s()
        inline_bytes = sum(len(v) for k, v in inputs if k == "inline")
        object_bytes, holders = 0, None
        archive = getattr(self.node, "archive", None)
        for kind, value in inputs:
            if kind != "object":
                continue
            manifest = archive._manifest_for(value) if archive is not None and archive.db is not None else None
            if manifest is None:
                raise StoreError(f"input object {value} is not in this node's archive catalogue")
            object_bytes += manifest.size_bytes
            here = {manifest.origin, *manifest.replicas}
            holders = here if holders is None else holders & here
        req_bytes = inline_bytes + REQUEST_OVERHEAD_BYTES

        def request_at(n: int) -> float | None:
            return self._arrival(self.number, n, now, req_bytes)

        def inputs_at(n: int) -> float | None:
            return now if holders is None or n in holders else None

        ranked = choose_placement(
            [Offer(n, s) for n, s in candidates],
            CostModel(),
            inline_bytes + object_bytes,
            request_arrival=request_at,
            inputs_ready=inputs_at,
            result_arrival=lambda n, t: self._arrival(n, self.number, t, result_bytes),
        )
        return ranked

    async def submit(
        self,
        function: str,
        inputs: tuple[tuple[str, Any], ...],
        *,
        params: dict[str, Any] | None,
        deadline_s: float,
        node: int | None = None,
        fallback: int | None = None,
        candidates: list[tuple[int, float]] | None = None,
        result_mode: str = "inline",
        result_bytes: int = 4096,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a job; `node` names where it runs, else it is placed among `candidates` by predicted completion
        (the second best becomes the fallback unless `fallback` is given)."""
        now = self.node.clock.unix_s()
        job_id = job_id or uuid.uuid4().hex
        req = JobRequest(
            job_id, function, tuple(inputs), dict(params or {}), now + deadline_s, self.number, result_mode
        )
        if self.db.submitted(job_id) is not None:
            raise ConfigError(f"job {job_id} was already submitted", key="job_id")
        predicted = None
        ranked = []
        if node is None:
            if not candidates:
                raise ConfigError("give a node, or candidates to place the job among", key="node")
            ranked = self.place(function, req.inputs, candidates, result_bytes)
            if not ranked:
                raise StoreError("no candidate node can run this job: no route, or the inputs are not held there")
            node = ranked[0].node
            predicted = ranked[0].result_at_s + self.node.plan_epoch_unix_s
            if fallback is None and len(ranked) > 1:
                fallback = ranked[1].node
        self.db.add_submitted(job_id, node, fallback, function, encode_message(req), now, predicted)
        self._emit("compute_submitted", job=job_id, node=node, fallback=fallback, predicted_unix_s=predicted)
        await self._send(node, req)
        return {
            "job_id": job_id,
            "node": node,
            "fallback": fallback,
            "predicted_unix_s": predicted,
            "ranked": [[p.node, p.result_at_s] for p in ranked],
        }

    async def wait_result(self, job_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = trio.current_time() + timeout_s
        while True:
            sub = self.db.submitted(job_id)
            if sub is None:
                raise StoreError(f"no job {job_id} was submitted from this node")
            if sub["state"] in FINAL or trio.current_time() >= deadline:
                return sub
            await self._changed.wait(deadline)

    def status(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "functions": dict(self.config.functions),
            "concurrency": self.config.concurrency,
            "speed": self.config.speed,
            "running": sorted(self._running),
            "cost_s_per_mib": {k: round(c.s_per_mib, 6) for k, c in self.costs.items()},
            "counts": dict(sorted(self.counts.items())),
        }


def _sender(source: str) -> int | None:
    try:
        return bp.eid_node_number(source)
    except DecodeError:
        return None


# -- the agent API ops (docs/compute.md) ----------------------------------------------------------------------------

MAX_WAIT_S = 3600.0


def compute_ops(conn: Any) -> dict[str, Any]:
    """The compute ops of one agent connection (`dtn.node.agent.AgentConnection`)."""
    from dtn.node.agent import BadRequest, _opt, _req

    def service() -> ComputeService:
        compute = getattr(conn.node, "compute", None)
        if compute is None or compute.db is None:
            raise StoreError(f"{conn.node.node_id} runs no compute service (add a [compute] table to its config)")
        return compute

    def number(body: dict[str, Any], name: str, default: float) -> float:
        t = _opt(body, name, (int, float))
        if t is not None and not (math.isfinite(t) and t >= 0):
            raise BadRequest(f"{name} must be a non-negative number")
        return default if t is None else float(t)

    async def op_submit(body: dict[str, Any]) -> dict[str, Any]:
        compute = service()
        inputs: list[tuple[str, Any]] = []
        for item in _opt(body, "inputs", list) or []:
            if isinstance(item, bytes):
                inputs.append(("inline", item))
            elif isinstance(item, str):
                inputs.append(("object", item))
            else:
                raise BadRequest("inputs are bytes (inline) or text (an archive object ID)")
        candidates = []
        for c in _opt(body, "candidates", list) or []:
            if isinstance(c, int) and not isinstance(c, bool):
                candidates.append((c, 1.0))
            elif (
                isinstance(c, list)
                and len(c) == 2
                and isinstance(c[0], int)
                and isinstance(c[1], (int, float))
                and c[1] > 0
            ):
                candidates.append((c[0], float(c[1])))
            else:
                raise BadRequest("candidates are node numbers or [node, speed] pairs")
        try:
            return await compute.submit(
                _req(body, "function", str),
                tuple(inputs),
                params=_opt(body, "params", dict),
                deadline_s=number(body, "deadline_s", 3600.0),
                node=_opt(body, "node", int),
                fallback=_opt(body, "fallback", int),
                candidates=candidates,
                result_mode=_opt(body, "result_mode", str) or "inline",
                job_id=_opt(body, "job_id", str),
            )
        except (ConfigError, DecodeError) as exc:
            raise BadRequest(str(exc)) from None

    async def op_status(body: dict[str, Any]) -> dict[str, Any]:
        compute = service()
        job_id = _opt(body, "job_id", str)
        if job_id is None:
            return {"compute": compute.status()}
        sub = compute.db.submitted(job_id)
        job = compute.db.job(job_id)
        if sub is None and job is None:
            raise StoreError(f"no job {job_id} is known at {conn.node.node_id}")
        return {"submitted": _brief(sub), "job": _brief(job)}

    async def op_result(body: dict[str, Any]) -> dict[str, Any]:
        timeout_s = min(MAX_WAIT_S, number(body, "timeout_s", 0.0))
        return {"job": await service().wait_result(_req(body, "job_id", str), timeout_s)}

    async def op_ls(body: dict[str, Any]) -> dict[str, Any]:
        compute = service()
        return {
            "submitted": [_brief(s) for s in compute.db.all_submitted()],
            "jobs": [_brief(j) for j in compute.db.jobs()],
        }

    return {"compute_submit": op_submit, "compute_status": op_status, "compute_result": op_result, "compute_ls": op_ls}


def _brief(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k not in ("request", "result")}
    out["result_bytes"] = None if row.get("result") is None else len(row["result"])
    return out
