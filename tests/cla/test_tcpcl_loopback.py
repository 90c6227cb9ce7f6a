"""Two TCPCLv4 sessions talking over real loopback sockets (and in-memory streams in virtual time)."""

import functools
import hashlib

import pytest
import trio
import trio.testing

from dtn.cla import Link, connect_tcpcl, open_link_over_stream, serve_tcpcl
from dtn.errors import ClaError, DecodeError, StoreError
from dtn.tcpcl import MiB, Role, SessTermReason, TcpclConfig

from .conftest import Inbox


async def start_server(nursery, config, inbox):
    return await nursery.start(functools.partial(serve_tcpcl, config, inbox.on_bundle, inbox.on_up, inbox.on_down))


async def test_bundles_both_ways_with_link_up_and_down(nursery):
    server_inbox, client_inbox = Inbox(), Inbox()
    port = await start_server(nursery, TcpclConfig("ipn:2.0"), server_inbox)
    link = await connect_tcpcl(
        TcpclConfig("ipn:1.0"),
        "127.0.0.1",
        port,
        client_inbox.on_bundle,
        nursery=nursery,
        on_link_up=client_inbox.on_up,
        on_link_down=client_inbox.on_down,
    )
    assert isinstance(link, Link)
    assert link.peer_node_id == "ipn:2.0" and not link.tls
    await server_inbox.wait_for(lambda: server_inbox.up)
    server_link = server_inbox.up[0]
    assert server_link.peer_node_id == "ipn:1.0"
    await link.send_bundle(b"to server")
    await server_link.send_bundle(b"to client")
    assert server_inbox.bundles == [b"to server"] and client_inbox.bundles == [b"to client"]
    await link.close()
    assert link.closed
    await server_inbox.wait_for(lambda: server_inbox.down)
    assert server_inbox.down[0][1] is None  # clean SESS_TERM exchange
    assert client_inbox.down == [(link, None)]
    with pytest.raises(ClaError):
        await link.send_bundle(b"after close")


async def test_pipelined_concurrent_sends_all_arrive_in_order_of_transfer(nursery):
    inbox = Inbox()
    port = await start_server(nursery, TcpclConfig("ipn:2.0"), inbox)
    link = await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    async with trio.open_nursery() as senders:
        for i in range(200):
            senders.start_soon(link.send_bundle, b"%d" % i)
    assert sorted(inbox.bundles, key=int) == [b"%d" % i for i in range(200)]


