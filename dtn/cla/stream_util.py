"""Stream helpers the Trio CLA adapters share (I/O; public trio API only)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from dtn.errors import ClaError


class PrefixedStream(trio.abc.Stream):
    """A stream that first returns bytes already read from `inner` (the start of a TLS handshake)."""

    def __init__(self, inner: trio.abc.Stream, prefix: bytes) -> None:
        self._inner = inner
        self._prefix = prefix

    async def send_all(self, data) -> None:
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._inner.aclose()


COALESCE_MAX_BYTES = 64 * 1024


def coalesce(chunks: list) -> list:
    """Join runs of small messages into one write; pass big ones (segments) through without copying them."""
    if len(chunks) == 1:
        return chunks
    out: list = []
    small: list[bytes] = []
    for chunk in chunks:
        if type(chunk) is tuple or len(chunk) >= COALESCE_MAX_BYTES:
            if small:
                out.append(b"".join(small))
                small = []
            out.append(chunk)
        else:
            small.append(chunk)
    if small:
        out.append(b"".join(small))
    return out


async def send_message_parts(stream: trio.abc.Stream, parts: tuple[bytes, memoryview]) -> int:
    """Write one message given as (header, data): one sendmsg (writev) per call on a plain TCP stream, so the
    data is not copied and the message is not split into two writes; joined bytes on any other stream."""
    size = len(parts[0]) + len(parts[1])
    if type(stream) is not trio.SocketStream or not hasattr(stream.socket, "sendmsg"):
        await stream.send_all(b"".join(parts))
        return size
    views = [memoryview(parts[0]), parts[1]]
    try:
        while views:
            sent = await stream.socket.sendmsg(views)
            while sent:
                if sent >= len(views[0]):
                    sent -= len(views[0])
                    views.pop(0)
                else:
                    views[0] = views[0][sent:]
                    sent = 0
            views = [v for v in views if len(v)]
    except OSError as exc:
        raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
    return size


def set_nodelay(stream) -> None:
    """Nagle off: a small message must not wait ~40 ms for the previous one's ACK."""
    sock = getattr(stream, "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
        except OSError:
            pass


def peer_address_of(stream: trio.SocketStream) -> str:
    """'host:port' of the far end of an accepted TCP stream ('?' when the socket no longer knows)."""
    try:
        peer = stream.socket.getpeername()
    except OSError:
        return "?"
    return f"{peer[0]}:{peer[1]}"


async def serve_tcp_sessions(
    run_session: Callable[[trio.SocketStream, str], Awaitable[object]],
    *,
    host: str,
    port: int,
    kind: str,
    log: logging.Logger,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept TCP connections until cancelled and run `run_session(stream, peer_address)` for each (TCP_NODELAY
    set); `task_status.started(port)` reports the bound port. One crashed connection is logged and never stops
    the listener. The shared listener of the length-framed CLAs (MTCP, STCP)."""
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise ClaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_port = listeners[0].socket.getsockname()[1]

    async def handle(stream: trio.SocketStream) -> None:
        set_nodelay(stream)
        address = peer_address_of(stream)
        try:
            await run_session(stream, address)
        except Exception:  # one broken connection must not stop the listener
            log.exception("%s connection from %s crashed", kind, address)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        task_status.started(bound_port)
