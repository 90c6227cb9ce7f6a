"""The agent API server: local applications talk to the node over a Unix socket (or loopback TCP).

Each connection is served by one task: read a frame, run the op, write exactly one reply. A bad message (not
msgpack, not a map, unknown op, wrong field types, a frame over the size limit) gets an error reply and the
connection goes on; nothing a client sends can stop the node. Deliveries handed out on a connection and not
acknowledged when it closes go back to the queue. docs/agent.md lists the ops and their fields.

Who may call (docs/security.md): on the Unix socket, the node's own user and root (SO_PEERCRED); on the TCP
socket, whoever shows the token in `hello` (dtn.node.agentauth). Until then every op is refused.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import pathlib
import secrets
import socket
import stat
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import trio

from dtn.errors import ConfigError, DecodeError, DtnError
from dtn.node.clock import move_on_after
from dtn.node.agentauth import (
    FileRefused,
    PeerCred,
    default_token_path,
    ensure_token,
    peer_credentials,
    read_file_as,
    token_matches,
)
from dtn.agentproto import (
    BAD_REQUEST,
    INTERNAL,
    PROTOCOL_VERSION,
    REFUSED,
    UNAUTHORIZED,
    UNKNOWN_OP,
    FrameDecoder,
    Malformed,
    Message,
    Oversized,
    encode_frame,
    error,
    ok,
)

if TYPE_CHECKING:
    from dtn.node.node import Node

log = logging.getLogger("dtn.node.agent")

REPORT_KINDS = ("reception", "forwarding", "delivery", "deletion")
MAX_RECEIVE_TIMEOUT_S = 3600.0


class BadRequest(DtnError):
    """A request with missing or mistyped fields (answered with code bad_request)."""


class AgentConnection:
    """One application connection: its in-flight deliveries and registrations."""

    def __init__(
        self,
        node: "Node",
        stream: trio.abc.Stream,
        max_message_bytes: int,
        *,
        token: bytes | None = None,
        peer: PeerCred | None = None,
    ) -> None:
        """`peer`: the Unix socket caller (file parameters are read with its rights); `token`: the secret a
        caller without known identity (TCP) must show in `hello` before any op runs. Neither: an in-process
        stream, trusted, without file parameters."""
        self.node = node
        self.stream = stream
        self.decoder = FrameDecoder(max_message_bytes)
        self.peer = peer
        self.token = token
        self.authenticated = token is None and (peer is None or peer.trusted)
        self._closing = False
        self.in_flight: set[str] = set()  # delivery keys handed out, not yet acknowledged
        self.registered: set[str] = set()
        self._ops: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "hello": self.op_hello,
            "status": self.op_status,
            "register": self.op_register,
            "unregister": self.op_unregister,
            "send": self.op_send,
            "receive": self.op_receive,
            "ack": self.op_ack,
            "contact": self.op_contact,
            "reports": self.op_reports,
            "events": self.op_events,
            "stop": self.op_stop,
        }
        from dtn.node.archive_agent import archive_ops  # the archive's ops (docs/archive.md)

        self._ops.update(archive_ops(self))
        from dtn.node.compute import compute_ops  # the compute service's ops (docs/compute.md)

        self._ops.update(compute_ops(self))

    async def serve(self) -> None:
        try:
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    return
                self.decoder.feed(data)
                for frame in self.decoder.frames():
                    reply = await self.handle(frame)
                    await self.stream.send_all(encode_frame(reply))
                    if self._closing:  # a failed authentication: one answer, then the connection ends
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            self.node.release_deliveries(self.in_flight)
            self.in_flight.clear()
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    async def handle(self, frame: Message | Malformed | Oversized) -> dict[str, Any]:
        if isinstance(frame, Oversized):
            return error(
                None,
                BAD_REQUEST,
                f"message of {frame.length_bytes} bytes exceeds the limit of {self.decoder.max_message_bytes} bytes",
            )
        if isinstance(frame, Malformed):
            return error(None, BAD_REQUEST, frame.reason)
        body = frame.body
        request_id = body.get("id")
        if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
            return error(None, BAD_REQUEST, "id must be an integer or a string")
        op = body.get("op")
        handler = self._ops.get(op) if isinstance(op, str) else None
        if not self.authenticated:
            refusal = self._authenticate(op, body)
            if refusal is not None:
                self._closing = True
                return error(request_id, UNAUTHORIZED, refusal)
        if handler is None:
            return error(request_id, UNKNOWN_OP, f"unknown op {op!r} (known: {', '.join(sorted(self._ops))})")
        try:
            return ok(request_id, **await handler(body))
        except (BadRequest, FileRefused, ConfigError) as exc:  # ConfigError names the field (its key)
            return error(request_id, BAD_REQUEST, str(exc))
        except DtnError as exc:
            return error(request_id, REFUSED, str(exc))
        except Exception as exc:  # the node must survive a bug triggered by one request; the client learns
            log.exception("agent op %s failed", op)
            return error(request_id, INTERNAL, f"{type(exc).__name__}: {exc}")

    def _authenticate(self, op: Any, body: dict[str, Any]) -> str | None:
        """None if this request may run (and the connection is now authenticated), else the refusal."""
        if self.peer is not None and not self.peer.trusted:
            return (
                f"uid {self.peer.uid} may not use this node's agent socket (only uid {os.geteuid()} and root; "
                "docs/security.md)"
            )
        if op != "hello" or "token" not in body:
            return "this agent socket needs the node's token: send it in hello (docs/security.md)"
        if self.token is None or not token_matches(self.token, body.get("token")):
            log.warning("agent: wrong token from %s", _peer_name(self.stream))
            return "wrong token"
        self.authenticated = True
        return None

    async def read_file(self, path: str) -> bytes:
        """A `file=` parameter, read with the caller's rights (dtn.node.agentauth.read_file_as)."""
        if self.peer is None:
            raise BadRequest(
                "file: a file path is accepted only on the Unix agent socket, where the caller is "
                "known; send the bytes as payload"
            )
        return await trio.to_thread.run_sync(read_file_as, path, self.peer, self.decoder.max_message_bytes)

    # -- ops ---------------------------------------------------------------------------------------------------
    async def op_hello(self, body: dict[str, Any]) -> dict[str, Any]:
        version = _opt(body, "version", int)
        if version is not None and version != PROTOCOL_VERSION:
            raise BadRequest(f"protocol version {version} not supported (this node speaks {PROTOCOL_VERSION})")
        return {
            "version": PROTOCOL_VERSION,
            "node_id": self.node.node_id,
            "node_number": self.node.node_number,
            "dtn_id": self.node.config.dtn_id,
        }

    async def op_status(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.node.status()}

    async def op_register(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = _endpoint(body)
        self.node.register_endpoint(endpoint)
        self.registered.add(endpoint)
        return {"endpoint": endpoint}

    async def op_unregister(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = _req(body, "endpoint", str)
        self.node.unregister_endpoint(endpoint)
        self.registered.discard(endpoint)
        return {"endpoint": endpoint}

    async def op_send(self, body: dict[str, Any]) -> dict[str, Any]:
        destination = _req(body, "destination", str)
        payload = _opt(body, "payload", bytes)
        file = _opt(body, "file", str)
        if (payload is None) == (file is None):
            raise BadRequest("give exactly one of payload (bytes) or file (a path the node can read)")
        if file is not None:
            payload = await self.read_file(file)
        lifetime_s = _opt(body, "lifetime_s", (int, float))
        if lifetime_s is not None and not (math.isfinite(lifetime_s) and lifetime_s > 0):
            raise BadRequest("lifetime_s must be a positive number of seconds")
        report = _opt(body, "report", list) or []
        for kind in report:
            if kind not in REPORT_KINDS:
                raise BadRequest(f"unknown report kind {kind!r} (one of {', '.join(REPORT_KINDS)})")
        hop_limit = _opt(body, "hop_limit", int)
        if hop_limit is not None and not 1 <= hop_limit <= 255:
            raise BadRequest("hop_limit must be in 1..255")
        crc_type = _opt(body, "crc_type", int)  # the primary block's CRC (and the others', unless block_crc_type)
        block_crc_type = _opt(body, "block_crc_type", int)
        for name, value in (("crc_type", crc_type), ("block_crc_type", block_crc_type)):
            if value is not None and value not in (0, 1, 2):
                raise BadRequest(f"{name} must be 0, 1 or 2")
        if crc_type == 0 and self.node.security is None:  # RFC 9171 §4.3.1 (checked again once built)
            raise BadRequest(
                "crc_type: 0 leaves the primary block without a CRC, allowed only unless a BIB covers it "
                "(RFC 9171 §4.3.1), and this node has no [security] policy; use 1 or 2"
            )
        if crc_type is not None and block_crc_type is None:
            block_crc_type = crc_type
        return await self.node.send_from_application(
            destination,
            payload,
            source=_opt(body, "source", str),
            lifetime_s=lifetime_s,
            report=tuple(report),
            report_to=_opt(body, "report_to", str),
            hop_limit=hop_limit,
            crc_type=crc_type,
            block_crc_type=block_crc_type,
            no_fragment=bool(_opt(body, "no_fragment", bool)),
        )

    async def op_receive(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = _endpoint(body)
        timeout_s = _opt(body, "timeout_s", (int, float))
        if timeout_s is not None and not (timeout_s >= 0 and math.isfinite(timeout_s)):
            raise BadRequest("timeout_s must be a non-negative number")
        timeout_s = MAX_RECEIVE_TIMEOUT_S if timeout_s is None else min(timeout_s, MAX_RECEIVE_TIMEOUT_S)
        self.node.register_endpoint(endpoint)
        self.registered.add(endpoint)
        item = None
        with move_on_after(self.node.clock, timeout_s):
            item = await self.node.next_delivery(endpoint)
        if item is not None:
            self.in_flight.add(item["bundle"])
        return {"bundle": item}

    async def op_ack(self, body: dict[str, Any]) -> dict[str, Any]:
        key = _req(body, "bundle", str)
        if key not in self.in_flight:
            raise BadRequest(f"bundle {key!r} was not delivered on this connection (or is already acknowledged)")
        await self.node.acknowledge_delivery(key)
        self.in_flight.discard(key)
        return {"bundle": key}

    async def op_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        peer = _req(body, "peer", int)
        state = _req(body, "state", str)
        if state not in ("up", "down", "plan"):
            raise BadRequest("state must be 'up', 'down' or 'plan'")
        known = contact_peers(self.node)
        if peer not in known:  # an override is stored and shown by status: only for a real neighbour
            listed = ", ".join(str(n) for n in sorted(known)[:20]) or "none"
            raise BadRequest(
                f"peer: {peer} is not a neighbour of {self.node.node_id} in its config or plan (neighbours: {listed})"
            )
        await self.node.set_contact_override(peer, state)
        return {"peer": peer, "state": state}

    async def op_reports(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"reports": list(self.node.reports)}

    async def op_events(self, body: dict[str, Any]) -> dict[str, Any]:
        last = _opt(body, "last", int)
        last = 100 if last is None else max(0, min(last, 10000))
        events = list(self.node.events.recent)
        return {"events": events[-last:] if last else []}

    async def op_stop(self, body: dict[str, Any]) -> dict[str, Any]:
        self.node.request_stop()
        return {}


def contact_peers(node: "Node") -> set[int]:
    """Nodes a contact override may name: configured neighbours and this node's peers in its contact plan."""
    peers = set(node.config.neighbours)
    me = node.node_number
    if node.plan is not None:
        for contact in node.plan.contacts:
            if contact.from_node == me:
                peers.add(contact.to_node)
            elif contact.to_node == me:
                peers.add(contact.from_node)
    peers.discard(me)
    return peers


def _endpoint(body: dict[str, Any]) -> str:
    """An `endpoint` field: a well-formed EID (numbers in range); that it is this node's is checked by the node."""
    from dtn.bpv7.eid import parse_eid

    endpoint = _req(body, "endpoint", str)
    try:
        parse_eid(endpoint)
    except (DecodeError, ValueError) as exc:
        raise BadRequest(f"endpoint: {getattr(exc, 'reason', exc)}") from None
    return endpoint


def _req(body: dict[str, Any], name: str, kind: Any) -> Any:
    if name not in body or body[name] is None:
        raise BadRequest(f"missing field {name!r}")
    return _opt(body, name, kind)


def _opt(body: dict[str, Any], name: str, kind: Any) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise BadRequest(f"field {name!r} has the wrong type (bool)")
    if not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise BadRequest(f"field {name!r} must be {names}, got {type(value).__name__}")
    return value


# -- listeners ---------------------------------------------------------------------------------------------------


async def open_unix_listener(path: pathlib.Path) -> trio.SocketListener:
    """Bind a Unix stream socket at `path`, replacing a stale socket file (never a regular file)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise DtnError(f"agent socket path {path} exists and is not a socket")
        if await _socket_alive(path):
            raise DtnError(f"agent socket {path} is in use by a running node")
        os.unlink(path)
    if len(os.fsencode(path)) > 100:
        raise DtnError(f"agent socket path too long for a Unix socket ({len(os.fsencode(path))} bytes): {path}")
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(os.fspath(path))
        os.chmod(path, 0o600)
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock)


async def _socket_alive(path: pathlib.Path) -> bool:
    try:
        stream = await trio.open_unix_socket(os.fspath(path))
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    await stream.aclose()
    return True


async def serve_agent(
    node: "Node", listeners: list[trio.abc.Listener], *, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the agent API on `listeners`; `task_status.started(token_file)`: the token file of the TCP socket
    (created at the first start), None without one."""
    max_bytes = node.config.agent.max_message_bytes
    token_file: pathlib.Path | None = None
    token: bytes | None = None
    tcp = [ls for ls in listeners if _family(ls) in (socket.AF_INET, socket.AF_INET6)]
    if tcp:
        token_file = node.config.agent.token_file
        if token_file is None:
            host, port = tcp[0].socket.getsockname()[:2]
            token_file = default_token_path(host, port)
        token = ensure_token(token_file)

    async def handler(stream: trio.abc.Stream) -> None:
        family = _family(stream)
        if family == socket.AF_UNIX:
            # Without SO_PEERCRED (not Linux) the socket's mode 0600 is the only gate, and file parameters
            # are refused (peer None).
            await AgentConnection(node, stream, max_bytes, peer=peer_credentials(stream.socket)).serve()
        else:
            await AgentConnection(node, stream, max_bytes, token=token or secrets.token_bytes(32)).serve()

    async with trio.open_nursery() as nursery:
        task_status.started(None if token_file is None else str(token_file))
        for listener in listeners:
            nursery.start_soon(trio.serve_listeners, handler, [listener])


def _family(obj: Any) -> int | None:
    sock = getattr(obj, "socket", None)
    return getattr(sock, "family", None)


def _peer_name(stream: trio.abc.Stream) -> str:
    try:
        peer = stream.socket.getpeername()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return "?"
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix socket"
