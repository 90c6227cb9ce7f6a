"""Talk to a running node over its agent socket: an async (Trio) client and a small synchronous wrapper.

    import trio, dtn.client

    async def main():
        async with await dtn.client.Client.connect("/tmp/a.sock") as node:
            sent = await node.send("ipn:2.1", b"hello", lifetime_s=600, report=["delivery"])
            print(sent.bundle)                       # store key of the new bundle
            delivery = await node.receive("ipn:1.1", timeout_s=5)
            if delivery is not None:
                print(delivery.payload)
                await node.ack(delivery)             # the node deletes it only now

    trio.run(main)

    with dtn.client.SyncClient("/tmp/a.sock") as node:
        print(node.status()["bundles"])

The address is a Unix socket path, or `host:port` / `tcp:host:port` for the optional loopback TCP socket. The
TCP socket needs the node's token (docs/security.md): pass `token=` or `token_file=`, or set
DTN_AGENT_TOKEN_FILE; by default the client reads the file the node wrote for that address
(`dtn.node.agentauth.default_token_path`).
Requests on one connection are answered in order; use a second client to send while another waits in
`receive`. A delivery that is not acknowledged before the connection closes goes back to the node's queue and
is delivered again. Errors the node reports raise `ClientError` (its `code` is the protocol's error code).
docs/agent.md describes the protocol underneath.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable

import trio

from dtn.errors import ClientError
from dtn.agentproto import (
    DEFAULT_MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    FrameDecoder,
    Malformed,
    Message,
    Oversized,
    encode_frame,
)

REPORT_KINDS = ("reception", "forwarding", "delivery", "deletion")
_TCP = re.compile(r"^(?:tcp:)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d+)$")


class NodeError(ClientError):
    """The node answered a request with an error."""

    def __init__(self, message: str, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SendResult:
    """A bundle the node accepted (it is durable in the store when this is returned)."""

    bundle: str  # store key
    source: str
    destination: str
    creation_time_ms: int
    sequence: int
    size_bytes: int
    next_hop: int | None = None  # the neighbour it was assigned to at once (None: local, or waiting)
    note: str = ""  # one line on its routing: "next hop ipn:2.0 (contact plan)", "no route to ...: it waits ..."


@dataclass(frozen=True, slots=True)
class Delivery:
    """A bundle delivered to an application endpoint; call `ack` once it is safely handled."""

    bundle: str
    endpoint: str
    source: str
    destination: str
    payload: bytes
    creation_time_ms: int
    sequence: int
    lifetime_ms: int
    admin: dict[str, Any] | None = None  # decoded administrative record (status report), if it is one
    extra: dict[str, Any] = field(default_factory=dict)


def parse_address(address: str | os.PathLike) -> tuple[str, Any]:
    """'/run/a.sock' -> ('unix', path); '127.0.0.1:4242' or 'tcp:[::1]:4242' -> ('tcp', (host, port))."""
    text = os.fspath(address)
    if text.startswith("unix:"):
        return "unix", text[5:]
    m = _TCP.match(text)
    if m and not text.startswith(("/", ".")):
        host = m.group(1).strip("[]")
        return "tcp", (host, int(m.group(2)))
    return "unix", text


class Client:
    """An async agent-API client over one stream (Unix socket or loopback TCP)."""

    def __init__(self, stream: trio.abc.Stream, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._stream = stream
        self._decoder = FrameDecoder(max_message_bytes)
        self._ids = itertools.count(1)
        self._lock = trio.Lock()
        self.node_id: str | None = None
        self.node_number: int | None = None

    @classmethod
    async def connect(
        cls,
        address: str | os.PathLike,
        *,
        timeout_s: float = 10.0,
        token: str | bytes | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> "Client":
        """Connect and say hello (which checks the protocol version, shows the token on TCP, and learns the
        node ID)."""
        kind, where = parse_address(address)
        try:
            with trio.fail_after(timeout_s):
                if kind == "unix":
                    if not pathlib.Path(where).exists():
                        raise ClientError(f"no node socket at {where} (is the node running?)")
                    stream = await trio.open_unix_socket(where)
                else:
                    stream = await trio.open_tcp_stream(*where)
        except trio.TooSlowError:
            raise ClientError(f"timed out connecting to the node at {address}") from None
        except OSError as exc:
            raise ClientError(f"cannot connect to the node at {address}: {exc.strerror or exc}") from None
        client = cls(stream)
        try:
            if kind == "tcp" and token is None:  # after connecting: "nothing listens there" comes first
                token = _find_token(where, token_file)
            if isinstance(token, bytes):
                token = token.decode("ascii", "replace")
            hello = await client.request("hello", version=PROTOCOL_VERSION, token=token if kind == "tcp" else None)
        except BaseException:
            await client.aclose()
            raise
        client.node_id = hello.get("node_id")
        client.node_number = hello.get("node_number")
        return client

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    # -- the protocol ------------------------------------------------------------------------------------------
    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return the reply's fields; raise NodeError if the node refused it."""
        async with self._lock:
            request_id = next(self._ids)
            body = {"op": op, "id": request_id}
            body.update({k: v for k, v in fields.items() if v is not None})
            try:
                await self._stream.send_all(encode_frame(body))
                reply = await self._read_reply()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                raise ClientError(f"connection to the node lost: {exc}") from None
        if reply.get("id") != request_id:
            raise ClientError(f"reply out of order (expected id {request_id}, got {reply.get('id')!r})")
        if not reply.get("ok"):
            raise NodeError(str(reply.get("error", "request refused")), code=reply.get("code"))
        return reply

    async def _read_reply(self) -> dict[str, Any]:
        while True:
            for frame in self._decoder.frames():
                if isinstance(frame, Message):
                    return frame.body
                if isinstance(frame, Oversized):
                    raise ClientError(f"reply too large ({frame.length_bytes} bytes)")
                if isinstance(frame, Malformed):
                    raise ClientError(f"malformed reply: {frame.reason}")
            data = await self._stream.receive_some(65536)
            if not data:
                raise ClientError("the node closed the connection")
            self._decoder.feed(data)

    # -- operations --------------------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        """Node summary: node ID, uptime, bundle counts, store use, sessions, contacts, event counts."""
        reply = await self.request("status")
        return reply["status"]

    async def register(self, endpoint: str) -> None:
        """Register `endpoint` (ipn:<node>.S or dtn://node/x) so bundles for it are kept for this application."""
        await self.request("register", endpoint=endpoint)

    async def unregister(self, endpoint: str) -> None:
        await self.request("unregister", endpoint=endpoint)

    async def send(
        self,
        destination: str,
        payload: bytes | None = None,
        *,
        file: str | os.PathLike | None = None,
        source: str | None = None,
        lifetime_s: float | None = None,
        report: Iterable[str] = (),
        report_to: str | None = None,
        hop_limit: int | None = None,
        crc_type: int | None = None,
        no_fragment: bool = False,
        block_crc_type: int | None = None,
    ) -> SendResult:
        """Hand a bundle to the node; returns once it is durable in the node's store.

        `payload` bytes, or `file` (read by this client). `report` asks for status reports: any of
        "reception", "forwarding", "delivery", "deletion" (RFC 9171 §4.2.3); they go to `report_to`
        (default: the source endpoint). `crc_type` is the primary block's CRC (0 none, 1 CRC-16, 2 CRC-32C) and,
        unless `block_crc_type` is given, every other block's (node defaults: `[bundles]`)."""
        if (payload is None) == (file is None):
            raise ClientError("give exactly one of payload or file")
        if file is not None:
            try:
                payload = pathlib.Path(file).read_bytes()
            except OSError as exc:
                raise ClientError(f"cannot read {file}: {exc.strerror or exc}") from None
        kinds = list(report)
        for kind in kinds:
            if kind not in REPORT_KINDS:
                raise ClientError(f"unknown report kind {kind!r} (one of {', '.join(REPORT_KINDS)})")
        reply = await self.request(
            "send",
            destination=destination,
            payload=bytes(payload),
            source=source,
            lifetime_s=lifetime_s,
            report=kinds or None,
            report_to=report_to,
            hop_limit=hop_limit,
            crc_type=crc_type,
            block_crc_type=block_crc_type,
            no_fragment=no_fragment or None,
        )
        return SendResult(
            bundle=reply["bundle"],
            source=reply["source"],
            destination=reply["destination"],
            creation_time_ms=reply["creation_time_ms"],
            sequence=reply["sequence"],
            size_bytes=reply["size_bytes"],
            next_hop=reply.get("next_hop"),
            note=reply.get("note", ""),
        )

    async def receive(self, endpoint: str, *, timeout_s: float | None = None) -> Delivery | None:
        """The next bundle for `endpoint` (registering it if needed), or None after `timeout_s`.

        Acknowledge it with `ack`; unacknowledged deliveries return to the queue when the connection closes."""
        reply = await self.request("receive", endpoint=endpoint, timeout_s=timeout_s)
        item = reply.get("bundle")
        if item is None:
            return None
        return _delivery(item)

    async def ack(self, delivery: Delivery | str) -> None:
        """Tell the node the application has the bundle: the node deletes it and sends a delivery report."""
        key = delivery.bundle if isinstance(delivery, Delivery) else delivery
        await self.request("ack", bundle=key)

    async def deliveries(self, endpoint: str, *, poll_s: float = 30.0) -> AsyncIterator[Delivery]:
        """Every bundle for `endpoint`, forever (ack each one)."""
        while True:
            delivery = await self.receive(endpoint, timeout_s=poll_s)
            if delivery is not None:
                yield delivery

    async def contact(self, peer: int, state: str) -> None:
        """Admin: declare the link to neighbour `peer` "up" or "down" (overriding the plan), or back to "plan"."""
        await self.request("contact", peer=int(peer), state=state)

    async def reports(self) -> list[dict[str, Any]]:
        """Status reports received for bundles this node sent (most recent last)."""
        reply = await self.request("reports")
        return list(reply["reports"])

    async def events(self, *, last: int = 100) -> list[dict[str, Any]]:
        """The node's most recent events (as in its event log)."""
        reply = await self.request("events", last=last)
        return list(reply["events"])

    async def stop(self) -> None:
        """Admin: ask the node to stop gracefully."""
        await self.request("stop")

    async def ping(
        self,
        destination: str,
        *,
        count: int = 3,
        interval_s: float = 1.0,
        timeout_s: float = 10.0,
        lifetime_s: float | None = None,
    ) -> list[float | None]:
        """Send `count` echo requests to `destination` (an echo service, e.g. ipn:2.7); return each round-trip
        time in seconds (None: no reply within `timeout_s`). Uses a fresh endpoint of this node as source."""
        if self.node_number is None:
            raise ClientError("ping needs an ipn node (the node did not report its number)")
        service = 0x4000_0000 + secrets.randbelow(0x3FFF_FFFF)
        endpoint = f"ipn:{self.node_number}.{service}"
        await self.register(endpoint)
        token = secrets.token_hex(4)
        rtts: list[float | None] = []
        try:
            for seq in range(count):
                started = trio.current_time()
                payload = f"spacedtn-ping {token} {seq}".encode()
                await self.send(destination, payload, source=endpoint, lifetime_s=lifetime_s or max(timeout_s, 1.0))
                deadline = started + timeout_s
                rtt = None
                while (left := deadline - trio.current_time()) > 0:
                    reply = await self.receive(endpoint, timeout_s=left)
                    if reply is None:
                        break
                    await self.ack(reply)
                    if reply.payload == payload:
                        rtt = trio.current_time() - started
                        break
                rtts.append(rtt)
                if seq + 1 < count:
                    await trio.sleep_until(started + interval_s)
        finally:
            try:
                await self.unregister(endpoint)
            except ClientError:
                pass
        return rtts

    # -- the orbital archive (docs/archive.md) -----------------------------------------------------------------
    async def archive_put(
        self,
        payload: bytes | None = None,
        *,
        file: str | os.PathLike | None = None,
        name: str | None = None,
        metadata: dict[str, str] | None = None,
        replicas: int | None = None,
        chunk_bytes: int | None = None,
        wait: str = "none",
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Archive an object under `name` (default: the file's name) on `replicas` nodes. `wait` "first" or
        "all" waits (up to `timeout_s`) for the first or every replica's acknowledgement. Returns `object_id`,
        `name`, `new`, `size_bytes`, `chunks`, `replicas`, `acked`, `first_replica_unix_s`, `all_replicas_unix_s`."""
        if (payload is None) == (file is None):
            raise ClientError("give exactly one of payload or file")
        if file is not None:
            path = pathlib.Path(file)
            try:
                payload = path.read_bytes()
            except OSError as exc:
                raise ClientError(f"cannot read {file}: {exc.strerror or exc}") from None
            name = name or path.name
        reply = await self.request(
            "archive_put",
            payload=payload,
            name=name,
            metadata=metadata,
            replicas=replicas,
            chunk_bytes=chunk_bytes,
            wait=wait,
            timeout_s=timeout_s,
        )
        return _fields_of(reply)

    async def archive_get(self, name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """The object named `name` (`data` bytes), waiting up to `timeout_s` while it is fetched; `data` is None
        (and `pending` true) when it has not arrived in time."""
        return _fields_of(await self.request("archive_get", name=name, timeout_s=timeout_s))

    async def archive_ls(self) -> list[dict[str, Any]]:
        """The archive catalogue as this node knows it."""
        return (await self.request("archive_ls"))["objects"]

    async def archive_rm(self, name: str) -> dict[str, Any]:
        """Delete `name` everywhere (a tombstone that replicates)."""
        return _fields_of(await self.request("archive_rm", name=name))

    async def archive_lost(self, node: int) -> dict[str, Any]:
        """Declare archive node `node` lost: the surviving holders restore k replicas."""
        return _fields_of(await self.request("archive_lost", node=node))

    async def archive_status(self, name: str | None = None) -> dict[str, Any]:
        """The archive service's state, or one object's replicas and acknowledgements."""
        return (await self.request("archive_status", name=name))["archive"]

    # -- compute next to the data (docs/compute.md) ------------------------------------------------------------
    async def compute_submit(
        self,
        function: str,
        inputs: list[bytes | str] = (),
        *,
        params: dict[str, Any] | None = None,
        node: int | None = None,
        fallback: int | None = None,
        candidates: list[int | tuple[int, float]] | None = None,
        deadline_s: float = 3600.0,
        result_mode: str = "inline",
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a job: `inputs` are bytes (inline) or archive object IDs (text). It runs at `node`, or at the
        candidate with the earliest predicted result. Returns `job_id`, `node`, `fallback`, `predicted_unix_s`."""
        cands = None if candidates is None else [list(c) if isinstance(c, tuple) else c for c in candidates]
        return _fields_of(
            await self.request(
                "compute_submit",
                function=function,
                inputs=list(inputs),
                params=params,
                node=node,
                fallback=fallback,
                candidates=cands,
                deadline_s=deadline_s,
                result_mode=result_mode,
                job_id=job_id,
            )
        )

    async def compute_status(self, job_id: str | None = None) -> dict[str, Any]:
        """The service's state, or one job's (`submitted` here and/or `job` run here)."""
        reply = _fields_of(await self.request("compute_status", job_id=job_id))
        return reply["compute"] if job_id is None else reply

    async def compute_result(self, job_id: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """A job submitted from this node, waiting up to `timeout_s` for its final state (`state` in done, failed,
        expired, refused; `result` bytes or `object_id` when done)."""
        return (await self.request("compute_result", job_id=job_id, timeout_s=timeout_s))["job"]

    async def compute_ls(self) -> dict[str, Any]:
        """Jobs submitted from this node and jobs run here."""
        return _fields_of(await self.request("compute_ls"))


def _find_token(where: tuple[str, int], token_file: str | os.PathLike | None) -> str:
    """The token for a TCP agent address: `token_file`, $DTN_AGENT_TOKEN_FILE, or the node's default file."""
    from dtn.errors import DtnError
    from dtn.node.agentauth import default_token_path, read_token

    path = token_file or os.environ.get("DTN_AGENT_TOKEN_FILE") or default_token_path(*where)
    try:
        return read_token(path).decode("ascii", "replace")
    except DtnError as exc:
        raise ClientError(
            f"{exc} (the TCP agent socket needs the node's token: give --token-file or set DTN_AGENT_TOKEN_FILE)"
        ) from None


def _fields_of(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k not in ("id", "ok")}


def _delivery(item: dict[str, Any]) -> Delivery:
    known = {
        "bundle",
        "endpoint",
        "source",
        "destination",
        "payload",
        "creation_time_ms",
        "sequence",
        "lifetime_ms",
        "admin",
    }
    return Delivery(
        bundle=item["bundle"],
        endpoint=item["endpoint"],
        source=item["source"],
        destination=item["destination"],
        payload=bytes(item["payload"]),
        creation_time_ms=item["creation_time_ms"],
        sequence=item["sequence"],
        lifetime_ms=item["lifetime_ms"],
        admin=item.get("admin"),
        extra={k: v for k, v in item.items() if k not in known},
    )


class SyncClient:
    """A blocking wrapper: one connection held by a background Trio thread; same methods as `Client`.

    with SyncClient("/tmp/b.sock") as node:
        node.send("ipn:3.1", b"hi")
        d = node.receive("ipn:2.1", timeout_s=5)
        if d: node.ack(d)
    """

    def __init__(
        self,
        address: str | os.PathLike,
        *,
        timeout_s: float = 10.0,
        token: str | bytes | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        self._auth = {"token": token, "token_file": token_file}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._client: Client | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._closing: trio.Event | None = None
        self._thread = threading.Thread(
            target=trio.run, args=(self._main, address, timeout_s), name="dtn-sync-client", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    async def _main(self, address: str, timeout_s: float) -> None:
        try:
            self._client = await Client.connect(address, timeout_s=timeout_s, **self._auth)
        except BaseException as exc:  # handed to the calling thread
            self._error = exc
            self._ready.set()
            return
        self._token = trio.lowlevel.current_trio_token()
        self._closing = trio.Event()
        self._ready.set()
        try:
            await self._closing.wait()
        finally:
            await self._client.aclose()

    def _call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        if self._token is None or not self._thread.is_alive():
            raise ClientError("client is closed")

        async def call() -> Any:
            return await getattr(self._client, name)(*args, **kwargs)

        return trio.from_thread.run(call, trio_token=self._token)

    @property
    def node_id(self) -> str | None:
        return self._client.node_id if self._client else None

    def close(self) -> None:
        if self._token is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(self._closing.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join()
        self._token = None

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        return self._call("request", op, **fields)

    def status(self) -> dict[str, Any]:
        return self._call("status")

    def register(self, endpoint: str) -> None:
        self._call("register", endpoint)

    def unregister(self, endpoint: str) -> None:
        self._call("unregister", endpoint)

    def send(self, destination: str, payload: bytes | None = None, **kwargs: Any) -> SendResult:
        return self._call("send", destination, payload, **kwargs)

    def receive(self, endpoint: str, *, timeout_s: float | None = None) -> Delivery | None:
        return self._call("receive", endpoint, timeout_s=timeout_s)

    def ack(self, delivery: Delivery | str) -> None:
        self._call("ack", delivery)

    def contact(self, peer: int, state: str) -> None:
        self._call("contact", peer, state)

    def reports(self) -> list[dict[str, Any]]:
        return self._call("reports")

    def events(self, *, last: int = 100) -> list[dict[str, Any]]:
        return self._call("events", last=last)

    def stop(self) -> None:
        self._call("stop")

    def ping(self, destination: str, **kwargs: Any) -> list[float | None]:
        return self._call("ping", destination, **kwargs)

    def archive_put(self, payload: bytes | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._call("archive_put", payload, **kwargs)

    def archive_get(self, name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        return self._call("archive_get", name, timeout_s=timeout_s)

    def archive_ls(self) -> list[dict[str, Any]]:
        return self._call("archive_ls")

    def archive_rm(self, name: str) -> dict[str, Any]:
        return self._call("archive_rm", name)

    def archive_lost(self, node: int) -> dict[str, Any]:
        return self._call("archive_lost", node)

    def archive_status(self, name: str | None = None) -> dict[str, Any]:
        return self._call("archive_status", name)

    def compute_submit(self, function: str, inputs: list[bytes | str] = (), **kwargs: Any) -> dict[str, Any]:
        return self._call("compute_submit", function, inputs, **kwargs)

    def compute_status(self, job_id: str | None = None) -> dict[str, Any]:
        return self._call("compute_status", job_id)

    def compute_result(self, job_id: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        return self._call("compute_result", job_id, timeout_s=timeout_s)

    def compute_ls(self) -> dict[str, Any]:
        return self._call("compute_ls")
