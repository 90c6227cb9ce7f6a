"""Hostile TCPCLv4 peers over real loopback sockets. Each ends with the right SESS_TERM / MSG_REJECT /
XFER_REFUSE or a closed connection, and the server keeps serving other sessions afterwards."""

import pytest
import trio

from dtn.cla import connect_tcpcl
from dtn.tcpcl import (
    ContactHeader,
    ExtensionItem,
    Keepalive,
    MsgReject,
    MsgRejectReason,
    SessInit,
    SessTerm,
    SessTermReason,
    TcpclConfig,
    XferAck,
    XferRefuse,
    XferRefuseReason,
    XferSegment,
    XferSegmentFlag,
    encode,
)

from .conftest import Inbox, RawPeer

try:
    import pyd3tn.tcpcl
except ModuleNotFoundError:  # the `interop` extra is not installed (e.g. the newest-versions run, cbor2 6)
    pyd3tn = None
needs_pyd3tn = pytest.mark.skipif(pyd3tn is None, reason="pyd3tn (the interop extra) is not installed")

START, END = XferSegmentFlag.START, XferSegmentFlag.END


async def still_serving(server, nursery) -> None:
    """A well-behaved client still gets a bundle through after the hostile one."""
    before = len(server.inbox.bundles)
    link = await connect_tcpcl(TcpclConfig("ipn:3.0"), "127.0.0.1", server.port, Inbox().on_bundle, nursery=nursery)
    await link.send_bundle(b"still here")
    assert server.inbox.bundles[before:] == [b"still here"]
    await link.close()


