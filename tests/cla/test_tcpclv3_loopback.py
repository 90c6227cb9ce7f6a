"""TCPCLv3 over real loopback sockets: two spacedtn ends, pyd3tn's TCPCLv3 client, big bundles, refusals."""

import functools

import pytest
import trio

from dtn.cla.tcpclv3 import connect_tcpclv3, serve_tcpclv3
from dtn.errors import ClaError, StoreError
from dtn.tcpclv3 import TcpclV3Config

from .conftest import Inbox


def _pyd3tn():
    """pyd3tn (the `interop` extra), or skip: the newest-versions check runs without it (it pins cbor2 5.8)."""
    pytest.importorskip("pyd3tn.tcpcl")
    import pyd3tn.tcpcl

    return pyd3tn


async def start_server(nursery, config=None, inbox=None):
    inbox = inbox or Inbox()
    config = config or TcpclV3Config("ipn:2.0", keepalive_s=1)
    port = await nursery.start(functools.partial(serve_tcpclv3, config, inbox.on_bundle, inbox.on_up, inbox.on_down))
    return port, inbox


@pytest.mark.parametrize("acks", [True, False])
async def test_two_spacedtn_ends_exchange_bundles_both_ways(nursery, acks):
    port, server_inbox = await start_server(nursery, TcpclV3Config("ipn:2.0", request_acks=acks))
    client_inbox = Inbox()
    link = await connect_tcpclv3(
        TcpclV3Config("ipn:1.0", segment_bytes=1000, request_acks=acks),
        "127.0.0.1",
        port,
        client_inbox.on_bundle,
        nursery=nursery,
    )
    assert link.peer_node_id == "ipn:2.0" and link.session.acks is acks
    bundles = [bytes([i]) * (i * 997) for i in range(1, 30)] + [b"x" * (3 * 1024 * 1024)]
    for b in bundles:
        await link.send_bundle(b)
    await server_inbox.wait_for(lambda: len(server_inbox.bundles) == len(bundles))
    assert server_inbox.bundles == bundles
    server_link = server_inbox.up[0]
    assert server_link.peer_node_id == "ipn:1.0"
    for b in bundles[:5]:
        await server_link.send_bundle(b)
    await client_inbox.wait_for(lambda: len(client_inbox.bundles) == 5)
    assert client_inbox.bundles == bundles[:5]
    await link.close()
    await server_inbox.wait_for(lambda: len(server_inbox.down) == 1)
    assert link.closed


async def test_refused_bundle_raises_and_session_goes_on(nursery):
    port, inbox = await start_server(nursery)
    link = await connect_tcpclv3(TcpclV3Config("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    inbox.refuse_with = StoreError("full")
    with pytest.raises(ClaError, match="refused"):
        await link.send_bundle(b"no room")
    inbox.refuse_with = None
    await link.send_bundle(b"now there is")
    assert inbox.bundles == [b"now there is"]
    await link.close()


async def test_pyd3tn_client_sends_to_us_and_receives(nursery):
    """pyd3tn's TCPCLv3 client (flags 0: no acks, keepalive 0) as an independent peer."""
    pyd3tn = _pyd3tn()
    port, inbox = await start_server(nursery)

    def client():
        with pyd3tn.tcpcl.TCPCLConnection("dtn://pyd3tn/", "127.0.0.1", port, timeout=5) as conn:
            for i in range(10):
                conn.send_bundle(b"bundle %d" % i)
            return conn

    await trio.to_thread.run_sync(client)
    await inbox.wait_for(lambda: len(inbox.bundles) == 10)
    assert inbox.bundles == [b"bundle %d" % i for i in range(10)]
    assert inbox.up[0].peer_node_id == "dtn://pyd3tn/"


async def test_we_send_to_a_pyd3tn_receiver(nursery):
    """We dial; a thread plays pyd3tn's receive side (its contact header, then recv_bundle)."""
    pyd3tn = _pyd3tn()
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def peer():
        sock, _ = listener.accept()
        sock.settimeout(5)
        got = b""
        while len(got) < 9 or len(got) < 9 + got[8]:
            got += sock.recv(1)
        sock.sendall(pyd3tn.tcpcl.serialize_tcpcl_contact_header("dtn://pyd3tn/"))
        conn = pyd3tn.tcpcl.TCPCLConnection("dtn://pyd3tn/", "127.0.0.1", 0, timeout=5)
        conn.sock = sock
        out = [conn.recv_bundle() for _ in range(3)]
        sock.close()
        listener.close()
        return out

    async with trio.open_nursery() as inner:
        result = []

        async def run_peer():
            result.append(await trio.to_thread.run_sync(peer))

        inner.start_soon(run_peer)
        link = await connect_tcpclv3(TcpclV3Config("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
        assert not link.session.acks  # pyd3tn asks for no acks: written is done
        for i in range(3):
            await link.send_bundle(b"to pyd3tn %d" % i)
    assert result == [[b"to pyd3tn %d" % i for i in range(3)]]
