"""The digital twin's archive workload (docs/archive.md): PUTs at the origin, GETs at every user station and
killed satellites declared lost, driven through each twin node's `dtn.node.archive.ArchiveService`."""

from __future__ import annotations

import trio
from typing import Any

from dtn.archive.config import ArchiveConfig
from dtn.archive.db import ArchiveDB
from dtn.errors import StoreError


class ArchiveTwinDriver:
    """Runs an `ArchiveWorkload` in the digital twin: PUTs at the origin, GETs at every user station, declares
    killed satellites lost; `records` (also `archive.jsonl` in the run directory) says what happened when."""

    def __init__(self, twin: Any, workload: Any) -> None:
        self.twin = twin
        self.workload = workload
        self.records: list[dict[str, Any]] = []
        self.dbs: dict[int, ArchiveDB] = {}
        self.nodes = set(workload.nodes_for(twin.plan))
        self._outstanding: set[tuple[int, str, float]] = set()

    def config_for(self, number: int) -> ArchiveConfig | None:
        if number not in self.nodes:
            return None
        w = self.workload
        return ArchiveConfig(
            replicas=w.replicas,
            chunk_bytes=w.chunk_bytes,
            nodes=tuple(sorted(self.nodes)),
            centres=w.centres,
            lifetime_s=2 * 86400.0,
            retry_s=1800.0,
        )

    def db_for(self, number: int) -> ArchiveDB | None:
        if number not in self.nodes:
            return None
        if number not in self.dbs:  # kept across a kill and restart, like the node's store
            self.dbs[number] = ArchiveDB(None)
        return self.dbs[number]

    def _payload(self, name: str, size_bytes: int) -> bytes:
        import random

        rng = random.Random(f"{self.workload.seed}:{name}")
        return rng.randbytes(size_bytes)

    def _record(self, kind: str, **fields: Any) -> dict[str, Any]:
        rec = {"t_s": round(self.twin.plan_now_s(), 3), "kind": kind, **fields}
        self.records.append(rec)
        return rec

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._losses)
            pending = sorted(self.workload.puts)
            gets = sorted(self.workload.gets_at_s)
            put_done: list[tuple[float, str]] = []
            events = sorted(
                [(p[0], "put", p) for p in pending] + [(t, "get", None) for t in gets],
                key=lambda e: (e[0], e[1] != "put"),
            )
            for t_s, kind, item in events:
                await self.twin._sleep_until_plan(t_s)
                if kind == "put":
                    await self._put(item)
                    put_done.append((item[0], item[1]))
                else:
                    for _t, name in put_done:
                        for user in self.workload.users:
                            nursery.start_soon(self._get, user, name)
            await trio.sleep_forever()

    async def _put(self, item: tuple[float, str, int]) -> None:
        _t, name, size = item
        node = self.twin.nodes.get(self.workload.origin)
        if node is None or node.archive is None:
            self._record("put", name=name, size_bytes=size, error="origin is down")
            return
        result = await node.archive.put(self._payload(name, size), name)
        self._record("put", name=name, size_bytes=size, object_id=result["object_id"], replicas=result["replicas"])

    def finish(self) -> list[dict[str, Any]]:
        """The records, with every GET still waiting when the run ended recorded as unanswered."""
        for user, name, started in sorted(self._outstanding):
            self.records.append(
                {
                    "t_s": round(self.twin.plan_now_s(), 3),
                    "kind": "get",
                    "user": user,
                    "name": name,
                    "requested_s": round(started, 3),
                    "latency_s": None,
                    "verified": False,
                    "pending_at_end": True,
                }
            )
        self._outstanding.clear()
        return self.records

    async def _get(self, user: int, name: str) -> None:
        started = self.twin.plan_now_s()
        key = (user, name, started)
        self._outstanding.add(key)
        await self._get_once(user, name, started)
        self._outstanding.discard(key)  # (a GET cancelled by the end of the run stays outstanding: see finish)

    async def _get_once(self, user: int, name: str, started: float) -> None:
        deadline = trio.current_time() + self.workload.get_timeout_s
        while trio.current_time() < deadline:
            node = self.twin.nodes.get(user)
            if node is None or node.archive is None or node.archive.db is None:
                await trio.sleep(60)
                continue
            try:
                result = {"data": None}
                with trio.move_on_at(deadline):
                    result = await node.archive.get(name)
            except StoreError:  # the catalogue entry has not reached this station yet
                await trio.sleep(60)
                continue
            if result.get("data") is not None:
                expected = self._payload(name, len(result["data"]))
                self._record(
                    "get",
                    user=user,
                    name=name,
                    requested_s=round(started, 3),
                    latency_s=round(self.twin.plan_now_s() - started, 3),
                    verified=result["data"] == expected,
                    source=result.get("source"),
                )
                return
        self._record("get", user=user, name=name, requested_s=round(started, 3), latency_s=None, verified=False)

    async def _losses(self) -> None:
        after = self.workload.declare_lost_after_s
        if after is None or self.workload.mode != "archive":
            return
        kills = sorted(
            (f.at_s, f.node)
            for f in self.twin.workload.faults
            if f.kind == "kill_node" and f.restart_after_s is None and f.node in self.nodes
        )
        for at_s, lost in kills:
            await self.twin._sleep_until_plan(at_s + after)
            for number in [*self.workload.users, *sorted(self.nodes - {lost})]:  # a user station, not the origin
                node = self.twin.nodes.get(number)
                if node is not None and node.archive is not None and node.archive.db is not None:
                    await node.archive.declare_lost(lost)
                    self._record("lost", node=lost, declared_at=number)
                    break

    def acks(self) -> list[dict[str, Any]]:
        """When the first and the last replica of each object acknowledged (plan s), from the origin's database."""
        db = self.dbs.get(self.workload.origin)
        out = []
        epoch = self.twin.plan.epoch_unix_s
        for rec in self.records:
            if rec["kind"] != "put" or "object_id" not in rec or db is None:
                continue
            state = db.put_state(rec["object_id"]) or {}
            first, all_s = state.get("first_unix_s"), state.get("all_unix_s")
            out.append(
                {
                    "name": rec["name"],
                    "put_s": rec["t_s"],
                    "replicas": state.get("replicas"),
                    "first_replica_s": None if first is None else round(first - epoch, 3),
                    "all_replicas_s": None if all_s is None else round(all_s - epoch, 3),
                }
            )
        return out
