"""The archive service of a node (Trio): PUT, GET, LIST, DELETE and repair over archive bundles.

    [archive]            # in the node's TOML: the node runs this service at ipn:N.64
    replicas = 3

The service is an application of its own node: it receives archive messages (`dtn.archive.messages`) on its
endpoint through `Node.next_delivery`, applies each one to its SQLite file (`dtn.archive.db.ArchiveDB`) and
acknowledges the bundle only once the change is committed, so a crash at any point loses nothing that was
acknowledged: the bundle is delivered again and applying a message twice changes nothing. It sends messages with
`Node.send_from_application`, so they are stored, routed by CGR and protected by BPSec like any bundle.
docs/archive.md describes the protocol, the placement policy and the durability argument.

Why ~680 lines: this is the service's one message loop and the state it keeps (PUT, GET, LIST, DELETE, repair all
read and write the same SQLite file and the same pending-fetch table); the agent ops are in `archive_agent`, the
twin driver in `dtn.twin.runner.archive`, the pure model, placement and messages in `dtn.archive`.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

import trio

from dtn.archive.config import ArchiveConfig
from dtn.archive.db import ArchiveDB
from dtn.archive.messages import (
    CatalogMsg,
    ChunkMsg,
    GetMsg,
    LostMsg,
    StoredMsg,
    StoreMsg,
    decode_message,
    encode_message,
)
from dtn.archive.model import (
    CatalogEntry,
    Manifest,
    assemble,
    check_metadata,
    check_name,
    make_manifest,
    object_id_of,
)
from dtn.archive.placement import candidates_from_plan, choose_replicas, repair_replica
from dtn.archive.retrieval import AddResult, Retrieval, rank_holders
from dtn.errors import ConfigError, DecodeError, DtnError, StoreError
from dtn.node import bundles as bp
from dtn.node.wakeup import Wakeup

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node.archive")

REQUEST_BYTES = 256  # size used to predict a GET request's delivery


class _Fetch:
    """A retrieval in progress at this node."""

    def __init__(self, manifest: Manifest, role: str) -> None:
        self.retrieval = Retrieval(manifest)
        self.role = role
        self.done = trio.Event()
        self.wake = Wakeup()
        self.asked: dict[int, float] = {}  # holder -> plan time asked
        self.bad_from: set[int] = set()  # holders that sent a corrupt chunk
        self.error: str | None = None
        self.rounds = 0  # request rounds sent so far


class ArchiveService:
    """One node's archive. `await service.run()` under the node's nursery (the node does this when configured)."""

    def __init__(self, node: "Node", config: ArchiveConfig, *, db: ArchiveDB | None = None) -> None:
        self.node = node
        self.config = config
        self.number = node.node_number
        self.endpoint = f"ipn:{self.number}.{config.service}"
        self._given_db = db
        self.db: ArchiveDB | None = db
        self._changed = Wakeup()
        self._fetches: dict[str, _Fetch] = {}
        self._request_ids = itertools.count(1)
        self._nursery: trio.Nursery | None = None
        self.counts: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def _open_db(self) -> ArchiveDB:
        if self.db is None:
            path = self.config.path
            if path is None and self.node.config.store.path is not None:
                path = f"{self.node.config.store.path}.archive"
            self.db = ArchiveDB(path, max_bytes=self.config.max_bytes)
        return self.db

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self._open_db()
        try:
            self.node.registered.add(self.endpoint)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for object_id, _name in self.db.pending_fetches():  # retrievals interrupted by a restart
                    obj = self._manifest_for(object_id)
                    if obj is not None:
                        self._start_fetch(obj, "cache")
                task_status.started()
                await self._receive_loop()
        finally:
            self._nursery = None
            if self._given_db is None and self.db is not None:
                self.db.close()
                self.db = None

    async def _receive_loop(self) -> None:
        while True:
            item = await self.node.next_delivery(self.endpoint)
            if item is None:
                continue
            try:
                await self.handle(decode_message(item["payload"]), _sender(item["source"]))
            except DecodeError as exc:
                self._emit("archive_rejected", detail=str(exc)[:200], src=item["source"])
            except DtnError as exc:  # e.g. our quota: the message is consumed, the sender retries elsewhere
                self._emit("archive_refused", detail=str(exc)[:200], src=item["source"])
            await self.node.acknowledge_delivery(item["bundle"])

    def _emit(self, event: str, **fields: Any) -> None:
        self.counts[event] = self.counts.get(event, 0) + 1
        self.node.events.emit(event, **fields)

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
            self._emit("archive_send_failed", detail=str(exc)[:200], dst=f"ipn:{node}.{self.config.service}")

    # -- topology and predictions ------------------------------------------------------------------------------
    def archive_nodes(self) -> list[int]:
        if self.config.nodes:
            return list(self.config.nodes)
        plan = self.node.plan
        return sorted({n.number for n in plan.nodes} | set(self.config.centres)) if plan is not None else []

    def _arrival(self, source: int, dest: int, at_s: float, size_bytes: int) -> float | None:
        if source == dest:
            return at_s
        route = bp.best_route(self.node.router, source, dest, at_s, max(1, size_bytes))
        return None if route is None else route.arrival_s

    def _candidates(self, size_bytes: int):
        now = self.node.plan_now_s()
        return candidates_from_plan(
            self.node.plan,
            archive_nodes=self.config.nodes or None,
            centres=self.config.centres,
            arrival=lambda n: self._arrival(self.number, n, now, size_bytes),
        )

    def predicted_return_s(self, holder: int, size_bytes: int) -> float | None:
        """CGR's prediction (plan s) of when a GET sent now to `holder` brings `size_bytes` back here."""
        now = self.node.plan_now_s()
        there = self._arrival(self.number, holder, now, REQUEST_BYTES)
        if there is None:
            return None
        return self._arrival(holder, self.number, there, size_bytes)

    # -- PUT ---------------------------------------------------------------------------------------------------
    async def put(
        self,
        data: bytes,
        name: str,
        *,
        metadata: dict[str, str] | None = None,
        replicas: int | None = None,
        chunk_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Keep `data` under `name` here and on k replicas; returns once it is durable here and the replicas'
        chunks are queued as bundles (see `wait_put` for the acknowledgements)."""
        check_name(name)
        k = self.config.replicas if replicas is None else replicas
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 16:
            raise ConfigError("replicas must be an integer in 1..16", key="replicas")
        db = self.db
        oid = object_id_of(data)
        now_unix = self.node.clock.unix_s()
        current = db.catalog_get(name)
        if current is not None and not current.deleted and current.object_id == oid:
            return self.put_status(oid, name, new=False)  # idempotent: same name, same content
        known = db.object(oid)
        new_object = known is None or known["role"] != "origin" or db.put_state(oid) is None
        if new_object:
            lost = db.lost_nodes()
            chosen = choose_replicas(self._candidates(len(data)), k, exclude={self.number, *lost})
            manifest, chunks = make_manifest(
                name,
                data,
                chunk_bytes=chunk_bytes or self.config.chunk_bytes,
                metadata=metadata,
                created_unix_s=now_unix,
                origin=self.number,
                replicas=chosen,
            )
            db.put_chunks(oid, chunks)
            db.add_object(manifest, "origin", now_unix)
            db.mark_complete(oid, now_unix)
            db.record_put(oid, name, chosen, now_unix)
        else:  # the same content under another name: stored once, the replicas already have it
            manifest = Manifest(**{**_fields(known["manifest"]), "name": name, "metadata": check_metadata(metadata)})
            chunks = None
        entry = CatalogEntry(name, oid, now_unix, False, now_unix, manifest)
        db.catalog_merge(entry)
        self._emit("archive_put", object=oid, name=name, size_bytes=len(data), replicas=list(manifest.replicas))
        self._changed.fire()
        await self._broadcast(CatalogMsg(entry))
        if chunks is not None:
            for replica in manifest.replicas:
                await self._send_chunks(replica, manifest, chunks)
        return self.put_status(oid, name, new=new_object)

    async def _send_chunks(self, node: int, manifest: Manifest, chunks: list[bytes] | dict[int, bytes]) -> None:
        items = chunks.items() if isinstance(chunks, dict) else enumerate(chunks)
        for index, chunk in items:
            await self._send(node, StoreMsg(manifest, index, chunk, self.number))

    async def _broadcast(self, msg: Any) -> None:
        for node in self.archive_nodes():
            if node != self.number:
                await self._send(node, msg)

    def put_status(self, object_id: str, name: str, *, new: bool = False) -> dict[str, Any]:
        state = self.db.put_state(object_id) or {}
        entry = self.db.catalog_get(name)
        manifest = entry.manifest if entry is not None else None
        return {
            "object_id": object_id,
            "name": name,
            "new": new,
            "size_bytes": manifest.size_bytes if manifest else None,
            "chunks": manifest.chunk_count if manifest else None,
            "replicas": list(manifest.replicas) if manifest else [],
            "acked": state.get("acked", []),
            "first_replica_unix_s": state.get("first_unix_s"),
            "all_replicas_unix_s": state.get("all_unix_s"),
        }

    async def wait_put(self, object_id: str, name: str, wait: str) -> dict[str, Any]:
        """Wait until the first (`wait="first"`) or every (`"all"`) replica acknowledged; the caller bounds the
        wait with a cancel scope (`put_status` says where the PUT stands)."""
        key = {"first": "first_replica_unix_s", "all": "all_replicas_unix_s"}.get(wait)
        while True:
            status = self.put_status(object_id, name)
            if key is None or status[key] is not None:
                return status
            await self._changed.wait()

    # -- GET ---------------------------------------------------------------------------------------------------
    def lookup(self, name: str) -> CatalogEntry:
        entry = self.db.catalog_get(check_name(name))
        if entry is None or entry.deleted or entry.manifest is None:
            raise StoreError(f"no archived object named {name!r} is known at {self.node.node_id}")
        return entry

    async def get(self, name: str) -> dict[str, Any]:
        """The object named `name`: from here when this node keeps it, else fetched from the replicas CGR
        predicts to answer first. Waits until the data is here; the caller bounds the wait with a cancel scope
        (`pending(name)` then says how far the fetch got)."""
        entry = self.lookup(name)
        while True:
            found = self._local(entry, name)
            if found is not None:
                return found
            fetch = self._start_fetch(entry.manifest, "cache")
            if fetch.error is not None:
                raise StoreError(fetch.error)
            await fetch.done.wait()

    def pending(self, name: str) -> dict[str, Any]:
        """Where a GET stands: the data when it is here, else the fetch's progress (`data` None)."""
        entry = self.lookup(name)
        found = self._local(entry, name)
        if found is not None:
            return found
        fetch = self._start_fetch(entry.manifest, "cache")
        if fetch.error is not None:
            raise StoreError(fetch.error)
        return {
            "object_id": entry.object_id,
            "name": name,
            "data": None,
            "pending": True,
            "have_chunks": len(fetch.retrieval.chunks),
            "chunks": entry.manifest.chunk_count,
            "asked": sorted(fetch.asked),
        }

    def _local(self, entry: CatalogEntry, name: str) -> dict[str, Any] | None:
        """The object when this node holds all of it and it checks out; a corrupt copy is dropped (None)."""
        oid = entry.object_id
        obj = self.db.object(oid)
        if obj is None or not obj["complete"]:
            return None
        chunks = self.db.chunks(oid)
        data = b"".join(chunks[i] for i in range(obj["manifest"].chunk_count))
        if object_id_of(data) != oid:
            self._emit("archive_corrupt", object=oid, detail="local copy does not match its sha256")
            self.db.delete_object(oid)
            return None
        fetch = self.db.fetch_state(oid)
        return {
            "object_id": oid,
            "name": name,
            "data": data,
            "size_bytes": len(data),
            "source": "local" if fetch is None else "fetched",
            "fetched_unix_s": None if fetch is None else fetch["done_unix_s"],
            "metadata": dict(entry.manifest.metadata),
        }

    def _manifest_for(self, object_id: str) -> Manifest | None:
        for entry in self.db.catalog():
            if entry.object_id == object_id and entry.manifest is not None:
                return entry.manifest
        obj = self.db.object(object_id)
        return obj["manifest"] if obj is not None else None

    def _start_fetch(self, manifest: Manifest, role: str) -> _Fetch:
        fetch = self._fetches.get(manifest.object_id)
        if fetch is None:
            fetch = self._fetches[manifest.object_id] = _Fetch(manifest, role)
            for index, chunk in self.db.chunks(manifest.object_id).items():  # a partial copy from before
                fetch.retrieval.add(index, chunk)
            self.db.start_fetch(manifest.object_id, manifest.name, self.node.clock.unix_s())
            self._emit("archive_fetch", object=manifest.object_id, name=manifest.name)
            if self._nursery is not None:
                self._nursery.start_soon(self._fetch_loop, fetch)
        return fetch

    async def _fetch_loop(self, fetch: _Fetch) -> None:
        """Ask the holders predicted to answer first (`fanout` at a time) for the missing chunks; when they
        have not answered by their prediction plus `retry_s`, ask the next ones (round robin over all)."""
        manifest = fetch.retrieval.manifest
        oid = manifest.object_id
        clock = self.node.clock
        tried: set[int] = set()
        while not fetch.retrieval.complete:
            current = self._manifest_for(oid) or manifest  # repairs may have moved replicas
            lost = self.db.lost_nodes()
            ranked = rank_holders(
                current.holders(), lambda h: self.predicted_return_s(h, current.size_bytes), down={self.number, *lost}
            )
            fresh = [(h, t) for h, t in ranked if h not in tried and h not in fetch.bad_from]
            if not fresh:
                tried.clear()
                fresh = [(h, t) for h, t in ranked if h not in fetch.bad_from] or ranked
            if not fresh:  # nobody reachable now: wait for the plan to change, then look again
                await self._changed.wait(clock.trio_time_at(clock.now_s() + self.config.retry_s))
                continue
            batch = fresh[: self.config.fanout]
            missing = tuple(fetch.retrieval.missing())
            request_id = next(self._request_ids)
            now = self.node.plan_now_s()
            for holder, _t in batch:
                tried.add(holder)
                fetch.asked[holder] = now
                self._emit(
                    "archive_get_sent", object=oid, dst=f"ipn:{holder}.{self.config.service}", chunks=len(missing)
                )
                await self._send(
                    holder,
                    GetMsg(oid, request_id, self.number, () if len(missing) == manifest.chunk_count else missing),
                )
            # Back off (doubling, at most 8x) while nobody answers: requests queued behind an outage all get
            # answered when it ends, and each answer is a full copy.
            rounds = fetch.rounds
            fetch.rounds += 1
            wait_until_s = max(t for _h, t in batch) + self.config.retry_s * 2 ** min(rounds, 3)
            deadline = clock.now_s() + max(1.0, wait_until_s - self.node.plan_now_s())
            have = len(fetch.retrieval.chunks)
            while not fetch.retrieval.complete and clock.now_s() < deadline:
                fired = await fetch.wake.wait(clock.trio_time_at(deadline))
                if fired and fetch.bad_from and len(fetch.retrieval.chunks) == have:
                    break  # a corrupt chunk arrived: ask someone else now
                have = len(fetch.retrieval.chunks)
        await self._finish_fetch(fetch)

    async def _finish_fetch(self, fetch: _Fetch) -> None:
        manifest = fetch.retrieval.manifest
        now_unix = self.node.clock.unix_s()
        try:
            fetch.retrieval.assemble()  # end-to-end check of the whole object
        except DecodeError as exc:
            fetch.error = str(exc)
            self.db.delete_object(manifest.object_id)
        else:
            self.db.add_object(manifest, fetch.role, now_unix)
            self.db.mark_complete(manifest.object_id, now_unix)
            self.db.finish_fetch(manifest.object_id, now_unix)
            self._emit(
                "archive_fetched",
                object=manifest.object_id,
                name=manifest.name,
                size_bytes=manifest.size_bytes,
                corrupt=fetch.retrieval.corrupt,
                duplicates=fetch.retrieval.duplicates,
            )
            if fetch.role == "replica":
                await self._send(manifest.origin, StoredMsg(manifest.object_id, self.number))
        self._fetches.pop(manifest.object_id, None)
        fetch.done.set()
        self._changed.fire()

    # -- LIST / DELETE / LOST ----------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        out = []
        for entry in self.db.catalog():
            m = entry.manifest
            obj = self.db.object(entry.object_id)
            out.append(
                {
                    "name": entry.name,
                    "object_id": entry.object_id,
                    "size_bytes": m.size_bytes if m else None,
                    "put_unix_s": entry.put_unix_s,
                    "origin": m.origin if m else None,
                    "replicas": list(m.replicas) if m else [],
                    "metadata": dict(m.metadata) if m else {},
                    "here": (obj["role"] if obj is not None and obj["complete"] else None),
                }
            )
        return out

    async def delete(self, name: str) -> dict[str, Any]:
        """Tombstone `name` here and at every archive node; copies no live name refers to are dropped."""
        entry = self.lookup(name)
        tomb = entry.tombstone(self.node.clock.unix_s())
        await self._apply_catalog(tomb)
        await self._broadcast(CatalogMsg(tomb))
        self._emit("archive_deleted", object=entry.object_id, name=name)
        return {"name": name, "object_id": entry.object_id, "deleted": True}

    async def declare_lost(self, node: int, *, broadcast: bool = True) -> dict[str, Any]:
        """`node` is lost for good: its replicas are restored elsewhere by the first surviving holder."""
        if isinstance(node, bool) or not isinstance(node, int) or node <= 0:
            raise ConfigError("a lost node is a node number", key="node")
        now_unix = self.node.clock.unix_s()
        new = self.db.declare_lost(node, now_unix)
        if new and broadcast:
            await self._broadcast(LostMsg(node, now_unix))
        repaired = await self._repair()
        return {"node": node, "repairs_started": repaired}

    async def _repair(self) -> list[str]:
        """For each object with a lost replica where this node is the repair leader (the lowest-numbered
        surviving replica; the origin when no replica survives), choose a replacement and send it the object (fetching a copy first if needed)."""
        lost = self.db.lost_nodes()
        started = []
        by_object: dict[str, list[CatalogEntry]] = {}
        for entry in self.db.catalog():
            if entry.manifest is not None and lost & set(entry.manifest.replicas):
                by_object.setdefault(entry.object_id, []).append(entry)
        for oid, entries in by_object.items():
            manifest = entries[0].manifest
            survivors = sorted(set(manifest.replicas) - lost) or sorted({manifest.origin} - lost)
            if not survivors or survivors[0] != self.number:
                continue
            replicas = [r for r in manifest.replicas if r not in lost]
            for _ in range(len(manifest.replicas) - len(replicas)):
                new = repair_replica(
                    self._candidates(manifest.size_bytes), [*replicas, manifest.origin], lost | {self.number}
                )
                if new is None:
                    break
                replicas.append(new)
            now_unix = self.node.clock.unix_s()
            updated = Manifest(**{**_fields(manifest), "replicas": tuple(replicas)})
            for entry in entries:
                new_entry = CatalogEntry(
                    entry.name,
                    oid,
                    entry.put_unix_s,
                    False,
                    now_unix,
                    Manifest(**{**_fields(updated), "name": entry.name, "metadata": entry.manifest.metadata}),
                )
                await self._apply_catalog(new_entry)
                await self._broadcast(CatalogMsg(new_entry))
            self._emit("archive_repair", object=oid, replicas=replicas)
            started.append(oid)
            if self.number == manifest.origin:
                self.db.set_put_replicas(oid, tuple(replicas))
                self.db.reset_all_acked(oid)
            obj = self.db.object(oid)
            targets = [r for r in replicas if r not in manifest.replicas]
            if obj is not None and obj["complete"]:
                chunks = self.db.chunks(oid)
                for target in targets:
                    await self._send_chunks(target, updated, chunks)
            elif self._nursery is not None:
                self._nursery.start_soon(self._repair_after_fetch, updated, targets)
        return started

    async def _repair_after_fetch(self, manifest: Manifest, targets: list[int]) -> None:
        fetch = self._start_fetch(manifest, "replica")
        await fetch.done.wait()
        if fetch.error is None:
            chunks = self.db.chunks(manifest.object_id)
            for target in targets:
                await self._send_chunks(target, manifest, chunks)

    # -- messages from other archives --------------------------------------------------------------------------
    async def handle(self, msg: Any, sender: int | None) -> None:
        """Apply one archive message (idempotent: a message applied twice changes nothing)."""
        if isinstance(msg, StoreMsg):
            await self._on_store(msg)
        elif isinstance(msg, StoredMsg):
            state = self.db.ack_put(msg.object_id, msg.holder, self.node.clock.unix_s())
            if state is not None:
                self._emit(
                    "archive_stored",
                    object=msg.object_id,
                    holder=msg.holder,
                    acked=len(state["acked"]),
                    replicas=len(state["replicas"]),
                )
            self._changed.fire()
        elif isinstance(msg, GetMsg):
            await self._on_get(msg)
        elif isinstance(msg, ChunkMsg):
            self._on_chunk(msg, sender)
        elif isinstance(msg, CatalogMsg):
            await self._apply_catalog(msg.entry)
        elif isinstance(msg, LostMsg):
            await self.declare_lost(msg.node, broadcast=False)

    def _deleted(self, object_id: str) -> bool:
        names = self.db.names_of(object_id, live_only=False)
        return bool(names) and not self.db.names_of(object_id)

    async def _on_store(self, msg: StoreMsg) -> None:
        manifest = msg.manifest
        oid = manifest.object_id
        if self._deleted(oid):
            return
        if not manifest.verify_chunk(msg.index, msg.data):
            self._emit("archive_corrupt", object=oid, chunk=msg.index, detail="STORE chunk fails its hash")
            return
        now_unix = self.node.clock.unix_s()
        if not self.db.add_object(manifest, "replica", now_unix):
            self.db.update_manifest(manifest)
        obj = self.db.object(oid)
        if obj["complete"]:
            return
        self.db.put_chunk(oid, msg.index, msg.data)
        if len(self.db.chunk_indices(oid)) == manifest.chunk_count:
            try:
                assemble(manifest, self.db.chunks(oid))
            except DecodeError as exc:
                self._emit("archive_corrupt", object=oid, detail=str(exc)[:200])
                self.db.delete_object(oid)
                return
            self.db.mark_complete(oid, now_unix)
            self._emit("archive_replica", object=oid, name=manifest.name, size_bytes=manifest.size_bytes)
            for node in dict.fromkeys((manifest.origin, msg.reply_node)):
                await self._send(node, StoredMsg(oid, self.number))
            self._changed.fire()

    async def _on_get(self, msg: GetMsg) -> None:
        obj = self.db.object(msg.object_id)
        if obj is None or self._deleted(msg.object_id):
            return
        manifest = obj["manifest"]
        indices = msg.indices or tuple(range(manifest.chunk_count))
        sent = 0
        for index in indices:
            chunk = self.db.chunk(msg.object_id, index)
            if chunk is None:
                continue
            if not manifest.verify_chunk(index, chunk):  # bit rot here: never serve it, heal from the others
                self._emit("archive_corrupt", object=msg.object_id, chunk=index, detail="stored chunk fails its hash")
                self.db.delete_object(msg.object_id)
                self._start_fetch(manifest, obj["role"] if obj["role"] != "origin" else "origin")
                return
            await self._send(msg.reply_node, ChunkMsg(msg.object_id, msg.request_id, index, chunk))
            sent += 1
        self._emit(
            "archive_served", object=msg.object_id, dst=f"ipn:{msg.reply_node}.{self.config.service}", chunks=sent
        )

    def _on_chunk(self, msg: ChunkMsg, sender: int | None) -> None:
        fetch = self._fetches.get(msg.object_id)
        if fetch is None:
            self._emit("archive_duplicate", object=msg.object_id, chunk=msg.index)
            return
        result = fetch.retrieval.add(msg.index, msg.data)
        if result is AddResult.ACCEPTED:
            self.db.add_object(fetch.retrieval.manifest, fetch.role, self.node.clock.unix_s())
            self.db.put_chunk(msg.object_id, msg.index, msg.data)
        elif result is AddResult.CORRUPT:
            self._emit(
                "archive_corrupt",
                object=msg.object_id,
                chunk=msg.index,
                src=sender,
                detail="received chunk fails its hash",
            )
            if sender is not None:
                fetch.bad_from.add(sender)
        else:
            self._emit("archive_duplicate", object=msg.object_id, chunk=msg.index, src=sender)
        fetch.wake.fire()
        if fetch.retrieval.complete:
            fetch.wake.fire()

    async def _apply_catalog(self, entry: CatalogEntry) -> None:
        winner, changed = self.db.catalog_merge(entry)
        if not changed:
            return
        oid = winner.object_id
        obj = self.db.object(oid)
        if winner.deleted:
            if obj is not None and not self.db.names_of(oid):
                self.db.delete_object(oid)
                fetch = self._fetches.pop(oid, None)
                if fetch is not None:
                    fetch.error = f"object {winner.name!r} was deleted"
                    fetch.done.set()
        elif obj is not None and winner.manifest is not None and obj["role"] != "cache":
            self.db.update_manifest(
                Manifest(
                    **{**_fields(winner.manifest), "name": obj["manifest"].name, "metadata": obj["manifest"].metadata}
                )
            )
        self._changed.fire()

    # -- status ------------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        objects = list(self.db.objects())
        return {
            "endpoint": self.endpoint,
            "names": len(self.db.catalog()),
            "objects": len(objects),
            "complete": sum(1 for o in objects if o["complete"]),
            "used_bytes": self.db.used_bytes,
            "max_bytes": self.db.max_bytes,
            "fetching": sorted(self._fetches),
            "lost": sorted(self.db.lost_nodes()),
            "counts": dict(sorted(self.counts.items())),
        }


def _sender(source: str) -> int | None:
    try:
        return bp.eid_node_number(source)
    except DecodeError:
        return None


def _fields(m: Manifest) -> dict[str, Any]:
    return {
        "object_id": m.object_id,
        "name": m.name,
        "size_bytes": m.size_bytes,
        "chunk_bytes": m.chunk_bytes,
        "chunk_hashes": m.chunk_hashes,
        "metadata": m.metadata,
        "created_unix_s": m.created_unix_s,
        "origin": m.origin,
        "replicas": m.replicas,
    }
