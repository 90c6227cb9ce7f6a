"""The archive's agent API operations (`archive_put`, `archive_get`, ...; docs/archive.md, docs/agent.md): the
agent connection (`dtn.node.agent`) adds them to its table of operations."""

from __future__ import annotations

import math
from typing import Any

from dtn.errors import ConfigError, StoreError
from dtn.node.archive import ArchiveService
from dtn.node.clock import move_on_after

WAIT_MODES = ("none", "first", "all")
MAX_WAIT_S = 3600.0


def archive_ops(conn: Any) -> dict[str, Any]:
    """The archive ops of one agent connection (`dtn.node.agent.AgentConnection`)."""
    from dtn.node.agent import BadRequest, _opt, _req

    def service() -> ArchiveService:
        archive = conn.node.archive
        if archive is None or archive.db is None:
            raise StoreError(f"{conn.node.node_id} runs no archive service (add an [archive] table to its config)")
        return archive

    def timeout(body: dict[str, Any]) -> float:
        t = _opt(body, "timeout_s", (int, float))
        if t is not None and not (math.isfinite(t) and t >= 0):
            raise BadRequest("timeout_s must be a non-negative number")
        return min(MAX_WAIT_S, t or 0.0)

    def checked(fn):
        async def op(body: dict[str, Any]) -> dict[str, Any]:
            try:
                return await fn(body)
            except ConfigError as exc:
                raise BadRequest(str(exc)) from None

        return op

    @checked
    async def op_put(body: dict[str, Any]) -> dict[str, Any]:
        archive = service()
        payload = _opt(body, "payload", bytes)
        file = _opt(body, "file", str)
        if (payload is None) == (file is None):
            raise BadRequest("give exactly one of payload (bytes) or file (a path the node can read)")
        if file is not None:
            payload = await conn.read_file(file)
        name = _opt(body, "name", str)
        if name is None:
            if file is None:
                raise BadRequest("missing field 'name'")
            name = file.rsplit("/", 1)[-1]
        metadata = _opt(body, "metadata", dict)
        wait = _opt(body, "wait", str) or "none"
        if wait not in WAIT_MODES:
            raise BadRequest(f"wait must be one of {', '.join(WAIT_MODES)}")
        result = await archive.put(
            payload,
            name,
            metadata=metadata,
            replicas=_opt(body, "replicas", int),
            chunk_bytes=_opt(body, "chunk_bytes", int),
        )
        if wait != "none":
            status = None
            with move_on_after(conn.node.clock, timeout(body)):
                status = await archive.wait_put(result["object_id"], name, wait)
            if status is None:
                status = archive.put_status(result["object_id"], name)
            result = dict(status, new=result["new"])
        return result

    @checked
    async def op_get(body: dict[str, Any]) -> dict[str, Any]:
        archive, name = service(), _req(body, "name", str)
        with move_on_after(conn.node.clock, timeout(body)):
            return await archive.get(name)
        return archive.pending(name)

    @checked
    async def op_ls(body: dict[str, Any]) -> dict[str, Any]:
        return {"objects": service().list()}

    @checked
    async def op_rm(body: dict[str, Any]) -> dict[str, Any]:
        return await service().delete(_req(body, "name", str))

    @checked
    async def op_lost(body: dict[str, Any]) -> dict[str, Any]:
        archive, node = service(), _req(body, "node", int)
        if node not in archive.archive_nodes():  # validated before anything is stored (docs/security.md)
            raise BadRequest(f"node: {node} is not an archive node of this node's config or plan")
        return await archive.declare_lost(node)

    @checked
    async def op_status(body: dict[str, Any]) -> dict[str, Any]:
        archive = service()
        name = _opt(body, "name", str)
        if name is None:
            return {"archive": archive.status()}
        entry = archive.lookup(name)
        return {"archive": archive.put_status(entry.object_id, name)}

    return {
        "archive_put": op_put,
        "archive_get": op_get,
        "archive_ls": op_ls,
        "archive_rm": op_rm,
        "archive_lost": op_lost,
        "archive_status": op_status,
    }
