"""Fixtures for the CLA tests: a trustme CA, node certificates, a running TCPCLv4 server, raw hostile peers."""

from __future__ import annotations

import functools
import struct

import pytest
import trio
import trustme

from dtn.cla import serve_tcpcl
from dtn.cla.tls import client_context, issue_node_certificate, server_context
from dtn.errors import StoreError
from dtn.tcpcl import (
    ContactHeader,
    Keepalive,
    MessageType,
    MsgReject,
    SessInit,
    SessTerm,
    TcpclConfig,
    XferAck,
    XferRefuse,
    encode,
)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def node_cert(ca):
    """node_cert(node_id) -> (cert PEM, key PEM) naming node_id (otherName BundleEID + URI SAN)."""
    cache = {}

    def issue(node_id: str):
        if node_id not in cache:
            cache[node_id] = issue_node_certificate(ca.cert_pem.bytes(), ca.private_key_pem.bytes(), node_id)
        return cache[node_id]

    return issue


@pytest.fixture(scope="session")
def tls_configs(ca, node_cert):
    """tls_configs(node_id, cert_node_id=None, **kw) -> TcpclConfig with server and client TLS contexts."""

    def make(node_id: str, cert_node_id: str | None = None, **kwargs) -> TcpclConfig:
        cert, key = node_cert(cert_node_id or node_id)
        ca_pem = ca.cert_pem.bytes()
        return TcpclConfig(
            node_id,
            can_tls=True,
            ssl_context_server=server_context(cert, key, ca_pem),
            ssl_context_client=client_context(ca_pem, cert, key),
            **kwargs,
        )

    return make


class Inbox:
    """Collects what a server delivers, and the links it saw go up and down."""

    def __init__(self) -> None:
        self.bundles: list[bytes] = []
        self.up = []
        self.down = []
        self.refuse_with: Exception | None = None
        self.changed = trio.Event()

    async def on_bundle(self, data, link):
        if self.refuse_with is not None:
            raise self.refuse_with
        self.bundles.append(data)
        self._poke()

    async def on_up(self, link):
        self.up.append(link)
        self._poke()

    async def on_down(self, link, reason):
        self.down.append((link, reason))
        self._poke()

    def _poke(self):
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, predicate, timeout_s: float = 5.0):
        with trio.fail_after(timeout_s):
            while not predicate():
                await self.changed.wait()


HOSTILE_SERVER = dict(
    keepalive_s=1,
    segment_mru_bytes=64 * 1024,
    transfer_mru_bytes=1024 * 1024,
    max_buffered_bytes=2 * 1024 * 1024,
    session_init_timeout_s=1.5,
    idle_timeout_s=2.5,
    term_timeout_s=1.0,
)


@pytest.fixture
async def server(nursery):
    """A TCPCLv4 listener with small limits and short timers; `.port`, `.inbox`, `.config`."""
    inbox = Inbox()
    config = TcpclConfig("ipn:2.0", **HOSTILE_SERVER)
    port = await nursery.start(
        functools.partial(serve_tcpcl, config, inbox.on_bundle, inbox.on_up, inbox.on_down, port=0)
    )

    class Server:
        pass

    s = Server()
    s.port, s.inbox, s.config = port, inbox, config
    return s


class RawPeer:
    """A hand-driven TCPCLv4 client over a real socket, for hostile tests."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.received = bytearray()

    @classmethod
    async def connect(cls, port: int) -> "RawPeer":
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def handshake(self, keepalive_s: int = 0, node_id: str = "ipn:1.0") -> list:
        await self.send(encode(ContactHeader()) + encode(SessInit(keepalive_s, 1 << 20, 1 << 30, node_id)))
        return await self.read_messages(2)

    async def read_messages(self, count: int, timeout_s: float = 5.0) -> list:
        """Read until `count` whole messages (a contact header counts as one) arrived; return those."""
        with trio.fail_after(timeout_s):
            while True:
                messages, used = decode_stream(bytes(self.received), limit=count)
                if len(messages) == count:
                    del self.received[:used]
                    return messages
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError(f"closed after {messages}")
                self.received += data

    async def read_until_closed(self, timeout_s: float = 5.0) -> tuple[list, bool]:
        """Everything until the server closes (True) or the timeout (False)."""
        closed = False
        with trio.move_on_after(timeout_s):
            try:
                while data := await self.stream.receive_some(65536):
                    self.received += data
                closed = True
            except trio.BrokenResourceError:
                closed = True
        messages, _ = decode_stream(bytes(self.received))
        return messages, closed

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


def decode_stream(data: bytes, limit: int | None = None) -> tuple[list, int]:
    """Test-side decoder of what a TCPCLv4 server sends (no XFER_SEGMENT expected); returns (messages, used)."""
    out, pos = [], 0
    while pos < len(data) and (limit is None or len(out) < limit):
        if data[pos : pos + 4] == b"dtn!":
            if len(data) - pos < 6:
                break
            out.append(ContactHeader(can_tls=bool(data[pos + 5] & 1), version=data[pos + 4]))
            pos += 6
            continue
        mtype = data[pos]
        if mtype == MessageType.SESS_INIT:
            if len(data) - pos < 21:
                break
            ka, seg, xfer, idlen = struct.unpack_from("!HQQH", data, pos + 1)
            end = pos + 21 + idlen + 4
            if len(data) < end:
                break
            (extlen,) = struct.unpack_from("!I", data, end - 4)
            if len(data) < end + extlen:
                break
            out.append(SessInit(ka, seg, xfer, data[pos + 21 : pos + 21 + idlen].decode()))
            pos = end + extlen
        elif mtype == MessageType.XFER_ACK:
            if len(data) - pos < 18:
                break
            flags, tid, length = struct.unpack_from("!BQQ", data, pos + 1)
            out.append(XferAck(tid, length, flags))
            pos += 18
        elif mtype == MessageType.XFER_REFUSE:
            if len(data) - pos < 10:
                break
            reason, tid = struct.unpack_from("!BQ", data, pos + 1)
            out.append(XferRefuse(tid, reason))
            pos += 10
        elif mtype == MessageType.KEEPALIVE:
            out.append(Keepalive())
            pos += 1
        elif mtype in (MessageType.SESS_TERM, MessageType.MSG_REJECT):
            if len(data) - pos < 3:
                break
            a, b = data[pos + 1], data[pos + 2]
            out.append(SessTerm(b, bool(a & 1)) if mtype == MessageType.SESS_TERM else MsgReject(a, b))
            pos += 3
        else:
            raise AssertionError(f"unexpected byte 0x{mtype:02x} from server at {pos}: {data[pos : pos + 16]!r}")
    return out, pos


__all__ = ["Inbox", "RawPeer", "decode_stream", "StoreError"]