@pytest.mark.parametrize("size_bytes", [1 * MiB, 100 * MiB], ids=["1MiB", "100MiB"])
async def test_large_transfers(nursery, size_bytes):
    inbox = Inbox()
    big = dict(transfer_mru_bytes=128 * MiB, max_buffered_bytes=256 * MiB)
    port = await start_server(nursery, TcpclConfig("ipn:2.0", **big), inbox)
    link = await connect_tcpcl(TcpclConfig("ipn:1.0", **big), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    data = (hashlib.sha256(b"seed").digest() * (size_bytes // 32 + 1))[:size_bytes]
    with trio.fail_after(60):
        await link.send_bundle(data)
    assert len(inbox.bundles) == 1
    assert hashlib.sha256(inbox.bundles[0]).digest() == hashlib.sha256(data).digest()
    del data
    inbox.bundles.clear()


async def test_bundle_larger_than_peer_transfer_mru_is_a_cla_error(nursery):
    port = await start_server(nursery, TcpclConfig("ipn:2.0", transfer_mru_bytes=1000), Inbox())
    link = await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    with pytest.raises(ClaError, match="transfer MRU"):
        await link.send_bundle(b"x" * 1001)
    await link.send_bundle(b"x" * 1000)


async def test_final_ack_only_after_the_node_stored_the_bundle(nursery):
    stored = trio.Event()
    release = trio.Event()
    received = []

    async def slow_store(data, link):
        received.append(data)
        stored.set()
        await release.wait()  # the node is writing to disk

    port = await nursery.start(functools.partial(serve_tcpcl, TcpclConfig("ipn:2.0"), slow_store))
    link = await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    done = trio.Event()

    async def send():
        await link.send_bundle(b"precious")
        done.set()

    nursery.start_soon(send)
    await stored.wait()
    await trio.sleep(0.2)
    assert not done.is_set()  # not acknowledged while the node has not returned
    release.set()
    with trio.fail_after(5):
        await done.wait()


@pytest.mark.parametrize(
    "error, reason", [(StoreError("disk full", 4), "NO_RESOURCES"), (DecodeError("bad"), "NOT_ACCEPTABLE")]
)
async def test_node_refusal_becomes_xfer_refuse_and_cla_error(nursery, error, reason):
    inbox = Inbox()
    inbox.refuse_with = error
    port = await start_server(nursery, TcpclConfig("ipn:2.0"), inbox)
    link = await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    with pytest.raises(ClaError, match=reason):
        await link.send_bundle(b"unwanted")
    inbox.refuse_with = None
    await link.send_bundle(b"wanted")  # the session survives a refusal
    assert inbox.bundles == [b"wanted"]


async def test_tls_session_with_node_id_certificates(nursery, tls_configs):
    inbox = Inbox()
    port = await start_server(nursery, tls_configs("ipn:2.0", require_tls=True), inbox)
    link = await connect_tcpcl(tls_configs("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    assert link.tls and link.peer_node_id == "ipn:2.0"
    await link.send_bundle(b"secret" * 1000)
    assert inbox.bundles == [b"secret" * 1000]
    await inbox.wait_for(lambda: inbox.up)
    assert inbox.up[0].tls and inbox.up[0].peer_node_id == "ipn:1.0"
    await link.close()


async def test_server_certificate_not_matching_its_node_id_is_refused(nursery, tls_configs):
    inbox = Inbox()
    port = await start_server(nursery, tls_configs("ipn:2.0", cert_node_id="ipn:666.0"), inbox)
    with pytest.raises(ClaError, match="not authenticated"):
        await connect_tcpcl(tls_configs("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    assert inbox.bundles == []


async def test_client_certificate_not_matching_its_node_id_is_refused(nursery, tls_configs):
    inbox = Inbox()
    port = await start_server(nursery, tls_configs("ipn:2.0"), inbox)
    client_inbox = Inbox()
    try:
        link = await connect_tcpcl(
            tls_configs("ipn:1.0", cert_node_id="ipn:9.0"),
            "127.0.0.1",
            port,
            client_inbox.on_bundle,
            nursery=nursery,
            on_link_down=client_inbox.on_down,
        )
    except ClaError:
        pass  # refused during the handshake
    else:
        # both SESS_INITs crossed: the server's SESS_TERM(CONTACT_FAILURE) ends it right away
        await client_inbox.wait_for(lambda: client_inbox.down)
        assert "CONTACT_FAILURE" in client_inbox.down[0][1]
        with pytest.raises(ClaError):
            await link.send_bundle(b"x")
    assert inbox.up == [] and inbox.bundles == []


async def test_require_tls_refuses_a_plain_client(nursery, tls_configs):
    port = await start_server(nursery, tls_configs("ipn:2.0", require_tls=True), Inbox())
    with pytest.raises(ClaError, match="CONTACT_FAILURE"):
        await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)


async def test_tls_handshake_failure_with_an_untrusted_ca(nursery, tls_configs):
    import trustme

    from dtn.cla.tls import client_context

    port = await start_server(nursery, tls_configs("ipn:2.0"), Inbox())
    other_ca = trustme.CA()
    base = tls_configs("ipn:1.0")
    config = TcpclConfig("ipn:1.0", can_tls=True, ssl_context_client=client_context(other_ca.cert_pem.bytes()))
    assert base.can_tls
    with pytest.raises(ClaError, match="TLS"):
        await connect_tcpcl(config, "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)


async def test_connection_refused_is_a_cla_error():
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with trio.open_nursery() as nursery:
        with pytest.raises(ClaError, match="cannot connect"):
            await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)


async def test_busy_server_answers_sess_term_busy(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_tcpcl, TcpclConfig("ipn:2.0"), inbox.on_bundle, max_sessions=1))
    first = await connect_tcpcl(TcpclConfig("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    with pytest.raises(ClaError, match="BUSY"):
        await connect_tcpcl(TcpclConfig("ipn:3.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    await first.send_bundle(b"first still works")


async def test_in_memory_streams_in_virtual_time(autojump_clock):
    """The digital twin's path: real TCPCLv4 bytes over memory streams, keepalives driven by MockClock."""
    a_inbox, b_inbox = Inbox(), Inbox()
    left, right = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        a_link, b_link = None, None

        async def open_b():
            nonlocal b_link
            b_link = await open_link_over_stream(
                right,
                TcpclConfig("ipn:2.0", keepalive_s=30),
                Role.PASSIVE,
                b_inbox.on_bundle,
                nursery=nursery,
                on_link_down=b_inbox.on_down,
            )

        nursery.start_soon(open_b)
        a_link = await open_link_over_stream(
            left,
            TcpclConfig("ipn:1.0", keepalive_s=30),
            Role.ACTIVE,
            a_inbox.on_bundle,
            nursery=nursery,
            on_link_down=a_inbox.on_down,
        )
        start = trio.current_time()
        await trio.sleep(3600)  # an hour of virtual time: keepalives keep the session up
        assert not a_link.closed and a_link.keepalive_s == 30
        await a_link.send_bundle(b"an hour later")
        assert b_inbox.bundles == [b"an hour later"]
        await a_link.close(SessTermReason.UNKNOWN)
        assert trio.current_time() - start >= 3600
        nursery.cancel_scope.cancel()


async def test_in_memory_keepalive_expiry_in_virtual_time(autojump_clock):
    """A peer whose keepalives stop (a stalled link) is dropped after 2 x keepalive, in virtual time."""
    inbox = Inbox()
    left, right = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:

        async def silent_peer():
            # speaks the handshake, then never sends again (but keeps reading)
            from dtn.tcpcl import ContactHeader, SessInit, encode

            await right.receive_some(6)
            await right.send_all(encode(ContactHeader()) + encode(SessInit(10, 1 << 20, 1 << 20, "ipn:2.0")))
            while await right.receive_some(65536):
                pass

        nursery.start_soon(silent_peer)
        link = await open_link_over_stream(
            left,
            TcpclConfig("ipn:1.0", keepalive_s=10, term_timeout_s=1.0),
            Role.ACTIVE,
            inbox.on_bundle,
            nursery=nursery,
            on_link_down=inbox.on_down,
        )
        start = trio.current_time()
        await inbox.wait_for(lambda: inbox.down, timeout_s=100)
        assert 20 <= trio.current_time() - start <= 22
        assert "IDLE_TIMEOUT" in inbox.down[0][1]
        assert link.closed
        nursery.cancel_scope.cancel()
