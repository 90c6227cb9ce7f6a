"""STCP, the "simple TCP" convergence layer of ION and HDTN: each bundle travels on a plain TCP stream after a
4-byte big-endian length. There is no handshake, no acknowledgement and no node ID exchange. A zero length is
no bundle: it is accepted and ignored (a keepalive), and we send one every `keepalive_s` when idle (0: never).

`StcpDecoder` is the pure framing (bytes in, bundles out, bounded); `StcpLink`, `run_stcp_session`,
`connect_stcp` and `serve_stcp` are the Trio adapters.
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
MAX_FRAME_BYTES = 0xFFFFFFFF
RECEIVE_SIZE_BYTES = 256 * 1024
_LENGTH = struct.Struct("!I")


def encode_stcp(bundle: bytes) -> bytes:
    """One STCP frame: the 4-byte big-endian length, then the bundle."""
    if len(bundle) > MAX_FRAME_BYTES:
        raise ClaError(f"bundle of {len(bundle)} bytes does not fit STCP's 4-byte length")
    return _LENGTH.pack(len(bundle)) + bytes(bundle)


class StcpDecoder:
    """Incremental STCP deframer: `feed(data)` returns the bundles completed by `data` (any chunking). A frame
    longer than `max_bundle_bytes` is a `DecodeError` with the stream offset (raised at once, or kept in
    `error` and raised by the next `feed` when whole bundles came before it). Zero-length frames are skipped."""

    def __init__(self, max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES) -> None:
        self.max_bundle_bytes = max_bundle_bytes
        self._buf = bytearray()
        self._need: int | None = None
        self._offset = 0
        self.error: DecodeError | None = None

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

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
        buf = self._buf
        buf += data
        pos = 0
        while True:
            if self._need is None:
                if len(buf) - pos < 4:
                    break
                (length,) = _LENGTH.unpack_from(buf, pos)
                if length > self.max_bundle_bytes:
                    raise DecodeError(
                        f"STCP frame of {length} bytes exceeds the limit of {self.max_bundle_bytes} bytes",
                        offset=self._offset + pos,
                    )
                pos += 4
                if length == 0:
                    continue  # keepalive
                self._need = length
            if len(buf) - pos < self._need:
                break
            out.append(bytes(buf[pos : pos + self._need]))
            pos += self._need
            self._need = None
        del buf[:pos]
        self._offset += pos


class StcpLink:
    """One STCP connection as a `dtn.cla.base.Link`. `send_bundle` returns once the frame is written (STCP has
    no acknowledgements). `peer_node_id` is whatever the caller configured (STCP does not exchange one)."""

    cla_name = "stcp"
    tls = None

    def __init__(
        self,
        stream: trio.abc.Stream,
        on_bundle: OnBundle,
        *,
        peer_address: str = "",
        peer_node_id: str | None = None,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
        keepalive_s: float = 0,
    ) -> None:
        self.peer_node_id = peer_node_id
        self.peer_address = peer_address
        self.down_reason: str | None = None
        self.keepalive_s = keepalive_s
        self._stream = stream
        self._on_bundle = on_bundle
        self._decoder = StcpDecoder(max_bundle_bytes)
        self._send_lock = trio.Lock()
        self._closed = False
        self._cancel = trio.CancelScope()
        self._last_sent = trio.current_time()

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_bundle(self, data: bytes) -> None:
        await self._write(encode_stcp(data))

    async def _write(self, frame: bytes) -> None:
        if self._closed:
            raise ClaError(f"STCP connection to {self.peer_address} is closed")
        async with self._send_lock:
            try:
                await self._stream.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._closed = True
                self._cancel.cancel()
                raise ClaError(f"STCP connection to {self.peer_address} lost: {exc}") from exc
            self._last_sent = trio.current_time()

    async def close(self, reason: int | None = None) -> None:
        self._closed = True
        self._cancel.cancel()
        await trio.aclose_forcefully(self._stream)

    async def _keepalive_loop(self) -> None:
        while not self._closed:
            due = self._last_sent + self.keepalive_s
            if trio.current_time() >= due:
                try:
                    await self._write(_LENGTH.pack(0))
                except ClaError:
                    return
                continue
            await trio.sleep_until(due)

    async def _receive_loop(self) -> None:
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
                log.info("STCP %s: %s", self.peer_address, exc)
                return
            for bundle in bundles:
                try:
                    await self._on_bundle(bundle, self)
                except DtnError as exc:  # STCP cannot refuse: the bundle is dropped
                    log.info("STCP %s: bundle dropped: %s", self.peer_address, exc)
            if self._decoder.error is not None:
                self.down_reason = str(self._decoder.error)
                log.info("STCP %s: %s", self.peer_address, self._decoder.error)
                return

    async def _run(self) -> None:
        with self._cancel:
            async with trio.open_nursery() as nursery:
                if self.keepalive_s > 0:
                    nursery.start_soon(self._keepalive_loop)
                await self._receive_loop()
                nursery.cancel_scope.cancel()


async def run_stcp_session(
    stream: trio.abc.Stream,
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    peer_address: str = "",
    peer_node_id: str | None = None,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    keepalive_s: float = 0,
    task_status: trio.TaskStatus[StcpLink] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one STCP connection over any stream until the peer closes it or `link.close()`."""
    link = StcpLink(
        stream,
        on_bundle,
        peer_address=peer_address,
        peer_node_id=peer_node_id,
        max_bundle_bytes=max_bundle_bytes,
        keepalive_s=keepalive_s,
    )
    task_status.started(link)
    try:
        if on_link_up is not None:
            await on_link_up(link)
        await link._run()
    finally:
        link._closed = True
        await trio.aclose_forcefully(stream)
        await call_link_down(on_link_down, link, link.down_reason)


async def connect_stcp(
    host: str,
    port: int,
    on_bundle: OnBundle,
    *,
    nursery: trio.Nursery,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    peer_node_id: str | None = None,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    keepalive_s: float = 0,
) -> StcpLink:
    """Connect to an STCP listener (ION's stcpcli, HDTN's STCP induct, or `serve_stcp`)."""
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ClaError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    _set_nodelay(stream)
    return await nursery.start(
        functools.partial(
            run_stcp_session,
            stream,
            on_bundle,
            on_link_up,
            on_link_down,
            peer_address=f"{host}:{port}",
            peer_node_id=peer_node_id,
            max_bundle_bytes=max_bundle_bytes,
            keepalive_s=keepalive_s,
        )
    )


async def serve_stcp(
    on_bundle: OnBundle,
    on_link_up: OnLinkUp | None = None,
    on_link_down: OnLinkDown | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen for STCP connections until cancelled; `task_status.started(port)`."""

    async def run(stream: trio.SocketStream, address: str) -> None:
        await run_stcp_session(
            stream, on_bundle, on_link_up, on_link_down, peer_address=address, max_bundle_bytes=max_bundle_bytes
        )

    await serve_tcp_sessions(run, host=host, port=port, kind="STCP", log=log, task_status=task_status)


__all__ = ["StcpDecoder", "StcpLink", "encode_stcp", "run_stcp_session", "connect_stcp", "serve_stcp"]
