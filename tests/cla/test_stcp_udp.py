"""STCP and UDP convergence layers over real loopback sockets, and STCP's pure framing."""

import functools
import socket
import struct

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.cla.stcp import StcpDecoder, connect_stcp, encode_stcp, serve_stcp
from dtn.cla.udp import UDP_MAX_PAYLOAD_BYTES, dial_udp, serve_udp
from dtn.errors import ClaError, DecodeError

from .conftest import Inbox


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=10), st.integers(1, 64), st.booleans())
def test_stcp_framing_any_chunking(bundles, chunk, keepalives):
    wire = b"".join((b"\0\0\0\0" if keepalives else b"") + encode_stcp(b) for b in bundles)
    dec = StcpDecoder(max_bundle_bytes=300)
    out = []
    for i in range(0, len(wire), chunk):
        out += dec.feed(wire[i : i + chunk])
    assert out == [b for b in bundles if b]  # a zero-length frame is a keepalive, not a bundle
    assert dec.buffered_bytes == 0


def test_stcp_oversized_frame_is_a_decode_error_after_the_good_ones():
    dec = StcpDecoder(max_bundle_bytes=10)
    assert dec.feed(encode_stcp(b"ok") + struct.pack("!I", 11)) == [b"ok"]
    with pytest.raises(DecodeError, match="exceeds the limit of 10"):
        dec.feed(b"x")


async def test_stcp_two_ends_both_ways(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_stcp, inbox.on_bundle, inbox.on_up, inbox.on_down))
    back = Inbox()
    link = await connect_stcp("127.0.0.1", port, back.on_bundle, nursery=nursery, keepalive_s=0.05)
    bundles = [bytes([i]) * (i * 1000 + 1) for i in range(20)] + [b"z" * (2 * 1024 * 1024)]
    for b in bundles:
        await link.send_bundle(b)
    await trio.sleep(0.2)  # keepalives flow meanwhile and are ignored
    await inbox.wait_for(lambda: len(inbox.bundles) == len(bundles))
    assert inbox.bundles == bundles
    await inbox.up[0].send_bundle(b"reply")
    await back.wait_for(lambda: back.bundles == [b"reply"])
    await link.close()
    await inbox.wait_for(lambda: inbox.down)


async def test_stcp_hostile_length_closes_connection_and_listener_goes_on(nursery):
    inbox = Inbox()
    port = await nursery.start(
        functools.partial(serve_stcp, inbox.on_bundle, inbox.on_up, inbox.on_down, max_bundle_bytes=1000)
    )
    s = await trio.open_tcp_stream("127.0.0.1", port)
    await s.send_all(struct.pack("!I", 0xFFFFFFFF) + b"junk")
    with trio.fail_after(5):
        assert await s.receive_some(10) == b""
    await inbox.wait_for(lambda: inbox.down)
    assert "exceeds the limit of 1000" in inbox.down[0][1]
    link = await connect_stcp("127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    await link.send_bundle(b"fine")
    await inbox.wait_for(lambda: inbox.bundles == [b"fine"])


async def test_udp_one_bundle_per_datagram_and_size_limit(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_udp, inbox.on_bundle))
    async with trio.open_nursery() as inner:
        link = await inner.start(functools.partial(dial_udp, "127.0.0.1", port, peer_node_id="ipn:2.0"))
        bundles = [b"datagram %d" % i for i in range(50)] + [b"m" * UDP_MAX_PAYLOAD_BYTES]
        for b in bundles:
            await link.send_bundle(b)
        await inbox.wait_for(lambda: len(inbox.bundles) == len(bundles))
        assert sorted(inbox.bundles) == sorted(bundles)
        with pytest.raises(ClaError, match="bundle of 65508 bytes exceeds the UDP convergence layer limit of 65507"):
            await link.send_bundle(b"m" * (UDP_MAX_PAYLOAD_BYTES + 1))
        await link.close()
    assert inbox.bundles[0] == b"datagram 0"


async def test_udp_listener_drops_oversized_datagram_and_goes_on(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_udp, inbox.on_bundle, max_bundle_bytes=100))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x" * 101, ("127.0.0.1", port))
    s.sendto(b"y" * 100, ("127.0.0.1", port))
    s.close()
    await inbox.wait_for(lambda: inbox.bundles)
    assert inbox.bundles == [b"y" * 100]


async def test_udp_send_to_closed_port_fails_cleanly(nursery):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    async with trio.open_nursery() as inner:
        link = await inner.start(functools.partial(dial_udp, "127.0.0.1", port))
        with pytest.raises(ClaError, match="UDP send to .* failed"):
            for _ in range(10):  # the ICMP "port unreachable" of one datagram fails a later send
                await link.send_bundle(b"anyone?")
                await trio.sleep(0.01)
        assert link.closed
