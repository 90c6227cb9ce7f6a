"""Hostile TCPCLv3 peers over real loopback sockets: each ends with SHUTDOWN or a closed connection, never a
hang or unbounded memory, and the listener keeps serving well-behaved peers afterwards."""

import functools

import pytest
import trio

from dtn.cla.tcpclv3 import connect_tcpclv3, serve_tcpclv3
from dtn.tcpclv3 import (
    ContactFlag,
    ContactHeader,
    DataSegment,
    Shutdown,
    ShutdownReason,
    TcpclV3Config,
    encode,
    sdnv_encode,
)

from .conftest import Inbox

SERVER = TcpclV3Config(
    "ipn:2.0", keepalive_s=1, max_bundle_bytes=64 * 1024, contact_timeout_s=1.5, shutdown_timeout_s=1.0
)
HEADER = encode(SERVER and ContactHeader("ipn:2.0", SERVER.flags, 1))


@pytest.fixture
async def v3server(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_tcpclv3, SERVER, inbox.on_bundle, inbox.on_up, inbox.on_down))
    return port, inbox


async def raw(port):
    return await trio.open_tcp_stream("127.0.0.1", port)


async def read_all(stream, timeout_s=5.0):
    out, closed = bytearray(), False
    with trio.move_on_after(timeout_s):
        try:
            while data := await stream.receive_some(65536):
                out += data
            closed = True
        except trio.BrokenResourceError:
            closed = True
    return bytes(out), closed


async def still_serving(port, inbox, nursery):
    before = len(inbox.bundles)
    link = await connect_tcpclv3(TcpclV3Config("ipn:3.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    await link.send_bundle(b"still here")
    assert inbox.bundles[before:] == [b"still here"]
    await link.close()


async def test_http_request_is_closed(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(b"GET / HTTP/1.1\r\n\r\n")
    data, closed = await read_all(s)
    assert closed and data.startswith(HEADER) and data.endswith(encode(Shutdown()))
    await still_serving(port, inbox, nursery)


async def test_tcpclv4_peer_gets_version_mismatch(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(b"dtn!\x04\x00")
    data, closed = await read_all(s)
    assert closed and data == HEADER + encode(Shutdown(ShutdownReason.VERSION_MISMATCH))
    await still_serving(port, inbox, nursery)


async def test_silent_peer_times_out(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    data, closed = await read_all(s, timeout_s=5)
    assert closed and data.startswith(HEADER)
    await still_serving(port, inbox, nursery)


async def test_peer_gone_quiet_after_contact_is_shut_down_idle(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(encode(ContactHeader("ipn:9.0", ContactFlag.REQUEST_ACK, 1)))
    data, closed = await read_all(s, timeout_s=6)
    assert closed and data.endswith(encode(Shutdown(ShutdownReason.IDLE_TIMEOUT)))
    assert b"\x40" in data[len(HEADER) :]  # it sent keepalives first
    await still_serving(port, inbox, nursery)


async def test_oversized_bundle_is_refused_and_session_goes_on(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(encode(ContactHeader("ipn:9.0", ContactFlag.REQUEST_ACK | ContactFlag.ALLOW_REFUSAL, 0)))
    await s.send_all(b"\x12" + sdnv_encode(70_000) + b"x" * 70_000)  # first segment already past the limit
    with trio.fail_after(5):
        got = b""
        while b"\x32" not in got:
            got += await s.receive_some(100)
    await s.send_all(encode(DataSegment(b"small one")))
    await inbox.wait_for(lambda: b"small one" in inbox.bundles)
    await s.aclose()


async def test_terabyte_segment_without_refusal_closes(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(encode(ContactHeader("ipn:9.0", ContactFlag(0), 0)))
    await s.send_all(b"\x13" + sdnv_encode(1 << 40) + b"x" * 1000)
    data, closed = await read_all(s)
    assert closed and data.endswith(encode(Shutdown()))
    await still_serving(port, inbox, nursery)


async def test_garbage_message_type(v3server, nursery):
    port, inbox = v3server
    s = await raw(port)
    await s.send_all(encode(ContactHeader("ipn:9.0", ContactFlag(0), 0)) + b"\x90\x00\x00")
    data, closed = await read_all(s)
    assert closed and data.endswith(encode(Shutdown()))
    await inbox.wait_for(lambda: inbox.down)
    assert "unknown TCPCLv3 message type" in inbox.down[-1][1]
    await still_serving(port, inbox, nursery)