async def test_wrong_magic_is_closed_without_reply(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.send(b"GET / HTTP/1.1\r\n\r\n")
    messages, closed = await peer.read_until_closed(3)
    assert closed and messages == [] and peer.received == b""
    await still_serving(server, nursery)


@needs_pyd3tn
async def test_tcpcl_version_3_gets_version_mismatch(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.send(bytes(pyd3tn.tcpcl.serialize_tcpcl_contact_header("dtn://hostile/")))
    messages, closed = await peer.read_until_closed(3)
    assert messages == [ContactHeader(), SessTerm(SessTermReason.VERSION_MISMATCH)]
    assert closed
    await still_serving(server, nursery)


@needs_pyd3tn
async def test_pyd3tn_v3_client_is_refused(server):
    """pyd3tn's TCPCLv3 client sees our version 4 and gives up (its own check)."""

    def attempt():
        conn = pyd3tn.tcpcl.TCPCLConnection("dtn://pyd3tn/", "127.0.0.1", server.port, timeout=3)
        try:
            conn.connect()
        finally:
            conn.sock.close()

    with pytest.raises(ValueError, match="v3"):
        await trio.to_thread.run_sync(attempt)


async def test_oversize_segment_ends_with_resource_exhaustion(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    header_only = encode(XferSegment(0, b"", START | END))[:-8] + (1 << 60).to_bytes(8, "big")
    await peer.send(header_only)
    messages, closed = await peer.read_until_closed(3)
    assert messages == [SessTerm(SessTermReason.RESOURCE_EXHAUSTION)] and closed
    await still_serving(server, nursery)


async def test_segment_without_start_is_rejected_and_session_goes_on(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await peer.send(encode(XferSegment(0, b"orphan", END)))
    assert await peer.read_messages(1) == [MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x01)]
    await peer.send(encode(XferSegment(1, b"fine")))
    assert await peer.read_messages(1) == [XferAck(1, 4, START | END)]
    await server.inbox.wait_for(lambda: server.inbox.bundles == [b"fine"])
    await peer.aclose()


async def test_reused_transfer_id_is_rejected(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await peer.send(encode(XferSegment(7, b"one")))
    assert await peer.read_messages(1) == [XferAck(7, 3, START | END)]
    await peer.send(encode(XferSegment(7, b"two")))
    assert await peer.read_messages(1) == [MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x01)]
    assert server.inbox.bundles == [b"one"]
    await peer.aclose()


async def test_unknown_critical_extensions(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    critical = (ExtensionItem(0x4242, b"?", critical=True),)
    await peer.send(encode(XferSegment(0, b"bundle", START | END, critical)))
    assert await peer.read_messages(1) == [XferRefuse(0, XferRefuseReason.EXTENSION_FAILURE)]
    await peer.aclose()
    # an unknown critical *session* extension ends the session with CONTACT_FAILURE
    peer = await RawPeer.connect(server.port)
    await peer.send(encode(ContactHeader()) + encode(SessInit(0, 1 << 20, 1 << 20, "ipn:1.0", critical)))
    messages, closed = await peer.read_until_closed(3)
    assert messages[0] == ContactHeader() and isinstance(messages[1], SessInit)
    assert messages[2:] == [SessTerm(SessTermReason.CONTACT_FAILURE)] and closed
    await still_serving(server, nursery)


async def test_sess_init_twice_is_unexpected(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await peer.send(encode(SessInit(0, 1 << 20, 1 << 20, "ipn:1.0")))
    assert await peer.read_messages(1) == [MsgReject(MsgRejectReason.MESSAGE_UNEXPECTED, 0x07)]
    await peer.send(encode(SessTerm(SessTermReason.UNKNOWN)))
    messages, closed = await peer.read_until_closed(3)
    assert messages == [SessTerm(SessTermReason.UNKNOWN, reply=True)] and closed


async def test_slowloris_contact_header_is_cut_off(server, nursery):
    peer = await RawPeer.connect(server.port)
    start = trio.current_time()
    with trio.move_on_after(4):
        try:
            for byte in encode(ContactHeader()):
                await peer.send(bytes([byte]))
                await trio.sleep(1.0)
        except trio.BrokenResourceError:
            pass
    messages, closed = await peer.read_until_closed(2)
    assert closed
    assert trio.current_time() - start < server.config.session_init_timeout_s + 2.5
    await still_serving(server, nursery)


async def test_endless_keepalives_end_with_idle_timeout(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake(keepalive_s=1)
    got = []
    with trio.move_on_after(5):
        while True:
            await peer.send(encode(Keepalive()))
            with trio.move_on_after(0.5):
                got += await peer.read_messages(1)
            if SessTerm(SessTermReason.IDLE_TIMEOUT) in got:
                break
    assert SessTerm(SessTermReason.IDLE_TIMEOUT) in got
    await peer.send(encode(SessTerm(SessTermReason.IDLE_TIMEOUT, reply=True)))
    _, closed = await peer.read_until_closed(3)
    assert closed


async def test_keepalive_expiry_when_the_peer_goes_silent(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake(keepalive_s=1)
    messages, closed = await peer.read_until_closed(5)
    # the server keeps its side alive, then gives up after 2 x keepalive without a message from us
    assert Keepalive() in messages
    assert messages[-1] == SessTerm(SessTermReason.IDLE_TIMEOUT) and closed


async def test_abrupt_close_mid_transfer_delivers_nothing(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await peer.send(encode(XferSegment(0, b"x" * 1000, START))[:500])
    await server.inbox.wait_for(lambda: len(server.inbox.up) == 1)
    await peer.aclose()
    await server.inbox.wait_for(lambda: len(server.inbox.down) == 1)
    assert server.inbox.bundles == []
    assert server.inbox.down[0][0].session.buffered_bytes == 0
    await still_serving(server, nursery)


async def test_flood_beyond_transfer_mru_is_refused_and_memory_stays_bounded(server):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await server.inbox.wait_for(lambda: len(server.inbox.up) == 1)
    link = server.inbox.up[0]
    chunk = b"f" * (60 * 1024)
    highest = 0
    await peer.send(encode(XferSegment(0, chunk, START)))
    for _ in range(40):  # 2.4 MB against a 1 MiB transfer MRU
        await peer.send(encode(XferSegment(0, chunk, XferSegmentFlag.NONE)))
        highest = max(highest, link.session.buffered_bytes)
    await peer.send(encode(XferSegment(0, b"", END)))
    messages = []
    with trio.fail_after(5):
        while XferRefuse(0, XferRefuseReason.NO_RESOURCES) not in messages:
            messages += await peer.read_messages(1)
    assert highest <= server.config.transfer_mru_bytes
    assert server.inbox.bundles == []
    await peer.aclose()


async def test_unknown_message_type_gets_msg_reject_and_close(server, nursery):
    peer = await RawPeer.connect(server.port)
    await peer.handshake()
    await peer.send(b"\x42junk")
    messages, closed = await peer.read_until_closed(3)
    assert messages == [MsgReject(MsgRejectReason.MESSAGE_TYPE_UNKNOWN, 0x42)] and closed
    await still_serving(server, nursery)


async def test_many_hostile_sessions_at_once_do_not_stop_the_server(server, nursery):
    async def garbage():
        peer = await RawPeer.connect(server.port)
        await peer.send(b"dtn!\x04\x00" + b"\x07" + b"\xff" * 40)
        await peer.read_until_closed(3)

    async with trio.open_nursery() as inner:
        for _ in range(20):
            inner.start_soon(garbage)
    await still_serving(server, nursery)


async def test_peer_that_never_reads_cannot_pin_the_session(server):
    """A peer floods segments and never reads our acks or keepalives: the session still ends by its timers."""
    peer = await RawPeer.connect(server.port)
    peer.stream.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, 4096)
    await peer.handshake(keepalive_s=1)
    await server.inbox.wait_for(lambda: len(server.inbox.up) == 1)
    tiny = b"".join(encode(XferSegment(i, b"")) for i in range(1, 20_001))  # 20k acks the peer never reads
    with trio.move_on_after(2):
        try:
            await peer.send(tiny)
        except trio.BrokenResourceError:
            pass
    await server.inbox.wait_for(lambda: server.inbox.down, timeout_s=15)
    await peer.aclose()
