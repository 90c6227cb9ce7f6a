"""MTCP: uD3TN's minimal TCP CLA. Each bundle travels as one CBOR byte string (major type 2, definite
length) on a plain TCP stream; there is no handshake, no acknowledgement and no node ID exchange.

`MtcpDecoder` is the pure framing (bytes in, bundles out, bounded); `MtcpLink`, `serve_mtcp`, `connect_mtcp`
and `run_mtcp_session` are the Trio adapters, interoperable with pyd3tn's `MTCPConnection`.

The byte string header is written and parsed here rather than with cbor2 because a stream reader must know
the payload length from the header alone, before the payload has arrived (cbor2 decodes whole items).
"""

from __future__ import annotations

import functools
import logging
import struct

import trio

from dtn.errors import ClaError, DecodeError, DtnError

from .base import OnBundle, OnLinkDown, OnLinkUp, call_link_down
from .stream_util import serve_tcp_sessions
from .stream_util import set_nodelay as _set_nodelay

log = logging.getLogger(__name__)

DEFAULT_MAX_BUNDLE_BYTES = 128 * 1024 * 1024
RECEIVE_SIZE_BYTES = 256 * 1024
_MAJOR_BYTE_STRING = 0x40


def mtcp_header(length_bytes: int) -> bytes:
    """The CBOR byte string head for a payload of `length_bytes` (RFC 8949 §3.1, shortest form)."""
    if length_bytes < 24:
        return bytes([_MAJOR_BYTE_STRING | length_bytes])
    if length_bytes < 1 << 8:
        return bytes([_MAJOR_BYTE_STRING | 24, length_bytes])
    if length_bytes < 1 << 16:
        return bytes([_MAJOR_BYTE_STRING | 25]) + struct.pack("!H", length_bytes)
    if length_bytes < 1 << 32:
        return bytes([_MAJOR_BYTE_STRING | 26]) + struct.pack("!I", length_bytes)
    return bytes([_MAJOR_BYTE_STRING | 27]) + struct.pack("!Q", length_bytes)


def encode_mtcp(bundle: bytes) -> bytes:
    """One MTCP frame: CBOR byte string head + the bundle."""
    return mtcp_header(len(bundle)) + bytes(bundle)


class MtcpDecoder:
    """Incremental MTCP deframer. `feed(data)` returns the bundles completed by `data` (any chunking).
    A frame that is not a definite-length byte string, or is longer than `max_bundle_bytes`, is a
    `DecodeError` with the stream offset: raised at once, or (when whole bundles came before it in the same
    chunk) returned with those bundles and kept in `error` / raised by the next `feed`. Memory never exceeds
    one frame plus one chunk."""

    def __init__(self, max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES) -> None:
        self.max_bundle_bytes = max_bundle_bytes
        self._buf = bytearray()
        self._need: int | None = None  # payload bytes still expected for the current frame
        self._frame = bytearray()
        self._offset = 0  # stream offset of self._buf[0]
        self.error: DecodeError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            raise self.error
        out: list[bytes] = []
        try:
            self._parse(data, out)
        except DecodeError as exc:
            self.error = exc
            self._buf = bytearray()
            if not out:
                raise
        return out

    def _parse(self, data: bytes, out: list[bytes]) -> None:
        self._buf += data
        pos = 0
        buf = self._buf
        while True:
            if self._need is not None:
                take = min(self._need, len(buf) - pos)
                self._frame += buf[pos : pos + take]
                pos += take
                self._need -= take
                if self._need:
                    break
                out.append(bytes(self._frame))
                self._frame = bytearray()
                self._need = None
                continue
            if pos >= len(buf):
                break
            head = buf[pos]
            major, info = head & 0xE0, head & 0x1F
            if major != _MAJOR_BYTE_STRING or info > 27:
                raise DecodeError(
                    f"MTCP frame must be a definite-length CBOR byte string, got initial byte 0x{head:02x}",
                    offset=self._offset + pos,
                )
            extra = 0 if info < 24 else 1 << (info - 24)
            if len(buf) - pos < 1 + extra:
                break
            length = info if info < 24 else int.from_bytes(buf[pos + 1 : pos + 1 + extra], "big")
            if length > self.max_bundle_bytes:
                raise DecodeError(
                    f"MTCP frame of {length} bytes exceeds the limit of {self.max_bundle_bytes} bytes",
                    offset=self._offset + pos,
                )
            pos += 1 + extra
            self._need = length
            if length == 0:
                out.append(b"")
                self._need = None
        del buf[:pos]
        self._offset += pos


class MtcpLink:
    """One MTCP connection as a `dtn.cla.base.Link`. `send_bundle` returns once the frame is written (MTCP
    has no acknowledgements). `peer_node_id` is whatever the caller configured (MTCP does not exchange one)."""

    cla_name = "mtcp"

    def __init__(
        self,
        stream: trio.abc.Stream,
        on_bundle: OnBundle,
        *,
        peer_address: str = "",
        peer_node_id: str | None = None,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    ) -> None:
        self.peer_node_id = peer_node_id
        self.peer_address = peer_address
        self.down_reason: str | None = None
        self._stream = stream
        self._on_bundle = on_bundle
        self._decoder = MtcpDecoder(max_bundle_bytes)
        self._send_lock = trio.Lock()
        self._closed = False
        self._cancel = trio.CancelScope()

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_bundle(self, data: bytes) -> None:
        if self._closed:
            raise ClaError(f"MTCP connection to {self.peer_address} is closed")
        async with self._send_lock:
            try:
                await self._stream.send_all(encode_mtcp(data))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._closed = True
                raise ClaError(f"MTCP connection to {self.peer_address} lost: {exc}") from exc

    async def close(self, reason: int | None = None) -> None:
        self._closed = True
        self._cancel.cancel()
        await trio.aclose_forcefully(self._stream)

    async def _receive_loop(self) -> None:
        with self._cancel:
            while True:
                try:
                    data = await self._stream.receive_some(RECEIVE_SIZE_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self.down_reason = self.down_reason or f"connection lost: {exc}"
                    return
                if not data:
                    return
                try:
                    bundles = self._decoder.feed(data)
                except DecodeError as exc:
                    self.down_reason = str(exc)
                    log.info("MTCP %s: %s", self.peer_address, exc)
                    return
                for bundle in bundles:
                    try:
                        await self._on_bundle(bundle, self)
                    except DtnError as exc:  # no way to refuse in MTCP: the bundle is dropped
                        log.info("MTCP %s: bundle dropped: %s", self.peer_address, exc)
                if self._decoder.error is not None:
                    self.down_reason = str(self._decoder.error)
                    log.info("MTCP %s: %s", self.peer_address, self._decoder.error)
                    return


async def run_mtcp_session(
    stream: trio.abc.Stream,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    peer_address: str = "",
    peer_node_id: str | None = None,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    task_status: trio.TaskStatus[MtcpLink] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one MTCP connection over any stream until the peer closes it or `link.close()`."""
    link = MtcpLink(
        stream, on_bundle, peer_address=peer_address, peer_node_id=peer_node_id, max_bundle_bytes=max_bundle_bytes
    )
    task_status.started(link)
    try:
        if on_link_up is not None:
            await on_link_up(link)
        await link._receive_loop()
    finally:
        link._closed = True
        await trio.aclose_forcefully(stream)
        await call_link_down(on_link_down, link, link.down_reason)


async def connect_mtcp(
    host: str,
    port: int,
    on_bundle: OnBundle,
    *,
    nursery: trio.Nursery,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    peer_node_id: str | None = None,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
) -> MtcpLink:
    """Connect to an MTCP listener (uD3TN, or `serve_mtcp`); the receive task runs in `nursery`."""
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ClaError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    _set_nodelay(stream)
    return await nursery.start(
        functools.partial(
            run_mtcp_session,
            stream,
            on_bundle,
            on_link_up,
            on_link_down,
            peer_address=f"{host}:{port}",
            peer_node_id=peer_node_id,
            max_bundle_bytes=max_bundle_bytes,
        )
    )


async def serve_mtcp(
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen for MTCP connections until cancelled; `task_status.started(port)` reports the bound port."""

    async def run(stream: trio.SocketStream, address: str) -> None:
        await run_mtcp_session(
            stream, on_bundle, on_link_up, on_link_down, peer_address=address, max_bundle_bytes=max_bundle_bytes
        )

    await serve_tcp_sessions(run, host=host, port=port, kind="MTCP", log=log, task_status=task_status)
